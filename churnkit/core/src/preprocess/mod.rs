//! Phase 2 of the workflow: validate, clean, split, then fit the transforms on the training rows.
//!
//! Order matters for honest numbers. Duplicates are dropped first, then the stratified split is
//! made, and only then are the scaler (and, when asked for, fill medians and clipping bounds)
//! fitted, on the training rows alone, so nothing about the test rows leaks into the features
//! the model sees. Missing values (blank cells, missing markers, impossible values) stay
//! missing, as NaN, for the forest to handle; a category `predict` has never seen is missing too. The fitted
//! state ([`Preprocessor`]) is a value that serialises to versioned JSON; `predict` applies
//! exactly the same transform to new rows.
//!
//! Each step is a value, and [`Processed::fit`] chains them:
//!
//! ```
//! use churnkit_core::{preprocess::{Preprocessor, Processed, Split, SplitOptions}, schema::Schema, table::Table};
//! let (csv, _) = churnkit_core::generate::generate_rows(200, 1);
//! let table = Table::from_csv_bytes(csv, "sample.csv")?;
//! let schema = Schema::infer(&table, "Churn", None)?;
//! let split = Split::stratified(&table, &schema, SplitOptions::default())?;   // dedup + split
//! let state = Preprocessor::fit(&table, &schema, &split)?;                    // training rows only
//! let data = Processed::from_split(&table, &split, state)?;                    // features, labels
//! assert_eq!(data.x_train.n_rows() + data.x_test.n_rows(), 200 - split.cleaning().duplicates_dropped);
//! assert_eq!(data, Processed::fit(&table, &schema, SplitOptions::default())?);
//! # Ok::<(), churnkit_core::Error>(())
//! ```

use crate::data::frame::Frame;
use crate::data::schema::{target_classes, MissingNumeric, Schema};
use crate::data::table::{FastHash, Table};
use crate::error::{few, Error, Result};
use crate::rng::Rng;
use crate::stats::{mean_std, quantile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The `format` tag of a preprocessor file.
pub const FORMAT: &str = "churnkit-preprocessor";
/// The version of the preprocessor file layout this build reads and writes.
/// Version 2: missing values pass through as NaN for the forest; unseen categories become
/// missing; valid ranges, excluded columns and missing markers in the schema.
pub const FORMAT_VERSION: u32 = 2;

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

/// How missing values in a numeric column are filled; what is left stays missing (NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericFill {
    /// Fill from the product of these two columns where both are present.
    pub product_of: Option<[String; 2]>,
    /// Otherwise the median of the training rows, when the schema asks for it.
    pub median: Option<f64>,
}

/// Tukey-fence clipping bounds, from the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Fence multiplier.
    pub k: f64,
    /// Values below are raised to this.
    pub lower: f64,
    /// Values above are lowered to this.
    pub upper: f64,
}

/// The category a boolean written another way stands for: a Parquet file or a DataFrame holds
/// `true`/`false` where the training CSV held `True`/`False` (or `TRUE`). Only the two words, and
/// only when exactly one category spells the word that way.
fn boolean_spelling(categories: &[String], v: &str) -> Option<usize> {
    if !(v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")) {
        return None;
    }
    let mut hits = categories
        .iter()
        .enumerate()
        .filter(|(_, c)| c.eq_ignore_ascii_case(v));
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// The fitted transform of one feature.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureTransform {
    /// impossible values to missing -> fill -> clip -> standard-scale; missing stays NaN.
    Numeric {
        /// Column name.
        name: String,
        /// Values outside are missing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid: Option<crate::data::schema::ValidRange>,
        /// Missing-value handling.
        fill: NumericFill,
        /// Outlier bounds (absent when clipping is off or the IQR is 0).
        clip: Option<Clip>,
        /// Mean of the present values after fill and clip (training rows).
        mean: f64,
        /// Their population standard deviation; 1 when it was 0.
        std: f64,
    },
    /// Category -> integer code (index in `categories`, which is sorted); missing -> NaN.
    Categorical {
        /// Column name.
        name: String,
        /// Known categories (present values of the kept rows).
        categories: Vec<String>,
        /// Most frequent training category: the fallback for unseen values when allowed.
        most_frequent: String,
    },
}

