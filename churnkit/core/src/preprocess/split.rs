//! The rows a model learns from and the rows it is judged on: duplicates dropped, then a
//! stratified split, seeded, with what cleaning did recorded beside it.

use crate::data::schema::{target_classes, Schema};
use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Split settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SplitOptions {
    /// Fraction of rows (per class) in the test set.
    pub test_size: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            test_size: 0.2,
            seed: 42,
        }
    }
}

impl SplitOptions {
    /// `test_size` of each class held out, shuffled with `seed`.
    pub fn new(test_size: f64, seed: u64) -> Self {
        SplitOptions { test_size, seed }
    }

    fn check(&self) -> Result<()> {
        if self.test_size > 0.0 && self.test_size < 1.0 {
            Ok(())
        } else {
            Err(Error::params(format!(
                "test size {} must be between 0 and 1",
                self.test_size
            )))
        }
    }
}

/// The split that was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    /// Settings.
    #[serde(flatten)]
    pub options: SplitOptions,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Class-1 rows in training.
    pub train_positive: usize,
    /// Class-1 rows in test.
    pub test_positive: usize,
}

/// What cleaning found and did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CleaningReport {
    /// Missing cells (blank or a missing marker) per schema column, before de-duplication.
    pub missing: BTreeMap<String, usize>,
    /// Values outside the column's valid range (then treated as missing), per column, before
    /// de-duplication.
    #[serde(default)]
    pub out_of_range: BTreeMap<String, usize>,
    /// Exact duplicate rows removed.
    pub duplicates_dropped: usize,
    /// Missing values filled from a product of columns, per column (kept rows).
    pub filled_from_product: BTreeMap<String, usize>,
    /// Missing values filled with the training median, per column (kept rows).
    pub filled_with_median: BTreeMap<String, usize>,
    /// Missing values left for the forest, per numeric column (kept rows).
    #[serde(default)]
    pub left_missing: BTreeMap<String, usize>,
    /// Values clipped to the fences, per column.
    pub clipped: BTreeMap<String, usize>,
    /// Columns in the file that the schema does not use.
    pub ignored_columns: Vec<String>,
}

/// The rows of a table after de-duplication, split in two, stratified by the target. Only
/// [`Split::stratified`] makes one, and it belongs to the table it was made on (checked by the
/// steps that take both).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub(super) options: SplitOptions,
    pub(super) target: TargetEncoding,
    pub(super) labels: Vec<u8>,
    pub(super) kept: Vec<usize>,
    pub(super) train: Vec<usize>,
    pub(super) test: Vec<usize>,
    pub(super) cleaning: CleaningReport,
    table_sha256: String,
}

impl Split {
    /// Check `table` against `schema`, drop exact duplicate rows (over every column, as pandas'
    /// `drop_duplicates`), then hold out `options.test_size` of each class, shuffled with
    /// `options.seed`.
    pub fn stratified(table: &Table, schema: &Schema, options: SplitOptions) -> Result<Split> {
        schema.check()?;
        options.check()?;
        let ignored_columns = schema.validate(table)?;
        let classes = target_classes(table, &schema.target, schema)?;
        let Some(pos_idx) = classes.iter().position(|c| *c == schema.positive) else {
            return Err(table.bad_column(
                &schema.target,
                format!(
                    "positive class '{}' not found (values: {})",
                    schema.positive,
                    classes.join(", ")
                ),
            ));
        };
        let negative = classes[1 - pos_idx].clone();
        let labels: Vec<u8> = table
            .column(&schema.target)?
            .iter()
            .map(|c| u8::from(*c == Some(schema.positive.as_str())))
            .collect();

        let mut cleaning = CleaningReport {
            ignored_columns,
            ..Default::default()
        };
        for c in schema
            .id_columns
            .iter()
            .chain(&schema.numeric)
            .chain(&schema.categorical)
        {
            cleaning
                .missing
                .insert(c.clone(), schema.count_missing(table, c)?);
        }

        let kept = table.distinct_rows().to_vec();
        cleaning.duplicates_dropped = table.n_rows() - kept.len();

        let mut rng = Rng::new(options.seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (class, label) in [(0u8, &negative), (1u8, &schema.positive)] {
            let mut idx: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|&i| labels[i] == class)
                .collect();
            if idx.len() < 2 {
                return Err(table.bad_column(
                    &schema.target,
                    format!(
                        "class '{label}' has {} row(s) after removing duplicates; a stratified split needs at least 2 per class",
                        idx.len()
                    ),
                ));
            }
            rng.shuffle(&mut idx);
            let n_test =
                ((idx.len() as f64 * options.test_size).round() as usize).clamp(1, idx.len() - 1);
            test.extend_from_slice(&idx[..n_test]);
            train.extend_from_slice(&idx[n_test..]);
        }
        train.sort_unstable();
        test.sort_unstable();
        Ok(Split {
            options,
            target: TargetEncoding {
                column: schema.target.clone(),
                positive: schema.positive.clone(),
                negative,
            },
            labels,
            kept,
            train,
            test,
            cleaning,
            table_sha256: table.sha256().to_string(),
        })
    }

