//! Phase 2 of the workflow: validate, clean, split, then fit the transforms on the training rows.
//!
//! Order matters for honest numbers. Duplicates are dropped first, then the stratified split is
//! made, and only then are fill medians, clipping bounds and the scaler fitted, on the training
//! rows alone, so nothing about the test rows leaks into the features the model sees. The fitted
//! state ([`Preprocessor`]) is saved as versioned JSON; `predict` applies exactly the same
//! transform to new rows.

use crate::frame::{write_labels, Frame};
use crate::io::{sha256_file, IoError, StagedFiles};
use crate::rng::Rng;
use crate::schema::{target_classes, Schema, SchemaError};
use crate::table::{DataError, RawTable};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The `format` tag of a preprocessor file.
pub const FORMAT: &str = "churnkit-preprocessor";
/// The version of the preprocessor file layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The category code given to blank categorical cells.
pub const MISSING_CATEGORY: &str = "(missing)";

/// Errors of the preprocessing step.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// Bad input data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A bad schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A preprocessor file that cannot be used.
    #[error("{file}: {problem}")]
    State {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

/// Split settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// How blanks in a numeric column are filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericFill {
    /// Fill from the product of these two columns where both are present.
    pub product_of: Option<[String; 2]>,
    /// Otherwise the median of the training rows.
    pub median: f64,
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

/// The fitted transform of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureTransform {
    /// fill -> clip -> standard-scale.
    Numeric {
        /// Column name.
        name: String,
        /// Blank handling.
        fill: NumericFill,
        /// Outlier bounds (absent when clipping is off or the IQR is 0).
        clip: Option<Clip>,
        /// Mean after fill and clip (training rows).
        mean: f64,
        /// Population standard deviation after fill and clip; 1 when it was 0.
        std: f64,
    },
    /// Category -> integer code (index in `categories`, which is sorted).
    Categorical {
        /// Column name.
        name: String,
        /// Known categories; blanks are `"(missing)"`.
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
    /// Path as given.
    pub file: String,
    /// SHA-256 of the file's bytes.
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
    /// Blank cells per schema column, before de-duplication.
    pub missing: BTreeMap<String, usize>,
    /// Exact duplicate rows removed.
    pub duplicates_dropped: usize,
    /// Blanks filled from a product of columns, per column.
    pub filled_from_product: BTreeMap<String, usize>,
    /// Blanks filled with the training median, per column.
    pub filled_with_median: BTreeMap<String, usize>,
    /// Values clipped to the fences, per column.
    pub clipped: BTreeMap<String, usize>,
    /// Columns in the file that the schema does not use.
    pub ignored_columns: Vec<String>,
}

/// The fitted preprocessing state, saved as `preprocessor.json`.
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

/// Result of [`fit_transform`].
#[derive(Debug, Clone)]
pub struct Preprocessed {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownCategory {
    /// Fail, naming file, column, line and value.
    #[default]
    Error,
    /// Use the most frequent training category.
    MostFrequent,
}

/// Linear-interpolation quantile of sorted data (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn row_fingerprint(cols: &[Vec<Option<&str>>], row: usize) -> u128 {
    // Two SipHash passes with different prefixes: 128 bits make a false "duplicate" at a million
    // rows vanishingly unlikely, without holding every row's text in a set.
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xA5u8.hash(&mut b);
    for c in cols {
        c[row].hash(&mut a);
        c[row].hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Parsed feature inputs of a table, shared by fitting and by `predict`.
struct Inputs<'a> {
    numeric: HashMap<&'a str, Vec<Option<f64>>>,
    categorical: HashMap<&'a str, Vec<Option<&'a str>>>,
}

impl<'a> Inputs<'a> {
    fn read(table: &'a RawTable, schema: &'a Schema) -> Result<Self, DataError> {
        let mut numeric = HashMap::new();
        for c in &schema.numeric {
            numeric.insert(c.as_str(), table.numeric_column(c)?);
        }
        let mut categorical = HashMap::new();
        for c in &schema.categorical {
            categorical.insert(c.as_str(), table.column(c)?);
        }
        Ok(Inputs {
            numeric,
            categorical,
        })
    }

    /// The value of numeric `name` at `row` before fill, or its product fill.
    fn product(&self, of: &[String; 2], row: usize) -> Option<f64> {
        let a = self.numeric.get(of[0].as_str())?[row]?;
        let b = self.numeric.get(of[1].as_str())?[row]?;
        Some(a * b)
    }
}

fn fit_numeric(
    name: &str,
    schema: &Schema,
    inputs: &Inputs,
    train: &[usize],
) -> Result<FeatureTransform, String> {
    let raw = &inputs.numeric[name];
    let mut observed: Vec<f64> = train.iter().filter_map(|&i| raw[i]).collect();
    observed.sort_by(f64::total_cmp);
    let product_of = schema.fill_from_product.get(name).cloned();
    let median = if observed.is_empty() {
        if product_of.is_none() {
            return Err("every training value is blank".into());
        }
        0.0
    } else {
        quantile(&observed, 0.5)
    };
    let fill = NumericFill { product_of, median };
    let clip = if schema.outlier_iqr_k > 0.0 && !observed.is_empty() {
        let (q1, q3) = (quantile(&observed, 0.25), quantile(&observed, 0.75));
        let k = schema.outlier_iqr_k;
        (q3 > q1).then_some(Clip {
            q1,
            q3,
            k,
            lower: q1 - k * (q3 - q1),
            upper: q3 + k * (q3 - q1),
        })
    } else {
        None
    };
    let mut t = FeatureTransform::Numeric {
        name: name.to_string(),
        fill,
        clip,
        mean: 0.0,
        std: 1.0,
    };
    let vals: Vec<f64> = train
        .iter()
        .map(|&i| numeric_value(&t, inputs, i).0)
        .collect();
    let n = vals.len() as f64;
    let m = vals.iter().sum::<f64>() / n;
    let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    let sd = var.sqrt();
    if let FeatureTransform::Numeric { mean, std, .. } = &mut t {
        *mean = m;
        // As scikit-learn's StandardScaler: a constant column is centred, not divided by 0.
        *std = if sd > 0.0 { sd } else { 1.0 };
    }
    Ok(t)
}

/// Filled and clipped (unscaled) value, plus what happened: (value, filled_by, clipped).
#[derive(Clone, Copy, PartialEq)]
enum Filled {
    No,
    Product,
    Median,
}

fn numeric_value(t: &FeatureTransform, inputs: &Inputs, row: usize) -> (f64, Filled, bool) {
    let FeatureTransform::Numeric {
        name, fill, clip, ..
    } = t
    else {
        unreachable!("numeric_value on a categorical transform")
    };
    let (v, how) = match inputs.numeric[name.as_str()][row] {
        Some(v) => (v, Filled::No),
        None => match fill
            .product_of
            .as_ref()
            .and_then(|p| inputs.product(p, row))
        {
            Some(v) => (v, Filled::Product),
            None => (fill.median, Filled::Median),
        },
    };
    match clip {
        Some(c) if v < c.lower => (c.lower, how, true),
        Some(c) if v > c.upper => (c.upper, how, true),
        _ => (v, how, false),
    }
}

impl Preprocessor {
    /// Feature names in model column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name().to_string()).collect()
    }

    /// Read and validate a saved preprocessor.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PreprocessError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bad = |problem: String| PreprocessError::State {
            file: file.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, e))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!(
                "not a churnkit preprocessor file (format is not '{FORMAT}')"
            )));
        }
        let version = v.get("format_version").and_then(|f| f.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(bad(format!(
                "format_version {} is not supported (this churnkit reads {FORMAT_VERSION}); re-run `churnkit preprocess`",
                version.map_or("missing".into(), |v| v.to_string())
            )));
        }
        let p: Preprocessor =
            serde_json::from_value(v).map_err(|e| bad(format!("invalid content: {e}")))?;
        p.schema.check().map_err(|e| bad(e.to_string()))?;
        for f in &p.features {
            match f {
                FeatureTransform::Numeric { mean, std, .. }
                    if !(mean.is_finite() && *std > 0.0) =>
                {
                    return Err(bad(format!("feature '{}' has an invalid scaler", f.name())))
                }
                FeatureTransform::Categorical { categories, .. } if categories.is_empty() => {
                    return Err(bad(format!("feature '{}' has no categories", f.name())))
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// Apply the fitted transform to the rows of `table` (e.g. new customers).
    pub fn transform(
        &self,
        table: &RawTable,
        unknown: UnknownCategory,
    ) -> Result<Frame, DataError> {
        let inputs = Inputs::read(table, &self.schema)?;
        let n = table.n_rows();
        let mut columns = Vec::with_capacity(self.features.len());
        for f in &self.features {
            columns.push(match f {
                FeatureTransform::Numeric { mean, std, .. } => (0..n)
                    .map(|i| (numeric_value(f, &inputs, i).0 - mean) / std)
                    .collect(),
                FeatureTransform::Categorical {
                    name,
                    categories,
                    most_frequent,
                } => {
                    let cells = &inputs.categorical[name.as_str()];
                    let mut out = Vec::with_capacity(n);
                    for (i, c) in cells.iter().enumerate() {
                        let v = c.unwrap_or(MISSING_CATEGORY);
                        let code = match categories.binary_search_by(|k| k.as_str().cmp(v)) {
                            Ok(code) => code,
                            Err(_) if unknown == UnknownCategory::MostFrequent => categories
                                .binary_search(most_frequent)
                                .unwrap_or(0),
                            Err(_) => {
                                return Err(table.bad_value(
                                    name,
                                    i,
                                    format!(
                                        "unseen category '{v}' (known: {}); pass --unknown-category most-frequent to map it to '{most_frequent}'",
                                        categories.join(", ")
                                    ),
                                ))
                            }
                        };
                        out.push(code as f64);
                    }
                    out
                }
            });
        }
        Ok(Frame {
            names: self.feature_names(),
            columns,
        })
    }
}

/// Validate, clean, split and fit: the whole of `churnkit preprocess` but the writing.
pub fn fit_transform(
    table: &RawTable,
    schema: &Schema,
    options: SplitOptions,
) -> Result<Preprocessed, PreprocessError> {
    schema.check()?;
    if !(options.test_size > 0.0 && options.test_size < 1.0) {
        return Err(SchemaError::Invalid("test size must be between 0 and 1".into()).into());
    }
    let ignored_columns = schema.validate(table)?;
    let classes = target_classes(table, &schema.target)?;
    let Some(pos_idx) = classes.iter().position(|c| *c == schema.positive) else {
        return Err(table
            .bad_column(
                &schema.target,
                format!(
                    "positive class '{}' not found (values: {})",
                    schema.positive,
                    classes.join(", ")
                ),
            )
            .into());
    };
    let negative = classes[1 - pos_idx].clone();
    let target_cells = table.column(&schema.target)?;
    let y_all: Vec<u8> = target_cells
        .iter()
        .map(|c| u8::from(*c == Some(schema.positive.as_str())))
        .collect();
    let inputs = Inputs::read(table, schema)?;

    let mut report = CleaningReport {
        ignored_columns,
        ..Default::default()
    };
    for c in schema
        .id_columns
        .iter()
        .chain(&schema.numeric)
        .chain(&schema.categorical)
    {
        let cells = table.column(c)?;
        report
            .missing
            .insert(c.clone(), cells.iter().filter(|v| v.is_none()).count());
    }

    // Exact duplicates over every column of the file, as pandas' drop_duplicates would.
    let all_cols: Vec<Vec<Option<&str>>> = table
        .headers()
        .iter()
        .map(|h| table.column(h))
        .collect::<Result<_, _>>()?;
    let n = table.n_rows();
    let mut seen = HashSet::with_capacity(n);
    let kept: Vec<usize> = (0..n)
        .filter(|&i| seen.insert(row_fingerprint(&all_cols, i)))
        .collect();
    drop(all_cols);
    report.duplicates_dropped = n - kept.len();

    // Stratified split.
    let mut rng = Rng::new(options.seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (class, label) in [(0u8, &negative), (1u8, &schema.positive)] {
        let mut idx: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| y_all[i] == class)
            .collect();
        if idx.len() < 2 {
            return Err(table
                .bad_column(
                    &schema.target,
                    format!(
                        "class '{label}' has {} row(s) after removing duplicates; a stratified split needs at least 2 per class",
                        idx.len()
                    ),
                )
                .into());
        }
        rng.shuffle(&mut idx);
        let n_test =
            ((idx.len() as f64 * options.test_size).round() as usize).clamp(1, idx.len() - 1);
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();

    // Fit on the training rows only.
    let mut features = Vec::new();
    for name in &schema.numeric {
        let t =
            fit_numeric(name, schema, &inputs, &train).map_err(|p| table.bad_column(name, p))?;
        features.push(t);
    }
    for name in &schema.categorical {
        let cells = &inputs.categorical[name.as_str()];
        let mut categories: Vec<String> = kept
            .iter()
            .map(|&i| cells[i].unwrap_or(MISSING_CATEGORY).to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        categories.sort();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &train {
            *counts
                .entry(cells[i].unwrap_or(MISSING_CATEGORY))
                .or_default() += 1;
        }
        let most_frequent = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| k.to_string())
            .unwrap_or_default();
        features.push(FeatureTransform::Categorical {
            name: name.clone(),
            categories,
            most_frequent,
        });
    }

    for f in &features {
        if let FeatureTransform::Numeric { name, .. } = f {
            let (mut by_product, mut by_median, mut clipped) = (0, 0, 0);
            for &i in &kept {
                let (_, how, c) = numeric_value(f, &inputs, i);
                by_product += usize::from(how == Filled::Product);
                by_median += usize::from(how == Filled::Median);
                clipped += usize::from(c);
            }
            report.filled_from_product.insert(name.clone(), by_product);
            report.filled_with_median.insert(name.clone(), by_median);
            report.clipped.insert(name.clone(), clipped);
        }
    }

    let state = Preprocessor {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        churnkit_version: env!("CARGO_PKG_VERSION").into(),
        schema: schema.clone(),
        target: TargetEncoding {
            column: schema.target.clone(),
            positive: schema.positive.clone(),
            negative,
        },
        features,
        input: InputInfo {
            file: table.path().display().to_string(),
            sha256: sha256_file(table.path())?,
            rows: n,
        },
        split: SplitInfo {
            options,
            train_rows: train.len(),
            test_rows: test.len(),
            train_positive: train.iter().filter(|&&i| y_all[i] == 1).count(),
            test_positive: test.iter().filter(|&&i| y_all[i] == 1).count(),
        },
        cleaning: report,
    };
    let all = state.transform(table, UnknownCategory::Error)?;
    let take = |rows: &[usize]| Frame {
        names: all.names.clone(),
        columns: all
            .columns
            .iter()
            .map(|c| rows.iter().map(|&i| c[i]).collect())
            .collect(),
    };
    Ok(Preprocessed {
        x_train: take(&train),
        y_train: train.iter().map(|&i| y_all[i]).collect(),
        x_test: take(&test),
        y_test: test.iter().map(|&i| y_all[i]).collect(),
        state,
    })
}

/// File names inside the processed-data directory.
pub mod files {
    /// Training features.
    pub const X_TRAIN: &str = "X_train.csv";
    /// Test features.
    pub const X_TEST: &str = "X_test.csv";
    /// Training labels.
    pub const Y_TRAIN: &str = "y_train.csv";
    /// Test labels.
    pub const Y_TEST: &str = "y_test.csv";
    /// The fitted state.
    pub const PREPROCESSOR: &str = "preprocessor.json";
}

impl Preprocessed {
    /// Stage the five output files under `dir` (commit them with [`StagedFiles::commit`]).
    pub fn stage(&self, dir: &Path, staged: &mut StagedFiles) -> Result<(), IoError> {
        let target = &self.state.target.column;
        staged.write(dir.join(files::X_TRAIN), |w| self.x_train.write_csv(w))?;
        staged.write(dir.join(files::X_TEST), |w| self.x_test.write_csv(w))?;
        staged.write(dir.join(files::Y_TRAIN), |w| {
            write_labels(w, target, &self.y_train)
        })?;
        staged.write(dir.join(files::Y_TEST), |w| {
            write_labels(w, target, &self.y_test)
        })?;
        let json = serde_json::to_vec_pretty(&self.state).expect("preprocessor serializes");
        staged.write_bytes(dir.join(files::PREPROCESSOR), &json)?;
        Ok(())
    }
}

/// The processed data a training step reads.
#[derive(Debug, Clone)]
pub struct ProcessedData {
    /// Directory it came from.
    pub dir: PathBuf,
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

impl ProcessedData {
    /// Load `dir` and check the pieces agree with each other.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, PreprocessError> {
        let dir = dir.as_ref().to_path_buf();
        let state = Preprocessor::load(dir.join(files::PREPROCESSOR))?;
        let x_train = Frame::read_csv(dir.join(files::X_TRAIN))?;
        let x_test = Frame::read_csv(dir.join(files::X_TEST))?;
        let (_, y_train) = crate::frame::read_labels(dir.join(files::Y_TRAIN))?;
        let (_, y_test) = crate::frame::read_labels(dir.join(files::Y_TEST))?;
        let names = state.feature_names();
        for (file, x, y) in [
            (files::X_TRAIN, &x_train, &y_train),
            (files::X_TEST, &x_test, &y_test),
        ] {
            let problem = if x.names != names {
                Some(format!(
                    "columns {:?} do not match the preprocessor's features {:?}",
                    x.names, names
                ))
            } else if x.n_rows() != y.len() {
                Some(format!("{} rows but {} labels", x.n_rows(), y.len()))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(PreprocessError::State {
                    file: dir.join(file).display().to_string(),
                    problem: format!("{problem}; re-run `churnkit preprocess`"),
                });
            }
        }
        Ok(ProcessedData {
            dir,
            state,
            x_train,
            y_train,
            x_test,
            y_test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, tag: &str) -> RawTable {
        let dir = std::env::temp_dir().join(format!("churnkit-pp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("in.csv");
        std::fs::write(&p, text).unwrap();
        RawTable::read(&p).unwrap()
    }

    #[test]
    fn quantiles_match_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&s, 0.5), 2.5);
        assert_eq!(quantile(&s, 0.25), 1.75);
        assert_eq!(quantile(&s, 0.75), 3.25);
    }

    #[test]
    fn fills_from_product_then_median_clips_and_scales_on_train_only() {
        let (bytes, _) = crate::generate::generate_rows(400, 9);
        let t = table(std::str::from_utf8(&bytes).unwrap(), "fit");
        let p = fit_transform(&t, &Schema::default(), SplitOptions::default()).unwrap();
        let s = &p.state;
        assert_eq!(
            s.split.train_rows + s.split.test_rows,
            400 - s.cleaning.duplicates_dropped
        );
        assert_eq!(s.cleaning.duplicates_dropped, 4);
        assert!(s.cleaning.filled_from_product["TotalCharges"] >= 1);
        assert!(s.cleaning.clipped["Age"] >= 1, "{:?}", s.cleaning);
        // Training features are standardised: mean 0, population std 1.
        for c in &p.x_train.columns[..4] {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            let v = c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / c.len() as f64;
            assert!(m.abs() < 1e-9 && (v - 1.0).abs() < 1e-9, "{m} {v}");
        }
        // Stratification keeps the class balance within a row.
        let rate = |y: &[u8]| y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        assert!((rate(&p.y_train) - rate(&p.y_test)).abs() < 0.02);
        // Contract codes are sorted category order.
        let FeatureTransform::Categorical { categories, .. } = &s.features[4] else {
            panic!()
        };
        assert_eq!(categories, &["Month-to-month", "One year", "Two year"]);
    }

    #[test]
    fn unseen_category_errors_or_falls_back() {
        let (bytes, _) = crate::generate::generate_rows(200, 2);
        let t = table(std::str::from_utf8(&bytes).unwrap(), "unseen-fit");
        let p = fit_transform(&t, &Schema::default(), SplitOptions::default()).unwrap();
        let new = table(
            "CustomerID,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod\n\
             X1,40,3,50.0,,Weekly,Mailed check\n",
            "unseen-new",
        );
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
}