impl FeatureTransform {
    /// The column this transform reads.
    pub fn name(&self) -> &str {
        match self {
            FeatureTransform::Numeric { name, .. } | FeatureTransform::Categorical { name, .. } => {
                name
            }
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

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Path as given, or `(DataFrame)` for a table built in memory.
    pub file: String,
    /// SHA-256 of the content ([`Table::sha256`]): the file's bytes for a CSV.
    pub sha256: String,
    /// Data rows in the file.
    pub rows: usize,
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

/// The fitted preprocessing state (saved by the CLI as `data/processed/preprocessor.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The churnkit version that wrote it.
    pub churnkit_version: String,
    /// The schema used.
    pub schema: Schema,
    /// Target mapping.
    pub target: TargetEncoding,
    /// One transform per feature, in model column order.
    pub features: Vec<FeatureTransform>,
    /// The input file.
    pub input: InputInfo,
    /// The split.
    pub split: SplitInfo,
    /// The cleaning report.
    pub cleaning: CleaningReport,
}

/// Features and labels of both sides of a split, with the state that made them: what a model is
/// trained and evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The fitted state.
    pub state: Preprocessor,
    /// Training features.
    pub x_train: Frame,
    /// Training labels.
    pub y_train: Vec<u8>,
    /// Test features.
    pub x_test: Frame,
    /// Test labels.
    pub y_test: Vec<u8>,
}

/// What to do with a category `predict` has never seen.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownCategory {
    /// Treat it as missing (counted in the [`TransformReport`]).
    #[default]
    Missing,
    /// Fail, naming file, column, line and value.
    Error,
    /// Use the most frequent training category.
    MostFrequent,
}

/// What [`Preprocessor::transform_report`] found in the rows it transformed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TransformReport {
    /// Rows transformed.
    pub rows: usize,
    /// Missing cells (blank or a marker) per feature column.
    pub missing: BTreeMap<String, usize>,
    /// Impossible values (outside the valid range, then missing) per numeric column.
    pub out_of_range: BTreeMap<String, usize>,
    /// Categories never seen in training, per categorical column.
    pub unseen: BTreeMap<String, Unseen>,
}

/// Unseen categories of one column.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Unseen {
    /// Cells with an unseen category.
    pub count: usize,
    /// The first few distinct unseen values.
    pub examples: Vec<String>,
}

/// Parsed feature inputs of a table, shared by fitting and by `predict`: impossible values are
/// already missing here. A missing number is NaN (a parsed cell is always finite): 8 bytes a
/// cell instead of 16, which at 10M rows is 80 MB a column.
struct Inputs<'a> {
    numeric: HashMap<&'a str, Vec<f64>>,
    categorical: HashMap<&'a str, Coded<'a>>,
    out_of_range: BTreeMap<String, usize>,
}

impl<'a> Inputs<'a> {
    fn read(table: &'a Table, schema: &'a Schema) -> Result<Self> {
        use rayon::prelude::*;
        let mut numeric = HashMap::new();
        let mut out_of_range = BTreeMap::new();
        // Columns in parallel; the first error in column order is the one reported (collecting
        // into a `Result` would keep whichever error a thread met first).
        let parsed: Vec<Result<(Vec<f64>, Option<usize>)>> = schema
            .numeric
            .par_iter()
            .map(|c| {
                let mut v = schema.numeric_values(table, c)?;
                let bad = schema.valid_ranges.get(c).map(|r| {
                    let mut bad = 0;
                    for x in v.iter_mut() {
                        if !x.is_nan() && !r.contains(*x) {
                            *x = f64::NAN;
                            bad += 1;
                        }
                    }
                    bad
                });
                Ok((v, bad))
            })
            .collect();
        for (c, parsed) in schema.numeric.iter().zip(parsed) {
            let (v, bad) = parsed?;
            if let Some(bad) = bad {
                out_of_range.insert(c.clone(), bad);
            }
            numeric.insert(c.as_str(), v);
        }
        let cells: Vec<Result<Coded>> = schema
            .categorical
            .par_iter()
            .map(|c| Coded::read(table, schema, c))
            .collect();
        let cells: Vec<Coded> = cells.into_iter().collect::<Result<_>>()?;
        let categorical = schema
            .categorical
            .iter()
            .map(String::as_str)
            .zip(cells)
            .collect();
        Ok(Inputs {
            numeric,
            categorical,
            out_of_range,
        })
    }
}

/// A categorical column as dictionary ids: 4 bytes a cell instead of a 16-byte `&str`.
struct Coded<'a> {
    /// The distinct present values, in order of first appearance.
    values: Vec<&'a str>,
    /// Per row, an index into `values`, or [`Coded::MISSING`].
    ids: Vec<u32>,
}

impl<'a> Coded<'a> {
    const MISSING: u32 = u32::MAX;

    fn read(table: &'a Table, schema: &Schema, name: &str) -> Result<Self> {
        let mut index: HashMap<&str, u32, FastHash> = HashMap::default();
        let mut values = Vec::new();
        let ids = table
            .cells(name)?
            .map(|c| match c.filter(|s| !schema.is_na(s)) {
                None => Self::MISSING,
                Some(v) => *index.entry(v).or_insert_with(|| {
                    values.push(v);
                    values.len() as u32 - 1
                }),
            })
            .collect();
        Ok(Coded { values, ids })
    }
}

