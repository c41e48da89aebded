//! The fitted transform: per feature a scaler, category codes, fill values and clipping bounds
//! fitted on the training rows, kept as versioned JSON, and applied alike to any new rows.

use super::split::{CleaningReport, Split, SplitInfo, TargetEncoding};
use crate::bail;
use crate::data::frame::Frame;
use crate::data::schema::{MissingNumeric, Schema};
use crate::data::table::{FastHash, Table};
use crate::error::{few, Error, Result};
use crate::stats::{mean_std, quantile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The `format` tag of a preprocessor file.
pub const FORMAT: &str = "churnkit-preprocessor";
/// The version of the preprocessor file layout this build reads and writes.
/// Version 2: missing values pass through as NaN for the forest; unseen categories become
/// missing; valid ranges, excluded columns and missing markers in the schema.
pub const FORMAT_VERSION: u32 = 2;

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
pub(super) fn boolean_spelling(categories: &[String], v: &str) -> Option<usize> {
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
pub(super) struct Inputs<'a> {
    numeric: HashMap<&'a str, Vec<f64>>,
    categorical: HashMap<&'a str, Coded<'a>>,
    out_of_range: BTreeMap<String, usize>,
}

impl<'a> Inputs<'a> {
    pub(super) fn read(table: &'a Table, schema: &'a Schema) -> Result<Self> {
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

impl Preprocessor {
    /// Fit scalers (and fill values and clipping bounds, when the schema asks for them) on the
    /// training rows of `split`, and category codes on every kept row (so a test-only category
    /// still has a code).
    pub fn fit(table: &Table, schema: &Schema, split: &Split) -> Result<Preprocessor> {
        split.check_table(table)?;
        Self::fit_inputs(table, schema, split, &Inputs::read(table, schema)?)
    }

    pub(super) fn fit_inputs(
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
                    bail!(model, "feature '{}' has an invalid scaler", f.name())
                }
                FeatureTransform::Categorical { categories, .. } if categories.is_empty() => {
                    bail!(model, "feature '{}' has no categories", f.name())
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
    pub(super) fn transform_each(
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
