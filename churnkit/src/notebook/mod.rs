//! The notebook layer (feature `notebook`): one-line cells for Jupyter on the evcxr kernel.
//!
//! ```text
//! :dep churnkit = { path = "../churnkit", features = ["notebook"] }
//! use churnkit::notebook::*;
//! let df = load_csv("../data/sample_data.csv")?;
//! df                                        // an HTML table with shape and dtypes
//! churn_distribution(&df, "Churn")          // a chart
//! Chart::histogram("Age").color_by("Churn").draw_frame(&df)?   // any chart of any columns
//! feature_tests(&df, "Churn")?              // chi-square / Mann-Whitney U per feature
//! ```
//!
//! Everything a notebook needs is re-exported here (polars included), so a notebook depends on
//! churnkit alone and never builds a second polars. The helpers work on values: a DataFrame in,
//! [`Processed`] data, a [`Model`], an [`Evaluation`] out; nothing is re-read from disk.

mod display;
#[cfg(feature = "query")]
pub mod query;
mod survival;

pub use crate::workflow::Monitored;
pub use crate::workflow::Survival;
pub use display::{base64, content_block, escape, fmt_float, frame_html, Display, Html, Report};
pub use survival::{
    cox_table, customer_survival_chart, drift, drift_table, survival, survival_table,
};
// `col` is defined below: the evcxr-safe column lookup.

pub use crate::prelude::*;
pub use crate::tracking;
pub use churnkit_core::chart::Chart;
pub use churnkit_core::decisions::Decisions;
pub use churnkit_core::evaluate::{
    BinaryMetrics, BusinessMetrics, ClassificationReport, Confusion,
};
pub use churnkit_core::explain::Contributions;
pub use churnkit_core::plots::Png;
pub use churnkit_core::profit::Economics;
pub use polars;
pub use polars::prelude::{Column, DataFrame, DataType};

use churnkit_core::plots;
use churnkit_core::stats::quantile;
use churnkit_core::{bail, ensure};
use polars::prelude::{IdxCa, IdxSize};
use std::collections::BTreeMap;
use std::path::Path;

/// Read a CSV (or Parquet) file for exploration: columns whose present cells are all numbers
/// become `f64`, the others stay text. Blank cells and the usual missing markers (`NA`, `?`,
/// `null`, ...: [`churnkit_core::schema::DEFAULT_NA_VALUES`]) are nulls, so
/// [`missing_values`] counts them.
pub fn load_csv(path: impl AsRef<Path>) -> Result<DataFrame> {
    use rayon::prelude::*;
    let t = Table::read(path)?;
    let na = churnkit_core::schema::DEFAULT_NA_VALUES;
    // Each column is typed on its own: in parallel.
    let cols = t
        .headers()
        .par_iter()
        .map(|h| -> Result<Column> {
            let cells: Vec<Option<&str>> = t
                .column(h)?
                .into_iter()
                .map(|c| c.filter(|s| !na.contains(s)))
                .collect();
            // Typing stops at the first cell that is not a number.
            let mut parsed: Vec<Option<f64>> = Vec::with_capacity(cells.len());
            for c in &cells {
                match c {
                    None => parsed.push(None),
                    Some(s) => match s.parse() {
                        Ok(v) => parsed.push(Some(v)),
                        Err(_) => {
                            return Ok(Column::new(
                                h.as_str().into(),
                                cells
                                    .iter()
                                    .map(|c| c.map(str::to_string))
                                    .collect::<Vec<Option<String>>>(),
                            ))
                        }
                    },
                }
            }
            if cells.iter().any(Option::is_some) {
                Ok(Column::new(h.as_str().into(), parsed))
            } else {
                Ok(Column::new(
                    h.as_str().into(),
                    vec![None::<String>; cells.len()],
                ))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(t.n_rows(), cols)?)
}

/// A column by name, found by comparing names rather than through polars' hashed schema.
///
/// Use this in notebooks instead of `df.column(name)` for frames made in an earlier cell: evcxr
/// compiles every cell into its own library with its own copy of the hasher's process-wide seed,
/// so a schema cached by one cell cannot be searched from the next ("column not found").
pub fn col<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.columns()
        .iter()
        .find(|c| c.name().as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = df.columns().iter().map(|c| c.name().as_str()).collect();
            Error::data(format!(
                "no column '{name}' (columns: {})",
                churnkit_core::error::few(&names, 10)
            ))
        })
}

fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = col(df, name)?;
    Ok(match c.dtype() {
        DataType::Float64 => c.f64()?.iter().collect(),
        DataType::Int64 => c.i64()?.iter().map(|v| v.map(|x| x as f64)).collect(),
        DataType::UInt64 => c.u64()?.iter().map(|v| v.map(|x| x as f64)).collect(),
        DataType::Int32 => c.i32()?.iter().map(|v| v.map(f64::from)).collect(),
        _ => c.cast(&DataType::Float64)?.f64()?.iter().collect(),
    })
}

/// A numeric column as `f64` values, missing as `None`: the raw material of a derived feature.
pub fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    f64_column(df, name)
}

/// `df` with a numeric column `name` added (or replaced): feature engineering in one cell.
///
/// ```
/// use churnkit::notebook::*;
/// let df = polars::df!("TotalCharges" => [120.0, 50.0], "Tenure" => [12.0, 0.0])?;
/// let per_month = numbers(&df, "TotalCharges")?
///     .iter()
///     .zip(numbers(&df, "Tenure")?)
///     .map(|(t, n)| Some((*t)? / n.filter(|n| *n > 0.0)?))
///     .collect();
/// let df = with_column(&df, "ChargesPerMonth", per_month)?;
/// assert_eq!(numbers(&df, "ChargesPerMonth")?, vec![Some(10.0), None]);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn with_column(df: &DataFrame, name: &str, values: Vec<Option<f64>>) -> Result<DataFrame> {
    ensure!(
        values.len() == df.height(),
        data,
        "column '{name}' has {} values for {} rows",
        values.len(),
        df.height()
    );
    let mut out = df.clone();
    out.with_column(Column::new(name.into(), values))?;
    Ok(out)
}

fn text_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = col(df, name)?;
    Ok(match c.dtype() {
        DataType::String => c.str()?.iter().map(|v| v.map(str::to_string)).collect(),
        _ => f64_column(df, name)?
            .into_iter()
            .map(|v| v.map(fmt_float))
            .collect(),
    })
}

fn numeric_names(df: &DataFrame) -> Vec<String> {
    df.columns()
        .iter()
        .filter(|c| c.dtype().is_primitive_numeric())
        .map(|c| c.name().to_string())
        .collect()
}

/// pandas-style `describe()` of the numeric columns: count, mean, std (n-1), min, quartiles, max.
pub fn summary(df: &DataFrame) -> Result<DataFrame> {
    let names = numeric_names(df);
    let stats = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"];
    let mut cols = vec![Column::new(
        "statistic".into(),
        stats.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    )];
    for n in &names {
        let mut v: Vec<f64> = f64_column(df, n)?.into_iter().flatten().collect();
        v.sort_by(f64::total_cmp);
        let k = v.len() as f64;
        let mean = v.iter().sum::<f64>() / k;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
        let q = |p: f64| quantile(&v, p).unwrap_or(f64::NAN);
        let vals = vec![k, mean, std, q(0.0), q(0.25), q(0.5), q(0.75), q(1.0)];
        cols.push(Column::new(n.as_str().into(), vals));
    }
    Ok(DataFrame::new(stats.len(), cols)?)
}