/// What filling did to one value.
#[derive(Clone, Copy, PartialEq)]
enum Filled {
    No,
    Product,
    Median,
    /// Left missing (NaN).
    Missing,
}

/// The columns one numeric feature reads, looked up once (not per cell): its own, and the two
/// whose product fills it, when they are numeric inputs.
struct NumericSource<'i> {
    raw: &'i [f64],
    product: Option<(&'i [f64], &'i [f64])>,
}

impl<'i> NumericSource<'i> {
    fn of(t: &FeatureTransform, inputs: &'i Inputs) -> Self {
        let FeatureTransform::Numeric { name, fill, .. } = t else {
            unreachable!("a numeric source of a categorical transform")
        };
        let col = |c: &str| inputs.numeric.get(c).map(Vec::as_slice);
        NumericSource {
            raw: &inputs.numeric[name.as_str()],
            product: fill
                .product_of
                .as_ref()
                .and_then(|[a, b]| col(a).zip(col(b))),
        }
    }
}

/// Filled and clipped (unscaled) value, NaN if missing, plus what happened:
/// (value, filled_by, clipped).
fn numeric_value(t: &FeatureTransform, src: &NumericSource, row: usize) -> (f64, Filled, bool) {
    let FeatureTransform::Numeric { fill, clip, .. } = t else {
        unreachable!("numeric_value on a categorical transform")
    };
    let (v, how) = match Some(src.raw[row]).filter(|v| !v.is_nan()) {
        Some(v) => (v, Filled::No),
        None => match (
            src.product
                .map(|(a, b)| (a[row], b[row]))
                .filter(|(a, b)| !a.is_nan() && !b.is_nan())
                .map(|(a, b)| a * b),
            fill.median,
        ) {
            (Some(v), _) => (v, Filled::Product),
            (None, Some(m)) => (m, Filled::Median),
            (None, None) => return (f64::NAN, Filled::Missing, false),
        },
    };
    match clip {
        Some(c) if v < c.lower => (c.lower, how, true),
        Some(c) if v > c.upper => (c.upper, how, true),
        _ => (v, how, false),
    }
}

fn fit_numeric(
    table: &Table,
    name: &str,
    schema: &Schema,
    inputs: &Inputs,
    train: &[usize],
) -> Result<FeatureTransform> {
    let raw = &inputs.numeric[name];
    let mut observed: Vec<f64> = train
        .iter()
        .map(|&i| raw[i])
        .filter(|v| !v.is_nan())
        .collect();
    observed.sort_by(f64::total_cmp);
    let product_of = schema.fill_from_product.get(name).cloned();
    let median = match (schema.missing_numeric, quantile(&observed, 0.5)) {
        (MissingNumeric::Native, _) => None,
        (_, Some(m)) => Some(m),
        (_, None) if product_of.is_some() => Some(0.0),
        (_, None) => {
            return Err(table.bad_column(
                name,
                "every training value is missing, so there is no median to fill with".into(),
            ));
        }
    };
    let fill = NumericFill { product_of, median };
    let clip = match (quantile(&observed, 0.25), quantile(&observed, 0.75)) {
        (Some(q1), Some(q3)) if schema.outlier_iqr_k > 0.0 && q3 > q1 => {
            let k = schema.outlier_iqr_k;
            Some(Clip {
                q1,
                q3,
                k,
                lower: q1 - k * (q3 - q1),
                upper: q3 + k * (q3 - q1),
            })
        }
        _ => None,
    };
    let mut t = FeatureTransform::Numeric {
        name: name.to_string(),
        valid: schema.valid_ranges.get(name).copied(),
        fill,
        clip,
        mean: 0.0,
        std: 1.0,
    };
    let src = NumericSource::of(&t, inputs);
    let vals: Vec<f64> = train
        .iter()
        .map(|&i| numeric_value(&t, &src, i).0)
        .filter(|v| !v.is_nan())
        .collect();
    let (m, sd) = mean_std(&vals).unwrap_or((0.0, 0.0));
    if let FeatureTransform::Numeric { mean, std, .. } = &mut t {
        *mean = m;
        // As scikit-learn's StandardScaler: a constant column is centred, not divided by 0.
        *std = if sd > 0.0 { sd } else { 1.0 };
    }
    Ok(t)
}