    /// `k` splits of the same rows for stratified k-fold cross-validation: split `i` tests on
    /// fold `i` and trains on the others (folds from [`stratified_folds`] over the rows kept
    /// after de-duplication, shuffled with `seed`). The same checks and cleaning as
    /// [`Split::stratified`].
    pub fn folds(table: &Table, schema: &Schema, k: usize, seed: u64) -> Result<Vec<Split>> {
        let base = Split::stratified(table, schema, SplitOptions::new(0.5, seed))?;
        let kept_labels: Vec<u8> = base.kept.iter().map(|&i| base.labels[i]).collect();
        let fold_of = stratified_folds(&kept_labels, k, seed)
            .map_err(|e| table.bad_column(&schema.target, e.to_string()))?;
        Ok((0..k)
            .map(|f| {
                let (mut train, mut test) = (Vec::new(), Vec::new());
                for (&row, &g) in base.kept.iter().zip(&fold_of) {
                    if g == f {
                        test.push(row);
                    } else {
                        train.push(row);
                    }
                }
                Split {
                    options: SplitOptions::new(1.0 / k as f64, seed),
                    train,
                    test,
                    ..base.clone()
                }
            })
            .collect())
    }

    /// The settings.
    pub fn options(&self) -> SplitOptions {
        self.options
    }

    /// How the target's text maps to 0/1.
    pub fn target(&self) -> &TargetEncoding {
        &self.target
    }

    /// The 0/1 label of every row of the table.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Rows kept after removing exact duplicates, ascending.
    pub fn kept(&self) -> &[usize] {
        &self.kept
    }

    /// Training rows, ascending.
    pub fn train(&self) -> &[usize] {
        &self.train
    }

    /// Test rows, ascending.
    pub fn test(&self) -> &[usize] {
        &self.test
    }

    /// Missing values, duplicates and ignored columns (impossible-value, fill and clip counts
    /// are added by [`Preprocessor::fit`]).
    pub fn cleaning(&self) -> &CleaningReport {
        &self.cleaning
    }

    /// An error unless `table` is the one this split was made on.
    pub(super) fn check_table(&self, table: &Table) -> Result<()> {
        if self.labels.len() == table.n_rows() && self.table_sha256 == table.sha256() {
            Ok(())
        } else {
            Err(Error::params(format!(
                "the split was made on another table ({} rows, sha256 {}) than this one ({} rows, sha256 {})",
                self.labels.len(),
                &self.table_sha256[..12],
                table.n_rows(),
                &table.sha256()[..12]
            )))
        }
    }

    /// Sizes and class counts of both sides.
    pub fn info(&self) -> SplitInfo {
        let positives = |rows: &[usize]| rows.iter().filter(|&&i| self.labels[i] == 1).count();
        SplitInfo {
            options: self.options,
            train_rows: self.train.len(),
            test_rows: self.test.len(),
            train_positive: positives(&self.train),
            test_positive: positives(&self.test),
        }
    }
}

/// How the target's text maps to 0/1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetEncoding {
    /// Column name.
    pub column: String,
    /// The value that becomes 1.
    pub positive: String,
    /// The value that becomes 0.
    pub negative: String,
}

impl TargetEncoding {
    /// The 0/1 labels of `column` in `table` (1 for the positive value); any other value is an
    /// error naming the file, column and row.
    pub fn labels_of(&self, table: &Table, column: &str) -> Result<Vec<u8>> {
        let cells = table.column(column)?;
        let mut out = Vec::with_capacity(cells.len());
        for (row, c) in cells.iter().enumerate() {
            match c {
                Some(v) if *v == self.positive => out.push(1),
                Some(v) if *v == self.negative => out.push(0),
                other => {
                    return Err(table.bad_value(
                        column,
                        row,
                        format!(
                            "label {:?} is neither '{}' nor '{}'",
                            other.unwrap_or(""),
                            self.positive,
                            self.negative
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// The fold (`0..k`) of each row for stratified k-fold cross-validation. Each class is
/// shuffled with `seed`; then the classes are laid end to end and dealt round robin, which is how
/// scikit-learn's `StratifiedKFold` allocates rows to folds: every fold gets the same number of
/// each class, to within one, and the same counts scikit-learn gives.
///
/// ```
/// let y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
/// let f = churnkit_core::preprocess::stratified_folds(&y, 2, 7).unwrap();
/// let ones = |k| (0..10).filter(|&i| f[i] == k && y[i] == 1).count();
/// assert_eq!((ones(0), ones(1)), (2, 2));
/// ```
pub fn stratified_folds(labels: &[u8], k: usize, seed: u64) -> Result<Vec<usize>> {
    if k < 2 {
        return Err(Error::params(format!(
            "cross-validation needs at least 2 folds, got {k}"
        )));
    }
    let mut rng = Rng::new(seed);
    let mut order = Vec::with_capacity(labels.len());
    for class in [0u8, 1] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        if idx.len() < k {
            return Err(Error::params(format!(
                "{k} folds need at least {k} rows of each class; class {class} has {}",
                idx.len()
            )));
        }
        rng.shuffle(&mut idx);
        order.extend(idx);
    }
    let mut fold = vec![0; labels.len()];
    for (p, &row) in order.iter().enumerate() {
        fold[row] = p % k;
    }
    Ok(fold)
}