/// Missing values per column: count and percentage.
pub fn missing_values(df: &DataFrame) -> Result<DataFrame> {
    let n = df.height().max(1) as f64;
    let names: Vec<String> = df.columns().iter().map(|c| c.name().to_string()).collect();
    let missing: Vec<u64> = df.columns().iter().map(|c| c.null_count() as u64).collect();
    let pct: Vec<f64> = missing.iter().map(|&m| 100.0 * m as f64 / n).collect();
    Ok(DataFrame::new(
        names.len(),
        vec![
            Column::new("column".into(), names),
            Column::new("missing".into(), missing),
            Column::new("percent".into(), pct),
        ],
    )?)
}

/// Each feature against churn, in one table sorted by p-value: a chi-square test for each
/// categorical, a Mann-Whitney U test (churners against the others) for each numeric, with the
/// effect size (Cramér's V, or the rank-biserial correlation: above 0 when churners have larger
/// values). Features are the ones schema inference picks for `target`.
pub fn feature_tests(df: &DataFrame, target: &str) -> Result<DataFrame> {
    let table = Table::from_frame(df)?;
    let schema = Schema::infer(&table, target, None)?;
    let rows = churnkit_core::significance::feature_tests(&table, &schema)?;
    let text = |f: fn(&churnkit_core::significance::FeatureTest) -> String| -> Vec<String> {
        rows.iter().map(f).collect()
    };
    let num = |f: fn(&churnkit_core::significance::FeatureTest) -> f64| -> Vec<f64> {
        rows.iter().map(f).collect()
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("feature".into(), text(|r| r.feature.clone())),
            Column::new("test".into(), text(|r| r.test.to_string())),
            Column::new("statistic".into(), num(|r| r.statistic)),
            Column::new("p_value".into(), num(|r| r.p_value)),
            Column::new("effect".into(), text(|r| r.effect.to_string())),
            Column::new("effect_size".into(), num(|r| r.effect_size)),
            Column::new(
                "rows".into(),
                rows.iter().map(|r| r.rows as u64).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// The target as 0/1 (Yes/No, True/False, 1/0 understood, as in preprocessing).
pub fn target_labels(df: &DataFrame, target: &str) -> Result<Vec<u8>> {
    let text = text_column(df, target)?;
    let positive = |s: &str| matches!(s.to_ascii_lowercase().as_str(), "1" | "yes" | "true");
    Ok(text
        .iter()
        .map(|v| u8::from(v.as_deref().is_some_and(positive)))
        .collect())
}

const NAMES: [&str; 2] = ["No churn", "Churn"];

/// Count and percentage of churners.
pub fn churn_distribution(df: &DataFrame, target: &str) -> Result<Png> {
    let y = target_labels(df, target)?;
    let ones = y.iter().filter(|&&v| v == 1).count();
    plots::count_chart(
        &format!("{target} distribution"),
        &[NAMES[0].to_string(), NAMES[1].to_string()],
        &[y.len() - ones, ones],
    )
}

/// Histogram of a numeric column by churn class (e.g. Age by churn).
pub fn histogram_by_churn(df: &DataFrame, column: &str, target: &str) -> Result<Png> {
    let y = target_labels(df, target)?;
    let v: Vec<f64> = f64_column(df, column)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    plots::histogram_by_class(&format!("{column} by {target}"), column, &v, &y, NAMES, 20)
}

/// Scatter of two numeric columns coloured by churn (e.g. Tenure vs MonthlyCharges).
pub fn scatter_by_churn(df: &DataFrame, x: &str, y: &str, target: &str) -> Result<Png> {
    let t = target_labels(df, target)?;
    let xs: Vec<f64> = f64_column(df, x)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    let ys: Vec<f64> = f64_column(df, y)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    plots::scatter_by_class(&format!("{x} vs {y}"), (x, &xs), (y, &ys), &t, NAMES)
}

/// Churn rate per category of a column (e.g. Contract), with group sizes.
pub fn churn_rate_by(df: &DataFrame, column: &str, target: &str) -> Result<Png> {
    plots::rate_by_category(
        &format!("Churn rate by {column}"),
        column,
        &churn_rate_groups(df, column, target)?,
    )
}

/// (category, churn rate, rows) per category of `column`, in sorted category order.
pub fn churn_rate_groups(
    df: &DataFrame,
    column: &str,
    target: &str,
) -> Result<Vec<(String, f64, usize)>> {
    let y = target_labels(df, target)?;
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (v, t) in text_column(df, column)?.iter().zip(&y) {
        let e = groups
            .entry(v.as_deref().unwrap_or("(missing)").to_string())
            .or_default();
        e.0 += 1;
        e.1 += usize::from(*t);
    }
    Ok(groups
        .into_iter()
        .map(|(k, (n, p))| (k, p as f64 / n as f64, n))
        .collect())
}

/// Pearson correlations between the numeric columns (the target included as 0/1), pairwise
/// over rows where both values are present.
pub fn correlation_matrix(df: &DataFrame, target: &str) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut names: Vec<String> = numeric_names(df)
        .into_iter()
        .filter(|n| n != target)
        .collect();
    let mut cols: Vec<Vec<Option<f64>>> = names
        .iter()
        .map(|n| f64_column(df, n))
        .collect::<Result<_>>()?;
    names.push(target.to_string());
    cols.push(
        target_labels(df, target)?
            .into_iter()
            .map(|v| Some(f64::from(v)))
            .collect(),
    );
    let corr = |a: &[Option<f64>], b: &[Option<f64>]| {
        let pairs: Vec<(f64, f64)> = a
            .iter()
            .zip(b)
            .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
            .collect();
        let n = pairs.len() as f64;
        let (mx, my) = (
            pairs.iter().map(|p| p.0).sum::<f64>() / n,
            pairs.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxy: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
        let syy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt()
    };
    let m = cols
        .iter()
        .map(|a| cols.iter().map(|b| corr(a, b)).collect())
        .collect();
    Ok((names, m))
}

/// Correlation matrix heatmap.
pub fn correlation_chart(df: &DataFrame, target: &str) -> Result<Png> {
    let (names, m) = correlation_matrix(df, target)?;
    plots::correlation_heatmap(&names, &m)
}

/// Load a saved model (validated).
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Model::from_json(&bytes).map_err(|e| e.in_file(path.display()))
}

/// A saved model file with the preprocessor it was trained with: `preprocessor.json` beside the
/// model, or, for `<project>/models/churn_model.json`, the project's
/// `data/processed/preprocessor.json`. Both are validated and checked against each other.
pub fn load_saved(path: impl AsRef<Path>) -> Result<Saved> {
    let path = path.as_ref();
    let dir = path.parent().unwrap_or(Path::new("."));
    let beside = dir.join(crate::artifacts::PREPROCESSOR);
    let pre_path = if beside.is_file() {
        beside
    } else {
        crate::prelude::Layout::under(dir.parent().unwrap_or(Path::new("."))).preprocessor_path()
    };
    ensure!(
        pre_path.is_file(),
        data,
        "{}: no preprocessor to read raw rows with (looked for {})",
        path.display(),
        pre_path.display()
    );
    let bytes = std::fs::read(&pre_path).map_err(|e| Error::io(&pre_path, e))?;
    let preprocessor =
        Preprocessor::from_json(&bytes).map_err(|e| e.in_file(pre_path.display()))?;
    let model = load_model(path)?;
    let want = preprocessor.feature_names();
    ensure!(
        model.feature_names == want,
        data,
        "{}: the model's features ({}) are not its preprocessor's ({})",
        path.display(),
        churnkit_core::error::few(&model.feature_names, 5),
        churnkit_core::error::few(&want, 5)
    );
    Ok(Saved {
        model,
        preprocessor,
    })
}

/// A saved model with the preprocessor it was trained with (see [`Project::saved_model`]).
#[derive(Debug, Clone)]
pub struct Saved {
    /// The model.
    pub model: Model,
    /// Its fitted preprocessor.
    pub preprocessor: Preprocessor,
}

/// Score the raw rows of `df` with a saved model: the id column(s) (or a row number),
/// `churn_probability`, `churn_prediction` at `threshold`, `score_decile` (1 = the tenth with
/// the highest scores), and with `explain > 0` each row's largest TreeSHAP reasons, as
/// `churnkit predict` writes them.
pub fn predict_frame(
    saved: &Saved,
    df: &DataFrame,
    threshold: f64,
    explain: usize,
) -> Result<DataFrame> {
    predict_frame_with(&saved.model, &saved.preprocessor, df, threshold, explain)
}

/// [`predict_frame`] with any model and the preprocessor its features come from (a model
/// trained in a notebook and its [`Processed`] data's `state`).
pub fn predict_frame_with(
    model: &Model,
    preprocessor: &Preprocessor,
    df: &DataFrame,
    threshold: f64,
    explain: usize,
) -> Result<DataFrame> {
    let options = crate::workflow::PredictOptions::default()
        .threshold(threshold)
        .explain(explain);
    let scores = crate::workflow::predict(preprocessor, model, &Table::from_frame(df)?, options)?;
    let n = scores.probability.len();
    let mut cols: Vec<Column> = scores
        .columns
        .iter()
        .map(|(name, v)| Column::new(name.as_str().into(), v.clone()))
        .collect();
    let labels: Vec<u32> = scores.labels().into_iter().map(u32::from).collect();
    cols.push(Column::new(
        "churn_probability".into(),
        scores.probability.clone(),
    ));
    cols.push(Column::new("churn_prediction".into(), labels));
    // Deciles by rank, highest score first; ties broken by row, so they are reproducible.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        scores.probability[b]
            .total_cmp(&scores.probability[a])
            .then(a.cmp(&b))
    });
    let mut decile = vec![0u32; n];
    for (rank, &i) in order.iter().enumerate() {
        decile[i] = (rank * 10 / n.max(1)) as u32 + 1;
    }
    cols.push(Column::new("score_decile".into(), decile));
    let k = scores.reasons.iter().map(Vec::len).max().unwrap_or(0);
    for r in 0..k {
        let at = |f: &dyn Fn(&crate::workflow::Reason) -> Option<String>| -> Vec<Option<String>> {
            scores
                .reasons
                .iter()
                .map(|rs| rs.get(r).and_then(f))
                .collect()
        };
        cols.push(Column::new(
            format!("reason_{}_feature", r + 1).into(),
            at(&|x| Some(x.feature.clone())),
        ));
        cols.push(Column::new(
            format!("reason_{}_value", r + 1).into(),
            at(&|x| x.value.clone()),
        ));
        cols.push(Column::new(
            format!("reason_{}_contribution", r + 1).into(),
            scores
                .reasons
                .iter()
                .map(|rs| rs.get(r).map(|x| x.contribution))
                .collect::<Vec<Option<f64>>>(),
        ));
    }
    Ok(DataFrame::new(n, cols)?)
}