/// The rows of a table after de-duplication, split in two, stratified by the target. Only
/// [`Split::stratified`] makes one, and it belongs to the table it was made on (checked by the
/// steps that take both).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    options: SplitOptions,
    target: TargetEncoding,
    labels: Vec<u8>,
    kept: Vec<usize>,
    train: Vec<usize>,
    test: Vec<usize>,
    cleaning: CleaningReport,
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
    fn check_table(&self, table: &Table) -> Result<()> {
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

impl Preprocessor {
    /// Fit scalers (and fill values and clipping bounds, when the schema asks for them) on the
    /// training rows of `split`, and category codes on every kept row (so a test-only category
    /// still has a code).
    pub fn fit(table: &Table, schema: &Schema, split: &Split) -> Result<Preprocessor> {
        split.check_table(table)?;
        Self::fit_inputs(table, schema, split, &Inputs::read(table, schema)?)
    }

    fn fit_inputs(
        table: &Table,
        schema: &Schema,
        split: &Split,
        inputs: &Inputs,
    ) -> Result<Preprocessor> {
        let (kept, train) = (&split.kept, &split.train);
        let mut features = Vec::new();
        for name in &schema.numeric {
            features.push(fit_numeric(table, name, schema, inputs, train)?);
        }
        for name in &schema.categorical {
            let coded = &inputs.categorical[name.as_str()];
            let count = |rows: &[usize]| {
                let mut n = vec![0usize; coded.values.len()];
                for &i in rows {
                    if let Some(c) = n.get_mut(coded.ids[i] as usize) {
                        *c += 1;
                    }
                }
                n
            };
            let mut categories: Vec<String> = coded
                .values
                .iter()
                .zip(count(kept))
                .filter(|(_, n)| *n > 0)
                .map(|(v, _)| v.to_string())
                .collect();
            categories.sort();
            if categories.is_empty() {
                return Err(table.bad_column(name, "every value is missing".into()));
            }
            // The most frequent training value; of equally frequent ones the first in sort order.
            let most_frequent = coded
                .values
                .iter()
                .zip(count(train))
                .filter(|(_, n)| *n > 0)
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(k, _)| k.to_string())
                .unwrap_or_default();
            features.push(FeatureTransform::Categorical {
                name: name.clone(),
                categories,
                most_frequent,
            });
        }

        let mut cleaning = split.cleaning.clone();
        cleaning.out_of_range = inputs.out_of_range.clone();
        for f in &features {
            if let FeatureTransform::Numeric { name, .. } = f {
                let (mut by_product, mut by_median, mut left, mut clipped) = (0, 0, 0, 0);
                let src = NumericSource::of(f, inputs);
                for &i in kept {
                    let (_, how, c) = numeric_value(f, &src, i);
                    by_product += usize::from(how == Filled::Product);
                    by_median += usize::from(how == Filled::Median);
                    left += usize::from(how == Filled::Missing);
                    clipped += usize::from(c);
                }
                cleaning
                    .filled_from_product
                    .insert(name.clone(), by_product);
                cleaning.filled_with_median.insert(name.clone(), by_median);
                cleaning.left_missing.insert(name.clone(), left);
                cleaning.clipped.insert(name.clone(), clipped);
            }
        }

        Ok(Preprocessor {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            churnkit_version: crate::VERSION.into(),
            schema: schema.clone(),
            target: split.target.clone(),
            features,
            input: InputInfo {
                file: table.source_name().to_string(),
                sha256: table.sha256().to_string(),
                rows: table.n_rows(),
            },
            split: split.info(),
            cleaning,
        })
    }

    /// Feature names in model column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name().to_string()).collect()
    }

    /// Pretty JSON, the form `preprocessor.json` holds.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("preprocessor serializes")
    }

    /// Parse and validate preprocessor JSON. Errors are of kind
    /// [`Model`](crate::error::ErrorKind::Model).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let (v, _) = crate::data::format::parse_versioned(
            bytes,
            FORMAT,
            &[FORMAT_VERSION],
            "preprocessor",
            "re-run `churnkit preprocess`",
        )?;
        let p: Preprocessor =
            serde_json::from_value(v).map_err(|e| Error::model(format!("invalid content: {e}")))?;
        p.schema
            .check()
            .map_err(|e| Error::model(e.message().to_string()))?;
        for f in &p.features {
            match f {
                FeatureTransform::Numeric { mean, std, .. }
                    if !(mean.is_finite() && *std > 0.0) =>
                {
                    return Err(Error::model(format!(
                        "feature '{}' has an invalid scaler",
                        f.name()
                    )))
                }
                FeatureTransform::Categorical { categories, .. } if categories.is_empty() => {
                    return Err(Error::model(format!(
                        "feature '{}' has no categories",
                        f.name()
                    )))
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// Apply the fitted transform to the rows of `table` (e.g. new customers).
    pub fn transform(&self, table: &Table, unknown: UnknownCategory) -> Result<Frame> {
        Ok(self.transform_report(table, unknown)?.0)
    }

    /// [`Preprocessor::transform`], plus what it found: missing cells, impossible values and
    /// unseen categories per column.
    pub fn transform_report(
        &self,
        table: &Table,
        unknown: UnknownCategory,
    ) -> Result<(Frame, TransformReport)> {
        self.transform_inputs(table, &Inputs::read(table, &self.schema)?, unknown)
    }

    fn transform_inputs(
        &self,
        table: &Table,
        inputs: &Inputs,
        unknown: UnknownCategory,
    ) -> Result<(Frame, TransformReport)> {
        let mut columns = Vec::with_capacity(self.features.len());
        let report = self.transform_each(table, inputs, unknown, |c| columns.push(c))?;
        Ok((
            Frame {
                names: self.feature_names(),
                columns,
            },
            report,
        ))
    }

    /// The transform, handing each feature column to `each` as it is made (so a caller can
    /// split it before the next one exists).
    fn transform_each(
        &self,
        table: &Table,
        inputs: &Inputs,
        unknown: UnknownCategory,
        mut each: impl FnMut(Vec<f64>),
    ) -> Result<TransformReport> {
        let n = table.n_rows();
        let mut report = TransformReport {
            rows: n,
            out_of_range: inputs.out_of_range.clone(),
            ..Default::default()
        };
        for f in &self.features {
            let name = f.name().to_string();
            each(match f {
                FeatureTransform::Numeric { mean, std, .. } => {
                    let raw = &inputs.numeric[name.as_str()];
                    let missing = raw.iter().filter(|v| v.is_nan()).count()
                        - report.out_of_range.get(&name).copied().unwrap_or(0);
                    report.missing.insert(name, missing);
                    let src = NumericSource::of(f, inputs);
                    (0..n)
                        .map(|i| (numeric_value(f, &src, i).0 - mean) / std)
                        .collect()
                }
                FeatureTransform::Categorical {
                    categories,
                    most_frequent,
                    ..
                } => {
                    let coded = &inputs.categorical[name.as_str()];
                    let codes: HashMap<&str, usize, FastHash> = categories
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.as_str(), i))
                        .collect();
                    // Each distinct value is looked up once, not each cell.
                    let code_of: Vec<Option<usize>> = coded
                        .values
                        .iter()
                        .map(|v| {
                            codes
                                .get(v)
                                .copied()
                                .or_else(|| boolean_spelling(categories, v))
                        })
                        .collect();
                    let mut out = Vec::with_capacity(n);
                    let mut unseen = Unseen::default();
                    for (i, &id) in coded.ids.iter().enumerate() {
                        if id == Coded::MISSING {
                            out.push(f64::NAN);
                            continue;
                        }
                        let v = coded.values[id as usize];
                        let code = match code_of[id as usize] {
                            Some(code) => code as f64,
                            None => {
                                unseen.count += 1;
                                if unseen.examples.len() < 5
                                    && !unseen.examples.iter().any(|e| e == v)
                                {
                                    unseen.examples.push(v.to_string());
                                }
                                match unknown {
                                    UnknownCategory::Error => {
                                        return Err(table.bad_value(
                                            &name,
                                            i,
                                            format!(
                                                "unseen category '{v}' ({} known: {}); by default an unseen category is treated as missing",
                                                categories.len(),
                                                few(categories, 10)
                                            ),
                                        ))
                                    }
                                    UnknownCategory::MostFrequent => categories
                                        .binary_search(most_frequent)
                                        .unwrap_or(0)
                                        as f64,
                                    UnknownCategory::Missing => f64::NAN,
                                }
                            }
                        };
                        out.push(code);
                    }
                    let missing = coded.ids.iter().filter(|&&id| id == Coded::MISSING).count();
                    report.missing.insert(name.clone(), missing);
                    if unseen.count > 0 {
                        report.unseen.insert(name, unseen);
                    }
                    out
                }
            });
        }
        Ok(report)
    }
}

impl Processed {
    /// Split `table`, fit the preprocessor on the training rows and transform both sides: the
    /// whole of `churnkit preprocess` but the writing.
    pub fn fit(table: &Table, schema: &Schema, options: SplitOptions) -> Result<Processed> {
        let split = Split::stratified(table, schema, options)?;
        // The cells are parsed once, for fitting and transforming.
        let inputs = Inputs::read(table, schema)?;
        let state = Preprocessor::fit_inputs(table, schema, &split, &inputs)?;
        Self::from_split_inputs(table, &split, state, &inputs)
    }

    /// Transform the rows of `split` with a fitted `state`.
    pub fn from_split(table: &Table, split: &Split, state: Preprocessor) -> Result<Processed> {
        split.check_table(table)?;
        let schema = state.schema.clone();
        let inputs = Inputs::read(table, &schema)?;
        Self::from_split_inputs(table, split, state, &inputs)
    }

    fn from_split_inputs(
        table: &Table,
        split: &Split,
        state: Preprocessor,
        inputs: &Inputs,
    ) -> Result<Processed> {
        // Categories were collected from every kept row: none is unseen here. Each column is
        // split as it is made: the whole frame never exists beside its two sides.
        let names = state.feature_names();
        let (mut train, mut test) = (Vec::new(), Vec::new());
        let take = |c: &[f64], rows: &[usize]| rows.iter().map(|&i| c[i]).collect::<Vec<f64>>();
        state.transform_each(table, inputs, UnknownCategory::Error, |c| {
            train.push(take(&c, &split.train));
            test.push(take(&c, &split.test));
        })?;
        let labels = |rows: &[usize]| rows.iter().map(|&i| split.labels[i]).collect();
        Ok(Processed {
            x_train: Frame {
                names: names.clone(),
                columns: train,
            },
            y_train: labels(&split.train),
            x_test: Frame {
                names,
                columns: test,
            },
            y_test: labels(&split.test),
            state,
        })
    }