/// Preprocess a DataFrame in memory for modelling: the schema inferred for `target` (ids and
/// the product rule found as the CLI finds them), an 80/20 stratified split with seed 42, the
/// preprocessing fitted on the training rows.
pub fn prepare(df: &DataFrame, target: &str) -> Result<Processed> {
    prepare_with(df, &Prepare::new(target))
}

/// Every choice of `churnkit preprocess`, for [`prepare_with`]: the target and its churned
/// value, the split, and overrides of what inference decides.
///
/// ```
/// use churnkit::notebook::*;
/// let df = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample_data.csv"))?;
/// let p = Prepare::new("Churn").test_size(0.3).seed(7).drop(&["Age"]).categorical(&["Tenure"]);
/// let data = prepare_with(&df, &p)?;
/// assert!(data.state.schema.categorical.contains(&"Tenure".to_string()));
/// assert!(data.state.schema.excluded.contains_key("Age"));
/// assert_eq!(data.y_test.len(), 30);
/// # Ok::<(), churnkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Prepare {
    target: String,
    split: SplitOptions,
    infer: churnkit_core::schema::InferOptions,
    drop: Vec<String>,
    categorical: Vec<String>,
}

impl Prepare {
    /// Defaults as `churnkit preprocess --target`: 20% test rows, seed 42, inferred schema.
    pub fn new(target: &str) -> Prepare {
        Prepare {
            target: target.to_string(),
            split: SplitOptions::default(),
            infer: Default::default(),
            drop: vec![],
            categorical: vec![],
        }
    }
    /// Share of each class held out for testing.
    pub fn test_size(mut self, t: f64) -> Prepare {
        self.split = SplitOptions::new(t, self.split.seed);
        self
    }
    /// Split seed.
    pub fn seed(mut self, s: u64) -> Prepare {
        self.split = SplitOptions::new(self.split.test_size, s);
        self
    }
    /// The target value that means "churned" (else understood from yes/no, true/false, 1/0).
    pub fn positive(mut self, p: &str) -> Prepare {
        self.infer = self.infer.positive(p);
        self
    }
    /// Columns that are not features, whatever inference says.
    pub fn drop(mut self, columns: &[&str]) -> Prepare {
        self.drop = columns.iter().map(|c| c.to_string()).collect();
        self
    }
    /// Columns that are features, whatever inference says (ids and free text included).
    pub fn keep(mut self, columns: &[&str]) -> Prepare {
        self.infer = self.infer.keep(columns.iter().copied());
        self
    }
    /// Columns to treat as categories even when they hold numbers (codes, ratings).
    pub fn categorical(mut self, columns: &[&str]) -> Prepare {
        self.categorical = columns.iter().map(|c| c.to_string()).collect();
        self
    }
    /// Cell texts that mean "missing" (replacing the usual markers).
    pub fn na_values(mut self, markers: &[&str]) -> Prepare {
        self.infer = self.infer.na_values(markers.iter().copied());
        self
    }

    /// The schema for `table`: inferred, then the overrides applied.
    pub fn schema(&self, table: &Table) -> Result<Schema> {
        let mut s = Schema::infer_with(table, &self.target, &self.infer)?;
        for c in self.drop.iter().chain(&self.categorical) {
            if !table.headers().iter().any(|h| h == c) {
                bail!(data, churnkit_core::error::no_column(c, table.headers()));
            }
            ensure!(
                *c != self.target,
                data,
                "'{c}' is the target: it cannot be dropped or made a category"
            );
        }
        for c in &self.categorical {
            ensure!(
                !self.drop.contains(c),
                data,
                "'{c}' is both dropped and made a category"
            );
            s.numeric.retain(|x| x != c);
            s.id_columns.retain(|x| x != c);
            s.excluded.remove(c);
            s.valid_ranges.remove(c);
            if !s.categorical.contains(c) {
                s.categorical.push(c.clone());
            }
        }
        for c in &self.drop {
            s.numeric.retain(|x| x != c);
            s.categorical.retain(|x| x != c);
            s.valid_ranges.remove(c);
            s.excluded
                .insert(c.clone(), "dropped (the `drop` option)".into());
        }
        // A product fill (TotalCharges = Tenure x MonthlyCharges) needs all three numeric.
        let numeric = s.numeric.clone();
        s.fill_from_product
            .retain(|c, [a, b]| [c, a, b].iter().all(|x| numeric.contains(x)));
        s.check()?;
        Ok(s)
    }
}

/// [`prepare`] with every choice of `churnkit preprocess` (see [`Prepare`]).
pub fn prepare_with(df: &DataFrame, options: &Prepare) -> Result<Processed> {
    let table = Table::from_frame(df)?;
    let schema = options.schema(&table)?;
    Processed::fit(&table, &schema, options.split)
}

/// Stratified `k`-fold cross-validation of the forest on `df` prepared as `options` says: each
/// fold preprocessed on its own training rows, the folds fitted in parallel.
pub fn cross_validate(
    df: &DataFrame,
    options: &Prepare,
    params: RandomForestParams,
    k: usize,
) -> Result<crate::workflow::CrossValidation> {
    let table = Table::from_frame(df)?;
    let schema = options.schema(&table)?;
    crate::workflow::cross_validate(&table, &schema, &params.check()?, k, options.split.seed)
}

/// A cross-validation as a table: one row per fold (rows, churners, ROC AUC, F1, accuracy, log
/// loss), then the mean and the standard deviation.
pub fn cv_table(cv: &crate::workflow::CrossValidation) -> Result<DataFrame> {
    let mut label: Vec<String> = cv.folds.iter().map(|f| (f.fold + 1).to_string()).collect();
    label.extend(["mean".to_string(), "sd".to_string()]);
    let rows = |f: fn(&crate::workflow::Fold) -> usize| -> Vec<Option<u64>> {
        cv.folds
            .iter()
            .map(|x| Some(f(x) as u64))
            .chain([None, None])
            .collect()
    };
    let score = |f: fn(&crate::workflow::FoldScores) -> f64| -> Vec<f64> {
        cv.folds
            .iter()
            .map(|x| f(&x.scores))
            .chain([f(&cv.mean), f(&cv.sd)])
            .collect()
    };
    Ok(DataFrame::new(
        label.len(),
        vec![
            Column::new("fold".into(), label),
            Column::new("train_rows".into(), rows(|f| f.train_rows)),
            Column::new("test_rows".into(), rows(|f| f.test_rows)),
            Column::new("test_churners".into(), rows(|f| f.test_positive)),
            Column::new("roc_auc".into(), score(|s| s.roc_auc)),
            Column::new("f1".into(), score(|s| s.f1)),
            Column::new("accuracy".into(), score(|s| s.accuracy)),
            Column::new("log_loss".into(), score(|s| s.log_loss)),
        ],
    )?)
}

/// A table as CSV bytes (what a table logged as an artifact holds).
pub fn frame_csv(df: &DataFrame) -> Result<Vec<u8>> {
    use polars::prelude::{CsvWriter, SerWriter};
    let mut out = Vec::new();
    CsvWriter::new(&mut out).finish(&mut df.clone())?;
    Ok(out)
}

/// A column's values as text (numbers as written by [`fmt_float`]), missing as `None`.
pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    text_column(df, name)
}

/// Train churnkit's forest with `params` on the training rows of `data`.
pub fn fit(data: &Processed, params: RandomForestParams) -> Result<Trained> {
    train(data, params.check()?)
}

/// `model` on the test rows of `data`, at threshold 0.5: metrics, curves, reports, charts.
pub fn evaluation(model: &Model, data: &Processed) -> Result<Evaluation> {
    Ok(evaluate(model, data, 0.5)?.evaluation)
}

/// `model` on the test rows of `data` with what a retention team decides: the threshold with
/// the highest expected profit on the out-of-bag scores of the training rows, gains and lift,
/// calibration and the profit curve (see [`Evaluated::decisions`] and its charts).
pub fn decide(model: &Model, data: &Processed, economics: Economics) -> Result<Evaluated> {
    evaluate(
        model,
        data,
        EvaluateOptions::new()
            .threshold(Threshold::ProfitOptimal)
            .economics(economics),
    )
}