    /// Assemble from parts (e.g. read back from files), checking that they agree: the frames'
    /// columns are the state's features and each frame has one label per row.
    pub fn from_parts(
        state: Preprocessor,
        (x_train, y_train): (Frame, Vec<u8>),
        (x_test, y_test): (Frame, Vec<u8>),
    ) -> Result<Processed> {
        let names = state.feature_names();
        for (side, x, y) in [("training", &x_train, &y_train), ("test", &x_test, &y_test)] {
            if x.names != names {
                return Err(Error::model(format!(
                    "{side} columns [{}] do not match the preprocessor's features [{}]",
                    few(&x.names, 8),
                    few(&names, 8)
                )));
            }
            if x.n_rows() != y.len() {
                return Err(Error::model(format!(
                    "{side} features have {} rows but there are {} labels",
                    x.n_rows(),
                    y.len()
                )));
            }
        }
        Ok(Processed {
            state,
            x_train,
            y_train,
            x_test,
            y_test,
        })
    }

    /// Features and labels of every kept row, training rows first: what a final model is
    /// fitted on once the held-out evaluation is done.
    pub fn all_rows(&self) -> Result<(Frame, Vec<u8>)> {
        let x = self.x_train.concat(&self.x_test)?;
        let y = self.y_train.iter().chain(&self.y_test).copied().collect();
        Ok((x, y))
    }

    /// The share of positive labels in the test rows.
    pub fn test_prevalence(&self) -> f64 {
        self.y_test.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y_test.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::SerReader;

    fn table(text: &str) -> Table {
        Table::from_csv_bytes(text.as_bytes().to_vec(), "in.csv").unwrap()
    }

    fn sample(rows: usize, seed: u64) -> Table {
        let (bytes, _) = crate::data::generate::generate_rows(rows, seed);
        Table::from_csv_bytes(bytes, "gen.csv").unwrap()
    }

    #[test]
    fn by_default_missing_stays_missing_impossible_values_too_and_nothing_is_clipped() {
        let t = sample(400, 9);
        let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
        let s = &p.state;
        assert_eq!(
            s.split.train_rows + s.split.test_rows,
            400 - s.cleaning.duplicates_dropped
        );
        assert_eq!(s.cleaning.duplicates_dropped, 4);
        assert!(s.cleaning.filled_from_product["TotalCharges"] >= 1);
        // The generator writes a few impossible ages (-1, 0 is possible, 150, 199, 999).
        let ages = t.numeric_column("Age").unwrap();
        let impossible = ages
            .iter()
            .flatten()
            .filter(|a| **a < 0.0 || **a > 120.0)
            .count();
        assert!(impossible >= 1);
        assert_eq!(s.cleaning.out_of_range["Age"], impossible);
        assert!(s.cleaning.left_missing["Age"] >= 1);
        assert!(
            s.cleaning.clipped.values().all(|&c| c == 0),
            "{:?}",
            s.cleaning
        );
        let FeatureTransform::Numeric { clip, fill, .. } = &s.features[0] else {
            panic!()
        };
        assert_eq!((clip, fill.median), (&None, None));
        // Present training values are standardised (mean 0, population std 1); missing is NaN.
        for c in &p.x_train.columns[..4] {
            let v: Vec<f64> = c.iter().copied().filter(|x| !x.is_nan()).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            assert!(m.abs() < 1e-9 && (var - 1.0).abs() < 1e-9, "{m} {var}");
        }
        let nan_ages = p.x_train.columns[0].iter().chain(&p.x_test.columns[0]);
        assert_eq!(
            nan_ages.filter(|x| x.is_nan()).count(),
            s.cleaning.left_missing["Age"]
        );
        // Stratification keeps the class balance within a row.
        let rate = |y: &[u8]| y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        assert!((rate(&p.y_train) - rate(&p.y_test)).abs() < 0.02);
        // Contract codes are sorted category order.
        let FeatureTransform::Categorical { categories, .. } = &s.features[4] else {
            panic!()
        };
        assert_eq!(categories, &["Month-to-month", "One year", "Two year"]);
        // The state survives its JSON form.
        assert_eq!(&Preprocessor::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn median_filling_and_clipping_are_options() {
        let t = sample(400, 9);
        let schema = Schema {
            missing_numeric: MissingNumeric::Median,
            outlier_iqr_k: 1.5,
            valid_ranges: BTreeMap::new(),
            ..Schema::default()
        };
        let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
        let c = &p.state.cleaning;
        assert!(c.clipped["Age"] >= 1, "{c:?}");
        assert!(c.left_missing.values().all(|&n| n == 0), "{c:?}");
        assert!(p.x_train.columns.iter().flatten().all(|v| v.is_finite()));
        let FeatureTransform::Numeric { clip, fill, .. } = &p.state.features[0] else {
            panic!()
        };
        let clip = clip.as_ref().unwrap();
        assert!(clip.upper < 120.0 && fill.median.is_some(), "{clip:?}");
    }

    #[test]
    fn missing_markers_are_missing_and_configurable() {
        let rows: String = (0..40)
            .map(|i| {
                let age = match i % 10 {
                    0 => "NA".to_string(),
                    1 => "?".to_string(),
                    2 => " null ".to_string(),
                    _ => (20 + i).to_string(),
                };
                let plan = if i % 7 == 0 { "N/A" } else { ["a", "b"][i % 2] };
                format!("{age},{plan},{}\n", ["yes", "no"][i % 2])
            })
            .collect();
        let t = table(&format!("age,plan,left\n{rows}"));
        let schema = Schema::infer(&t, "left", None).unwrap();
        assert_eq!(schema.numeric, ["age"]);
        assert_eq!(schema.categorical, ["plan"]);
        let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
        assert_eq!(p.state.cleaning.missing["age"], 12);
        assert_eq!(p.state.cleaning.missing["plan"], 6);
        let FeatureTransform::Categorical { categories, .. } = &p.state.features[1] else {
            panic!()
        };
        assert_eq!(categories, &["a", "b"]);
        // With "?" no longer a marker the column is text, and an explicit numeric schema says
        // where.
        let custom = Schema {
            na_values: vec!["NA".into(), "null".into()],
            ..schema.clone()
        };
        let e = Split::stratified(&t, &custom, SplitOptions::default())
            .and_then(|sp| Preprocessor::fit(&t, &custom, &sp))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "in.csv: column 'age', line 3: '?' is not a number"
        );
        // A marker in the target is a missing target.
        let bad = table("x,y\n1,yes\n2,NA\n3,no\n");
        let e = Schema::infer(&bad, "y", None).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 3: missing target value ('NA')"),
            "{e}"
        );
    }

    #[test]
    fn a_data_frame_and_its_csv_give_the_same_features() {
        let (bytes, _) = crate::data::generate::generate_rows(300, 4);
        let from_csv = Table::from_csv_bytes(bytes.clone(), "gen.csv").unwrap();
        let df = polars::prelude::CsvReadOptions::default()
            .into_reader_with_file_handle(std::io::Cursor::new(bytes))
            .finish()
            .unwrap();
        let from_frame = Table::from_frame(&df).unwrap();
        let a = Processed::fit(&from_csv, &Schema::default(), SplitOptions::default()).unwrap();
        let b = Processed::fit(&from_frame, &Schema::default(), SplitOptions::default()).unwrap();
        assert_eq!(a.x_train, b.x_train);
        assert_eq!(a.y_test, b.y_test);
        assert_eq!(b.state.input.file, "(DataFrame)");
    }

    #[test]
    fn unseen_categories_are_missing_by_default_or_strict_or_most_frequent() {
        let t = sample(200, 2);
        let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
        let new = table(
            "CustomerID,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod\n\
             X1,40,3,50.0,,Weekly,Mailed check\n\
             X2,41,4,51.0,,Daily,Pigeon\n\
             X3,42,5,52.0,,Weekly,Mailed check\n",
        );
        let (f, report) = p
            .state
            .transform_report(&new, UnknownCategory::default())
            .unwrap();
        assert!(f.columns[4].iter().all(|v| v.is_nan()));
        assert_eq!(f.columns[5][0], 3.0); // Mailed check
        assert!(f.columns[5][1].is_nan());
        assert_eq!(report.unseen["Contract"].count, 3);
        assert_eq!(report.unseen["Contract"].examples, ["Weekly", "Daily"]);
        assert_eq!(report.unseen["PaymentMethod"].count, 1);
        assert_eq!(report.missing["TotalCharges"], 3);

        let err = p.state.transform(&new, UnknownCategory::Error).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'Contract', line 2") && msg.contains("'Weekly'"),
            "{msg}"
        );
        let f = p
            .state
            .transform(&new, UnknownCategory::MostFrequent)
            .unwrap();
        assert_eq!(f.columns[4][0], 0.0); // Month-to-month is the most frequent contract
    }