/// The gains table (one row per score decile) as a DataFrame.
pub fn gains_table(d: &Decisions) -> Result<DataFrame> {
    let Some(g) = &d.gains else {
        bail!(
            data,
            "no churner among the test rows: the gains table is undefined",
        );
    };
    let r = &g.rows;
    let f = |g: fn(&churnkit_core::gains::GainsRow) -> f64| r.iter().map(g).collect::<Vec<f64>>();
    Ok(DataFrame::new(
        r.len(),
        vec![
            Column::new(
                "decile".into(),
                r.iter().map(|x| x.group as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                r.iter().map(|x| x.customers as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "churners".into(),
                r.iter().map(|x| x.churners as u32).collect::<Vec<_>>(),
            ),
            Column::new("churn_rate".into(), f(|x| x.churn_rate)),
            Column::new("min_score".into(), f(|x| x.min_score)),
            Column::new("cumulative_capture".into(), f(|x| x.cumulative_capture)),
            Column::new("lift".into(), f(|x| x.lift)),
            Column::new("cumulative_lift".into(), f(|x| x.cumulative_lift)),
        ],
    )?)
}

/// The customers of a raw table `df` as the model sees them (preprocessed with `data`'s
/// fitted state; unseen categories as missing).
fn features_of(data: &Processed, df: &DataFrame) -> Result<(Table, churnkit_core::frame::Frame)> {
    let table = Table::from_frame(df)?;
    let (x, _) = data
        .state
        .transform_report(&table, UnknownCategory::Missing)?;
    Ok((table, x))
}

/// Exact TreeSHAP contributions of every feature for every customer of `df`.
pub fn contributions(model: &Model, data: &Processed, df: &DataFrame) -> Result<Contributions> {
    let (_, x) = features_of(data, df)?;
    model.explain(&x)
}

/// Why the model scores customer `row` of `df` as it does: a waterfall of the 8 largest
/// contributions, from the base value to the customer's score.
pub fn reasons_chart(model: &Model, data: &Processed, df: &DataFrame, row: usize) -> Result<Png> {
    if row >= df.height() {
        bail!(data, "row {row} is beyond the table's {} rows", df.height());
    }
    let (table, x) = features_of(data, df)?;
    let c = model.explain(&x.take(&[row]))?;
    let labels: Vec<String> = model
        .feature_names
        .iter()
        .map(|f| {
            let v = table.column(f).ok().and_then(|c| c[row].map(String::from));
            format!("{f} = {}", v.as_deref().unwrap_or("(missing)"))
        })
        .collect();
    churnkit_core::explain::waterfall_chart(
        &format!("Why customer {row} scores as it does"),
        &labels,
        c.row(0),
        c.base_value,
        8,
    )
}

/// Mean absolute SHAP contribution per feature over the customers of `df` (the global view
/// of the reasons), as bars.
pub fn reasons_summary_chart(model: &Model, data: &Processed, df: &DataFrame) -> Result<Png> {
    let c = contributions(model, data, df)?;
    plots::ranked_bars(
        "Mean |SHAP contribution| per feature",
        "Mean absolute contribution to the churn score",
        &model.feature_names,
        &c.mean_abs(),
    )
}

/// A beeswarm of the TreeSHAP contributions over the customers of `df` (at most
/// [`BEESWARM_MAX_ROWS`](churnkit_core::explain::BEESWARM_MAX_ROWS), by a stride): the 12
/// features with the largest mean |contribution|, one dot per customer, coloured by the
/// feature's value.
pub fn reasons_beeswarm_chart(model: &Model, data: &Processed, df: &DataFrame) -> Result<Png> {
    use churnkit_core::explain::{beeswarm_chart, beeswarm_rows};
    let (_, x) = features_of(data, df)?;
    // Only the drawn rows are explained: a 1M-row table costs what 2,000 rows cost.
    let x = x.take(&beeswarm_rows(x.n_rows()));
    let c = model.explain(&x)?;
    beeswarm_chart(
        "TreeSHAP contributions per customer",
        &model.feature_names,
        &c,
        &x.to_array2().view(),
        12,
    )
}

/// Feature importances as a table, largest first.
pub fn importance_table(model: &Model) -> Result<DataFrame> {
    let v = model.importances();
    Ok(DataFrame::new(
        v.len(),
        vec![
            Column::new(
                "feature".into(),
                v.iter().map(|x| x.0.to_string()).collect::<Vec<_>>(),
            ),
            Column::new(
                "importance".into(),
                v.iter().map(|x| x.1).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Horizontal importance bars, sorted.
pub fn importance_chart(model: &Model) -> Result<Png> {
    plots::feature_importance_chart(&model.feature_names, &model.feature_importances)
}

/// scikit-learn's classification report as a table: one row per class and average, then
/// accuracy.
pub fn report_table(r: &ClassificationReport) -> Result<DataFrame> {
    let rows = [
        ("0", r.class_0),
        ("1", r.class_1),
        ("macro avg", r.macro_avg),
        ("weighted avg", r.weighted_avg),
    ];
    let total = r.macro_avg.support as f64;
    let mut class: Vec<String> = rows.iter().map(|(k, _)| k.to_string()).collect();
    let mut precision: Vec<f64> = rows.iter().map(|(_, c)| c.precision).collect();
    let mut recall: Vec<f64> = rows.iter().map(|(_, c)| c.recall).collect();
    let mut f1: Vec<f64> = rows.iter().map(|(_, c)| c.f1_score).collect();
    let mut support: Vec<f64> = rows.iter().map(|(_, c)| c.support as f64).collect();
    class.push("accuracy".into());
    precision.push(f64::NAN);
    recall.push(f64::NAN);
    f1.push(r.accuracy);
    support.push(total);
    Ok(DataFrame::new(
        class.len(),
        vec![
            Column::new("class".into(), class),
            Column::new("precision".into(), precision),
            Column::new("recall".into(), recall),
            Column::new("f1-score".into(), f1),
            Column::new("support".into(), support),
        ],
    )?)
}

/// A churnkit project seen from a notebook: its `data/`, `models/`, `mlruns/` and the tracking
/// server of `MLFLOW_TRACKING_URI`, if set. Notebooks in `notebooks/` open `Project::open("..")`.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project root.
    pub root: std::path::PathBuf,
}

impl Project {
    /// Open the project at `root` (it must hold `data/`).
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        ensure!(
            root.join("data").is_dir(),
            data,
            "{} has no data/ directory: not a churnkit project",
            root.display()
        );
        Ok(Project { root })
    }

    /// A path inside the project.
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.root.join(rel)
    }

    /// The project's file layout.
    pub fn layout(&self) -> Layout {
        Layout::under(&self.root)
    }

    /// Where runs are read from: the server if `MLFLOW_TRACKING_URI` is set, else `mlruns/`.
    pub fn source(&self) -> Result<RunSource> {
        Ok(match tracking::MlflowClient::from_env()? {
            Some(c) => RunSource::Server(c),
            None => RunSource::Local(tracking::LocalStore::new(self.path("mlruns"))),
        })
    }

    /// Start a run of `experiment` named `name`, to fill from cells and [`CellRun::end`].
    pub fn start_run(&self, experiment: &str, name: &str) -> Result<CellRun> {
        ensure!(
            !experiment.trim().is_empty(),
            params,
            "a run needs an experiment name"
        );
        let mut record = tracking::RunRecord::new(tracking::RunKind::Notebook, experiment, name);
        record
            .tags
            .insert("mlflow.runName".into(), name.to_string());
        record
            .tags
            .insert("mlflow.source.type".into(), "NOTEBOOK".into());
        Ok(CellRun {
            record,
            ended: None,
        })
    }

    /// Runs of several experiments matching `filter` in MLflow's syntax
    /// (`"metrics.roc_auc > 0.85 and params.max_depth = '8'"`), ordered by `order_by`
    /// (`"metrics.roc_auc DESC"`; default newest first): from the server if
    /// `MLFLOW_TRACKING_URI` is set, else from `mlruns/`, with the same rows either way.
    pub fn search_runs<E: AsRef<str>, O: AsRef<str>>(
        &self,
        experiments: &[E],
        filter: &str,
        order_by: &[O],
    ) -> Result<DataFrame> {
        let e: Vec<&str> = experiments.iter().map(AsRef::as_ref).collect();
        let o: Vec<&str> = order_by.iter().map(AsRef::as_ref).collect();
        let rows = self.source()?.search(&e, filter, &o)?;
        let mut df = tracking::query::runs_frame(&rows, None)?;
        let names: Vec<String> = rows.iter().map(|r| r.experiment.clone()).collect();
        df.insert_column(2, Column::new("experiment".into(), names))?;
        Ok(df)
    }

    /// Where runs are logged: `mlruns/`, and the server if `MLFLOW_TRACKING_URI` is set.
    pub fn tracker(&self) -> Result<Tracker> {
        Ok(Tracker {
            local: tracking::LocalStore::new(self.path("mlruns")),
            server: tracking::MlflowClient::from_env()?,
        })
    }

    /// The pipeline's model with the preprocessor it was trained with
    /// (`models/churn_model.json`, `data/processed/preprocessor.json`), checked against each
    /// other: what [`predict_frame`] needs to score raw rows.
    pub fn saved_model(&self) -> Result<Saved> {
        let layout = self.layout();
        let preprocessor = layout.load_preprocessor()?;
        let model = layout.load_model(&preprocessor.feature_names())?;
        Ok(Saved {
            model,
            preprocessor,
        })
    }

    /// The saved model (`models/churn_model.json`).
    pub fn model(&self) -> Result<Model> {
        load_model(self.layout().model_path())
    }

    /// Ids of the `n` most recent runs of an experiment.
    pub fn recent_run_ids(&self, experiment: &str, n: usize) -> Result<Vec<String>> {
        Ok(self
            .source()?
            .runs(experiment, "", &[])?
            .into_iter()
            .take(n)
            .map(|r| r.run_id)
            .collect())
    }

    /// Runs of an experiment, newest first: ids, params, metrics.
    pub fn runs(&self, experiment: &str) -> Result<DataFrame> {
        tracking::search_runs(&self.source()?, experiment, "", &[])
    }

    /// The run with the highest `metric`.
    pub fn best_run(&self, experiment: &str, metric: &str) -> Result<tracking::RunRow> {
        tracking::best_run(&self.source()?, experiment, metric)?
            .ok_or_else(|| Error::data(format!("no run of '{experiment}' has metric '{metric}'")))
    }

    /// Runs side by side: differing params and all metrics.
    pub fn compare<S: AsRef<str>>(&self, run_ids: &[S]) -> Result<DataFrame> {
        tracking::compare(&self.source()?, run_ids)
    }

    /// The model registry: the server's if `MLFLOW_TRACKING_URI` is set, else the one in
    /// `mlruns/`.
    pub fn registry(&self) -> Result<tracking::Registry> {
        let local = tracking::LocalStore::new(self.path("mlruns"));
        Ok(match tracking::MlflowClient::from_env()? {
            Some(c) => tracking::Registry::Server(c, local),
            None => tracking::Registry::Local(local),
        })
    }

    /// Register the model of training run `run_id` as the next version of `name`; its number.
    pub fn register(&self, run_id: &str, name: &str) -> Result<u64> {
        Ok(self.registry()?.register(name, run_id)?.version)
    }

    /// Point `alias` (e.g. `champion`) of `name` at `version`.
    pub fn promote(&self, name: &str, version: u64, alias: &str) -> Result<()> {
        self.registry()?.set_alias(name, alias, version)
    }

    /// Every registered model version: model, version, aliases, run_id, source.
    pub fn models(&self) -> Result<DataFrame> {
        let mut cols: [Vec<String>; 5] = Default::default();
        let mut versions: Vec<u64> = Vec::new();
        for m in self.registry()?.list(None)? {
            for v in m.versions {
                cols[0].push(m.name.clone());
                versions.push(v.version);
                cols[2].push(v.aliases.join(","));
                cols[3].push(v.run_id);
                cols[4].push(v.source);
            }
        }
        let [names, _, aliases, runs, sources] = cols;
        Ok(DataFrame::new(
            names.len(),
            vec![
                Column::new("model".into(), names),
                Column::new("version".into(), versions),
                Column::new("aliases".into(), aliases),
                Column::new("run_id".into(), runs),
                Column::new("source".into(), sources),
            ],
        )?)
    }

    /// Score the customers of `df` with a registered model (`models:/churn@champion`,
    /// `models:/churn/2`): their ids, `churn_probability` and `churn_prediction`.
    pub fn score(&self, uri: &str, df: &DataFrame) -> Result<DataFrame> {
        let registry = self.registry()?;
        let version = registry.resolve(&uri.parse()?)?;
        let cache = std::env::var_os("CHURNKIT_MODEL_CACHE")
            .map_or_else(|| self.path(".churnkit-models"), std::path::PathBuf::from);
        let dir = registry.fetch(
            &version,
            &cache,
            &[crate::artifacts::MODEL, crate::artifacts::PREPROCESSOR],
        )?;
        let layout = Layout {
            processed: dir.clone(),
            models: dir.clone(),
            metrics: dir,
        };
        let pre = layout.load_preprocessor()?;
        let model = layout.load_model(&pre.feature_names())?;
        let saved = Saved {
            model,
            preprocessor: pre,
        };
        let mut out = predict_frame(&saved, df, 0.5, 0)?;
        // The registry's scoring keeps its three columns.
        let _ = out.drop_in_place("score_decile");
        Ok(out)
    }

    /// A metric against a numeric param over an experiment's runs (e.g. test_f1 vs max_depth).
    pub fn metric_vs_param(&self, experiment: &str, metric: &str, param: &str) -> Result<Png> {
        let rows = self.source()?.runs(experiment, "", &[])?;
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((r.params.get(param)?.parse().ok()?, *r.metrics.get(metric)?)))
            .collect();
        plots::line_chart(&format!("{metric} vs {param}"), param, metric, &pts)
    }

    /// A run's metric history (e.g. test_roc_auc as trees are added).
    pub fn metric_history_chart(&self, run_id: &str, metric: &str) -> Result<Png> {
        let h = self.source()?.history(run_id, metric)?;
        let pts: Vec<(f64, f64)> = h
            .iter()
            .filter_map(|p| Some((p.step as f64, p.value?)))
            .collect();
        plots::line_chart(&format!("{metric} by step"), "step", metric, &pts)
    }

    /// Train one forest per `max_depth` on `data` in memory, log each run (model and
    /// importances as artifacts) to `experiment`, and return a table of the results. Nothing
    /// is written to `models/`.
    pub fn sweep_max_depth(
        &self,
        experiment: &str,
        data: &Processed,
        depths: &[usize],
    ) -> Result<DataFrame> {
        let grid = crate::workflow::Grid::new().max_depth(depths.iter().map(|&d| Some(d)));
        self.sweep(experiment, data, &grid)
    }

    /// Train one forest per combination of `grid` on `data`, in parallel, log each run to
    /// `experiment` (in grid order), and return one row per run: the hyperparameters, train and
    /// test F1, test and out-of-bag ROC AUC, fit seconds (overlapping, as the fits run side by
    /// side) and the run id, ready for [`Project::compare`].
    pub fn sweep(
        &self,
        experiment: &str,
        data: &Processed,
        grid: &crate::workflow::Grid,
    ) -> Result<DataFrame> {
        self.sweep_by(experiment, data, grid, Rank::Grid)
    }

    /// [`Project::sweep`], ranked best first by `rank`: the test rows' ROC AUC, the out-of-bag
    /// ROC AUC of the training rows, or a stratified k-fold cross-validation on the training
    /// rows (its mean and sd become columns and metrics of each run). The last two choose
    /// without looking at the test rows.
    pub fn sweep_by(
        &self,
        experiment: &str,
        data: &Processed,
        grid: &crate::workflow::Grid,
        rank: Rank,
    ) -> Result<DataFrame> {
        let params = grid.params()?;
        ensure!(
            rank != Rank::OutOfBag || params.iter().all(|p| p.bootstrap()),
            params,
            "ranking by out-of-bag ROC AUC needs bootstrap in every combination of the grid"
        );
        let tracker = self.tracker()?;
        let results = crate::workflow::train_grid(data, ModelKind::RandomForest, &params)?;
        let cv = match rank {
            Rank::CrossValidated(k) => params
                .iter()
                .map(|p| {
                    crate::workflow::cross_validate_rows(
                        &data.x_train,
                        &data.y_train,
                        p,
                        k,
                        p.seed(),
                    )
                    .map(Some)
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![None; params.len()],
        };
        let mut ids = Vec::with_capacity(results.len());
        for (t, cv) in results.iter().zip(&cv) {
            let mut record = t.run_record(data, experiment);
            if let Some(cv) = cv {
                record
                    .metrics
                    .insert("cv_roc_auc".into(), Some(cv.mean.roc_auc));
                record
                    .metrics
                    .insert("cv_roc_auc_sd".into(), Some(cv.sd.roc_auc));
                record
                    .params
                    .insert("cv_folds".into(), cv.folds.len().to_string());
            }
            ids.push(tracker.log(&record)?.run_id().to_string());
        }
        let col_u64 = |f: fn(&churnkit_core::forest::RandomForestValidParams) -> u64| -> Vec<u64> {
            params.iter().map(f).collect()
        };
        let depth: Vec<Option<u64>> = params
            .iter()
            .map(|p| p.max_depth().map(|d| d as u64))
            .collect();
        let metric = |f: fn(&Trained) -> Option<f64>| -> Vec<Option<f64>> {
            results.iter().map(f).collect()
        };
        let oob: Vec<Option<f64>> = results
            .iter()
            .map(|t| t.oob.as_ref().and_then(|o| o.roc_auc))
            .collect();
        let mut cols = vec![
            Column::new("n_estimators".into(), col_u64(|p| p.n_estimators() as u64)),
            Column::new("max_depth".into(), depth),
            Column::new(
                "min_samples_split".into(),
                col_u64(|p| p.min_samples_split() as u64),
            ),
            Column::new(
                "min_samples_leaf".into(),
                col_u64(|p| p.min_samples_leaf() as u64),
            ),
            Column::new(
                "max_features".into(),
                params
                    .iter()
                    .map(|p| p.max_features().to_string())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "bootstrap".into(),
                params.iter().map(|p| p.bootstrap()).collect::<Vec<_>>(),
            ),
            Column::new("train_f1".into(), metric(|t| Some(t.train.f1))),
            Column::new("test_f1".into(), metric(|t| Some(t.test.f1))),
            Column::new("roc_auc".into(), metric(|t| t.test.roc_auc)),
            Column::new("oob_roc_auc".into(), oob.clone()),
        ];
        if matches!(rank, Rank::CrossValidated(_)) {
            let each = |f: fn(&crate::workflow::CrossValidation) -> f64| -> Vec<Option<f64>> {
                cv.iter().map(|c| c.as_ref().map(f)).collect()
            };
            cols.push(Column::new("cv_roc_auc".into(), each(|c| c.mean.roc_auc)));
            cols.push(Column::new("cv_roc_auc_sd".into(), each(|c| c.sd.roc_auc)));
        }
        cols.push(Column::new("fit_s".into(), metric(|t| Some(t.fit_seconds))));
        cols.push(Column::new("run_id".into(), ids));
        let table = DataFrame::new(results.len(), cols)?;
        let key: Option<Vec<Option<f64>>> = match rank {
            Rank::Grid => None,
            Rank::Test => Some(metric(|t| t.test.roc_auc)),
            Rank::OutOfBag => Some(oob),
            Rank::CrossValidated(_) => Some(
                cv.iter()
                    .map(|c| c.as_ref().map(|c| c.mean.roc_auc))
                    .collect(),
            ),
        };
        let Some(key) = key else { return Ok(table) };
        // Best first; ties keep grid order.
        let mut order: Vec<IdxSize> = (0..key.len() as IdxSize).collect();
        let v = |i: IdxSize| key[i as usize].unwrap_or(f64::NEG_INFINITY);
        order.sort_by(|&a, &b| v(b).total_cmp(&v(a)));
        Ok(table.take(&IdxCa::from_vec("rank".into(), order))?)
    }
}

/// A run logged by hand from cells ([`Project::start_run`]): params, metrics, tags and artifacts
/// are gathered, then [`CellRun::end`] logs them all at once (to `mlruns/`, and to the server of
/// `MLFLOW_TRACKING_URI` if set), so a run is never half-logged. A metric logged several times
/// keeps every value as its history (steps 0, 1, ...), the last as its value, as MLflow does.
#[derive(Debug, Clone)]
pub struct CellRun {
    record: tracking::RunRecord,
    ended: Option<String>,
}

/// MLflow's rule for names: letters, digits, `_ - . / ` and spaces, at most 250 characters.
fn check_key(what: &str, key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 250
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_-./ ".contains(c))
        && !key.split('/').any(|p| p == "..");
    ensure!(
        ok,
        params,
        "{what} name '{key}' is not allowed: letters, digits, _ - . / and spaces, at most 250 characters"
    );
    Ok(())
}

impl CellRun {
    fn open(&self) -> Result<()> {
        match &self.ended {
            Some(id) => bail!(
                params,
                "this run was ended and logged as {id}: start a new one"
            ),
            None => Ok(()),
        }
    }

    /// The run's name.
    pub fn name(&self) -> &str {
        &self.record.run_name
    }

    /// The run id, once ended.
    pub fn run_id(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Add params. A param keeps its first value, as in MLflow: a different one is an error.
    pub fn log_params<K: AsRef<str>, V: AsRef<str>>(&mut self, params: &[(K, V)]) -> Result<()> {
        self.open()?;
        for (k, v) in params {
            let (k, v) = (k.as_ref(), v.as_ref());
            check_key("param", k)?;
            ensure!(
                v.len() <= 6000,
                params,
                "param '{k}' is longer than 6000 characters"
            );
            match self.record.params.get(k) {
                Some(old) if old != v => bail!(
                    params,
                    "param '{k}' is already '{old}'; a param is logged once (use a metric for values that change)"
                ),
                _ => {
                    self.record.params.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok(())
    }

    /// Add metric values; logging a metric again adds a step to its history.
    pub fn log_metrics<K: AsRef<str>>(&mut self, metrics: &[(K, f64)]) -> Result<()> {
        self.open()?;
        for (k, v) in metrics {
            let k = k.as_ref();
            check_key("metric", k)?;
            let value = Some(*v).filter(|v| !v.is_nan());
            let history = self.record.metric_history.entry(k.to_string()).or_default();
            history.push(tracking::MetricPoint {
                step: history.len() as i64,
                value,
            });
            self.record.metrics.insert(k.to_string(), value);
        }
        Ok(())
    }

    /// Set tags (a tag set again takes the new value).
    pub fn set_tags<K: AsRef<str>, V: AsRef<str>>(&mut self, tags: &[(K, V)]) -> Result<()> {
        self.open()?;
        for (k, v) in tags {
            check_key("tag", k.as_ref())?;
            self.record
                .tags
                .insert(k.as_ref().to_string(), v.as_ref().to_string());
        }
        Ok(())
    }

    /// Add a file to the run's artifacts (`name` a relative path such as `charts/gains.png`).
    pub fn log_artifact(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.open()?;
        check_key("artifact", name)?;
        ensure!(
            !name.starts_with('/') && !name.starts_with("model/"),
            params,
            "artifact '{name}' must be a relative path outside model/"
        );
        self.record.artifacts.retain(|a| a.path != name);
        self.record
            .artifacts
            .push(tracking::Artifact::new(name, bytes));
        Ok(())
    }

    /// Log the run with `tracker` (all or nothing); its id. A run ends once.
    pub fn end(&mut self, tracker: &Tracker) -> Result<String> {
        self.open()?;
        // Histories of one point are plain values.
        self.record.metric_history.retain(|_, h| h.len() > 1);
        self.record.end_time_ms = tracking::now_ms();
        let logged = tracker.log(&self.record)?;
        let id = logged.run_id().to_string();
        self.ended = Some(id.clone());
        Ok(id)
    }

    /// One line: what the run holds and whether it was logged.
    pub fn summary(&self) -> String {
        let r = &self.record;
        let what = format!(
            "run '{}' of '{}': {} params, {} metrics, {} tags, {} artifacts",
            r.run_name,
            r.experiment,
            r.params.len(),
            r.metrics.len(),
            r.tags.len(),
            r.artifacts.len()
        );
        match &self.ended {
            Some(id) => format!("{what}; logged as {id}"),
            None => format!("{what}; not logged yet: end() logs it"),
        }
    }
}

/// What a sweep is ranked by (see [`Project::sweep_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// Not ranked: the grid's order.
    Grid,
    /// The test rows' ROC AUC.
    Test,
    /// The out-of-bag ROC AUC of the training rows.
    OutOfBag,
    /// The mean ROC AUC of a stratified k-fold cross-validation on the training rows.
    CrossValidated(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DataFrame {
        load_csv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/sample_data.csv"
        ))
        .unwrap()
    }

    #[test]
    fn load_csv_types_columns_and_keeps_blanks_missing() {
        let df = sample();
        assert_eq!(df.shape(), (100, 8));
        assert_eq!(df.column("Age").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("Contract").unwrap().dtype(), &DataType::String);
        let m = missing_values(&df).unwrap();
        let tc = m.column("missing").unwrap().u64().unwrap().get(4);
        assert_eq!(tc, Some(1));
    }

    #[test]
    fn feature_tests_table_has_one_row_per_feature_sorted_by_p_value() {
        let t = feature_tests(&sample(), "Churn").unwrap();
        assert_eq!(t.height(), 6);
        let p: Vec<f64> = t
            .column("p_value")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        let tests: Vec<Option<&str>> = t.column("test").unwrap().str().unwrap().iter().collect();
        assert_eq!(
            tests.iter().filter(|x| **x == Some("chi-square")).count(),
            2
        );
    }

    #[test]
    fn summary_and_correlation_are_right() {
        let df = sample();
        let s = summary(&df).unwrap();
        assert_eq!(s.column("Age").unwrap().f64().unwrap().get(0), Some(100.0));
        let (names, m) = correlation_matrix(&df, "Churn").unwrap();
        assert_eq!(names.last().unwrap(), "Churn");
        for (i, row) in m.iter().enumerate() {
            assert!((row[i] - 1.0).abs() < 1e-12);
        }
        let g = churn_rate_groups(&df, "Contract", "Churn").unwrap();
        assert_eq!(g.iter().map(|x| x.2).sum::<usize>(), 100);
        // Month-to-month customers churn more than two-year ones in the generator.
        assert!(g[0].1 > g[2].1, "{g:?}");
    }

    #[test]
    fn every_chart_renders() {
        let df = sample();
        for png in [
            churn_distribution(&df, "Churn").unwrap(),
            histogram_by_churn(&df, "Age", "Churn").unwrap(),
            scatter_by_churn(&df, "Tenure", "MonthlyCharges", "Churn").unwrap(),
            churn_rate_by(&df, "Contract", "Churn").unwrap(),
            correlation_chart(&df, "Churn").unwrap(),
            plots::line_chart("f1", "depth", "f1", &[(3.0, 0.5), (5.0, 0.6), (7.0, 0.55)]).unwrap(),
        ] {
            assert_eq!(&png.bytes[1..4], b"PNG");
            assert!(png.bytes.len() > 5_000);
        }
    }

    #[test]
    fn the_workflow_runs_in_memory_from_a_frame_as_the_cli_does() {
        let df = sample();
        let data = prepare(&df, "Churn").unwrap();
        // Inferred for the sample, the schema is the guide's: the same features as the CLI's.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample_data.csv");
        let cli = Processed::fit(
            &Table::read_csv(path).unwrap(),
            &Schema::default(),
            SplitOptions::default(),
        )
        .unwrap();
        assert_eq!(data.x_train, cli.x_train);
        assert_eq!(data.y_test, cli.y_test);
        let trained = fit(&data, RandomForestParams::new().n_estimators(30)).unwrap();
        let eval = evaluation(trained.model(), &data).unwrap();
        assert_eq!(eval.y.len(), data.y_test.len());
        let t = report_table(&eval.report).unwrap();
        assert_eq!(t.shape(), (5, 5));
        let f1 = t.columns()[3].f64().unwrap();
        assert_eq!(f1.get(1), Some(eval.report.class_1.f1_score));
        assert_eq!(f1.get(4), Some(eval.report.accuracy));
    }

    #[test]
    fn a_sweep_ranked_by_cross_validation_or_out_of_bag_puts_the_best_first() {
        if std::env::var_os("MLFLOW_TRACKING_URI").is_some() {
            eprintln!("skipping: MLFLOW_TRACKING_URI is set and the sweep would log there");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let project = Project::open(dir.path()).unwrap();
        let data = prepare(&sample(), "Churn").unwrap();
        let grid =
            crate::workflow::Grid::new()
                .n_estimators([20])
                .max_depth([Some(1), Some(3), None]);
        let column = |t: &DataFrame, c: &str| -> Vec<f64> {
            f64_column(t, c)
                .unwrap()
                .into_iter()
                .map(|v| v.unwrap())
                .collect()
        };
        let cv = project
            .sweep_by("cv", &data, &grid, Rank::CrossValidated(3))
            .unwrap();
        let auc = column(&cv, "cv_roc_auc");
        assert!(auc.windows(2).all(|w| w[0] >= w[1]), "{auc:?}");
        // The cross-validated figure is each setting's own, computed on the training rows: the
        // same as cross-validating that setting alone.
        let depth = cv
            .column("max_depth")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<usize>();
        let p = RandomForestParams::new()
            .n_estimators(20)
            .max_depth(depth)
            .check()
            .unwrap();
        let alone =
            crate::workflow::cross_validate_rows(&data.x_train, &data.y_train, &p, 3, p.seed())
                .unwrap();
        assert_eq!(auc[0], alone.mean.roc_auc);
        let runs = tracking::LocalStore::new(project.path("mlruns"))
            .list(Some("cv"))
            .unwrap();
        assert!(runs
            .iter()
            .all(|r| r.record.metrics.contains_key("cv_roc_auc")));
        let oob = project
            .sweep_by("oob", &data, &grid, Rank::OutOfBag)
            .unwrap();
        let o = column(&oob, "oob_roc_auc");
        assert!(o.windows(2).all(|w| w[0] >= w[1]), "{o:?}");
        let no_bootstrap = grid.clone().bootstrap([false]);
        let e = project
            .sweep_by("oob2", &data, &no_bootstrap, Rank::OutOfBag)
            .unwrap_err();
        assert!(e.to_string().contains("bootstrap"), "{e}");
        // Refused before anything was trained or logged.
        let logged = tracking::LocalStore::new(project.path("mlruns")).list(Some("oob2"));
        assert!(logged.map_or(true, |r| r.is_empty()));
    }

    #[test]
    fn a_sweep_logs_each_model_and_writes_nothing_else() {
        if std::env::var_os("MLFLOW_TRACKING_URI").is_some() {
            eprintln!("skipping: MLFLOW_TRACKING_URI is set and the sweep would log there");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let project = Project::open(dir.path()).unwrap();
        let data = prepare(&sample(), "Churn").unwrap();
        let table = project.sweep_max_depth("sweep", &data, &[2, 6]).unwrap();
        assert_eq!(table.shape(), (2, 12));
        // Any hyperparameters: 2 x 2 combinations, one logged run each, in grid order.
        let grid = crate::workflow::Grid::new()
            .n_estimators([10])
            .min_samples_leaf([1, 8])
            .max_features([MaxFeatures::Sqrt, MaxFeatures::All]);
        let t = project.sweep("grid", &data, &grid).unwrap();
        assert_eq!(t.height(), 4);
        let leaf: Vec<Option<u64>> = t
            .column("min_samples_leaf")
            .unwrap()
            .u64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(leaf, [Some(1), Some(1), Some(8), Some(8)]);
        let logged = tracking::LocalStore::new(project.path("mlruns"))
            .list(Some("grid"))
            .unwrap();
        assert_eq!(logged.len(), 4);
        let runs = tracking::LocalStore::new(project.path("mlruns"))
            .list(Some("sweep"))
            .unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs[0]
            .record
            .artifacts
            .iter()
            .any(|a| a.path == "model/churn_model.json"));
        let mut top: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, ["data", "mlruns"]);
    }
}