    #[test]
    fn booleans_spelled_another_way_are_the_same_category() {
        assert_eq!(
            boolean_spelling(&["False".into(), "True".into()], "true"),
            Some(1)
        );
        assert_eq!(
            boolean_spelling(&["FALSE".into(), "TRUE".into()], "false"),
            Some(0)
        );
        assert_eq!(boolean_spelling(&["No".into(), "Yes".into()], "true"), None);
        assert_eq!(
            boolean_spelling(&["True".into(), "true".into()], "TRUE"),
            None
        );
        assert_eq!(boolean_spelling(&["Truex".into()], "truex"), None);
        // Through the transform: a table from a Parquet file or a DataFrame writes booleans in
        // lower case; the CSV the model was trained on had True/False.
        let rows: String = (0..200)
            .map(|i| {
                format!(
                    "{},{},{}\n",
                    i % 9,
                    if i % 3 == 0 { "True" } else { "False" },
                    i % 2
                )
            })
            .collect();
        let t = table(&format!("x,flag,y\n{rows}"));
        let schema = Schema::infer(&t, "y", None).unwrap();
        assert!(
            schema.categorical.contains(&"flag".to_string()),
            "{schema:?}"
        );
        let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
        let (a, ra) = p
            .state
            .transform_report(&table("x,flag\n1,True\n2,False\n"), UnknownCategory::Error)
            .unwrap();
        let (b, rb) = p
            .state
            .transform_report(&table("x,flag\n1,true\n2,false\n"), UnknownCategory::Error)
            .unwrap();
        assert_eq!(a, b);
        assert!(ra.unseen.is_empty() && rb.unseen.is_empty());
    }

    #[test]
    fn an_error_listing_values_lists_at_most_ten() {
        let rows: String = (0..300)
            .map(|i| format!("{},name{},{}\n", i % 7, i % 60, i % 2))
            .collect();
        let t = table(&format!("x,name,y\n{rows}"));
        let p = Processed::fit(
            &t,
            &Schema::infer(&t, "y", None).unwrap(),
            SplitOptions::default(),
        )
        .unwrap();
        let e = p
            .state
            .transform(&table("x,name\n1,zed\n"), UnknownCategory::Error)
            .unwrap_err()
            .to_string();
        assert!(e.contains("(60 known: name0, name1, name10,"), "{e}");
        assert!(e.contains(", ... (50 more)"), "{e}");
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn of_several_bad_columns_the_first_is_reported() {
        let rows: String = (0..200)
            .map(|i| format!("{},{},{},{}\n", i % 13, i % 17, i % 19, i % 2))
            .collect();
        let t = table(&format!("a,b,c,y\n{rows}"));
        let p = Processed::fit(
            &t,
            &Schema::infer(&t, "y", None).unwrap(),
            SplitOptions::default(),
        )
        .unwrap();
        let first = p.state.schema.numeric[0].clone();
        assert_eq!(p.state.schema.numeric.len(), 3);
        // Every column is bad at some row: columns are parsed in parallel, the report must not
        // depend on which thread failed first.
        let bad = table("a,b,c\n1,2,x\n1,y,3\nz,2,3\n");
        for _ in 0..20 {
            let e = p
                .state
                .transform(&bad, UnknownCategory::Missing)
                .unwrap_err();
            assert!(e.to_string().contains(&format!("'{first}'")), "{e}");
        }
    }

    #[test]
    fn a_split_only_serves_its_own_table() {
        let (a, b) = (sample(150, 1), sample(150, 2));
        let split = Split::stratified(&a, &Schema::default(), SplitOptions::default()).unwrap();
        let e = Preprocessor::fit(&b, &Schema::default(), &split).unwrap_err();
        assert!(e.to_string().contains("another table"), "{e}");
        let state = Preprocessor::fit(&a, &Schema::default(), &split).unwrap();
        assert!(Processed::from_split(&b, &split, state).is_err());
    }

    #[test]
    fn bad_state_files_are_refused() {
        let t = sample(100, 3);
        let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
        let text = String::from_utf8(p.state.to_json()).unwrap();
        let v9 = text.replacen(
            &format!("\"format_version\": {FORMAT_VERSION}"),
            "\"format_version\": 9",
            1,
        );
        let e = Preprocessor::from_json(v9.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("format_version 9"), "{e}");
        assert!(Preprocessor::from_json(b"{").is_err());
        let wrong = Processed::from_parts(
            p.state.clone(),
            (p.x_test.clone(), p.y_train.clone()),
            (p.x_test.clone(), p.y_test.clone()),
        )
        .unwrap_err();
        assert!(wrong.to_string().contains("labels"), "{wrong}");
    }
}
