//! The notebook layer (feature `notebook`): one-line cells for Jupyter on the evcxr kernel.
//!
//! ```text
//! :dep churnkit = { path = "../churnkit", features = ["notebook"] }
//! use churnkit::notebook::*;
//! let df = load_csv("../data/sample_data.csv")?;
//! df                                        // an HTML table with shape and dtypes
//! churn_distribution(&df, "Churn")          // a chart
//! ```
//!
//! Everything a notebook needs is re-exported here (polars included), so a notebook depends on
//! churnkit alone and never builds a second polars.

mod display;

pub use display::{base64, content_block, escape, fmt_float, frame_html, Display, Html, Report};
// `col` is defined below: the evcxr-safe column lookup.

pub use crate::evaluate::{BinaryMetrics, BusinessMetrics, Confusion};
pub use crate::forest::{MaxFeatures, RandomForestParams};
pub use crate::model::SavedModel;
pub use crate::plots::Png;
pub use crate::tracking::{self, RunSource, Tracker};
pub use polars;
pub use polars::prelude::{Column, DataFrame, DataType};

use crate::plots::{self, PlotError};
use crate::table::{DataError, RawTable};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Errors of notebook helpers, one type so cells can use `?` throughout.
#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    /// Bad data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A chart failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// polars failed.
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
    /// Tracking failed.
    #[error(transparent)]
    Tracking(#[from] crate::tracking::TrackingError),
    /// A pipeline step failed.
    #[error(transparent)]
    Step(#[from] crate::pipeline::StepError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Result of notebook helpers.
pub type Result<T, E = NotebookError> = std::result::Result<T, E>;

/// Read a CSV for exploration: columns whose non-blank cells are all numbers become `f64`
/// (blanks are nulls), the others stay text. Blank and whitespace-only cells are missing.
pub fn load_csv(path: impl AsRef<Path>) -> Result<DataFrame> {
    let t = RawTable::read(path)?;
    let mut cols = Vec::new();
    for h in t.headers() {
        let cells = t.column(h)?;
        let parsed: Vec<Option<f64>> = cells
            .iter()
            .map(|c| c.and_then(|s| s.parse().ok()))
            .collect();
        let numeric = cells
            .iter()
            .zip(&parsed)
            .all(|(c, p)| c.is_none() || p.is_some())
            && cells.iter().any(Option::is_some);
        cols.push(if numeric {
            Column::new(h.as_str().into(), parsed)
        } else {
            Column::new(
                h.as_str().into(),
                cells
                    .iter()
                    .map(|c| c.map(str::to_string))
                    .collect::<Vec<Option<String>>>(),
            )
        });
    }
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
            NotebookError::Other(format!(
                "no column '{name}' (columns: {})",
                names.join(", ")
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
        let q = |p: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
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
    Ok(plots::count_chart(
        &format!("{target} distribution"),
        &[NAMES[0].to_string(), NAMES[1].to_string()],
        &[y.len() - ones, ones],
    )?)
}

/// Histogram of a numeric column by churn class (e.g. Age by churn).
pub fn histogram_by_churn(df: &DataFrame, column: &str, target: &str) -> Result<Png> {
    let y = target_labels(df, target)?;
    let v: Vec<f64> = f64_column(df, column)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    Ok(plots::histogram_by_class(
        &format!("{column} by {target}"),
        column,
        &v,
        &y,
        NAMES,
        20,
    )?)
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
    Ok(plots::scatter_by_class(
        &format!("{x} vs {y}"),
        (x, &xs),
        (y, &ys),
        &t,
        NAMES,
    )?)
}

/// Churn rate per category of a column (e.g. Contract), with group sizes.
pub fn churn_rate_by(df: &DataFrame, column: &str, target: &str) -> Result<Png> {
    Ok(plots::rate_by_category(
        &format!("Churn rate by {column}"),
        column,
        &churn_rate_groups(df, column, target)?,
    )?)
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
    Ok(plots::correlation_heatmap(&names, &m)?)
}

/// Load a saved model (validated).
pub fn load_model(path: impl AsRef<Path>) -> Result<SavedModel> {
    SavedModel::load(path, None).map_err(|e| NotebookError::Step(e.into()))
}

/// Feature importances as a table, largest first.
pub fn importance_table(model: &SavedModel) -> Result<DataFrame> {
    let mut v: Vec<(String, f64)> = model
        .feature_names
        .iter()
        .cloned()
        .zip(model.feature_importances.iter().copied())
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(DataFrame::new(
        v.len(),
        vec![
            Column::new(
                "feature".into(),
                v.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "importance".into(),
                v.iter().map(|x| x.1).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Horizontal importance bars, sorted.
pub fn importance_chart(model: &SavedModel) -> Result<Png> {
    Ok(plots::feature_importance_chart(
        &model.feature_names,
        &model.feature_importances,
    )?)
}

/// The saved model scored on the processed test split: metrics, report and charts.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Test labels.
    pub y: Vec<u8>,
    /// Class-1 probabilities.
    pub proba: Vec<f64>,
    /// Headline metrics at 0.5.
    pub metrics: BinaryMetrics,
    /// Confusion matrix at 0.5.
    pub confusion: Confusion,
}

impl Evaluation {
    /// Score `processed_dir`'s test split with the model in `models_dir`.
    pub fn load(processed_dir: impl AsRef<Path>, models_dir: impl AsRef<Path>) -> Result<Self> {
        let data = crate::preprocess::ProcessedData::load(processed_dir)
            .map_err(|e| NotebookError::Step(e.into()))?;
        let model = SavedModel::load(
            models_dir.as_ref().join(crate::pipeline::MODEL_FILE),
            Some(&data.state.feature_names()),
        )
        .map_err(|e| NotebookError::Step(e.into()))?;
        let proba = model
            .predict_frame(&data.x_test)
            .map_err(|e| NotebookError::Step(e.into()))?;
        let pred = crate::evaluate::labels(&proba, 0.5);
        Ok(Evaluation {
            metrics: BinaryMetrics::compute(&data.y_test, &proba, 0.5),
            confusion: Confusion::from_labels(&data.y_test, &pred),
            y: data.y_test,
            proba,
        })
    }

    /// scikit-learn's classification report as a table.
    pub fn report(&self) -> Result<DataFrame> {
        let r = crate::evaluate::classification_report(
            &self.y,
            &crate::evaluate::labels(&self.proba, 0.5),
        );
        let rows = ["0", "1", "macro avg", "weighted avg"];
        let get = |k: &str, m: &str| r[k][m].as_f64().unwrap_or(f64::NAN);
        let mut cols = vec![Column::new(
            "class".into(),
            rows.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )];
        for m in ["precision", "recall", "f1-score", "support"] {
            cols.push(Column::new(
                m.into(),
                rows.iter().map(|k| get(k, m)).collect::<Vec<_>>(),
            ));
        }
        let mut df = DataFrame::new(rows.len(), cols)?;
        let acc = DataFrame::new(
            1,
            vec![
                Column::new("class".into(), vec!["accuracy".to_string()]),
                Column::new("precision".into(), vec![f64::NAN]),
                Column::new("recall".into(), vec![f64::NAN]),
                Column::new(
                    "f1-score".into(),
                    vec![r["accuracy"].as_f64().unwrap_or(f64::NAN)],
                ),
                Column::new("support".into(), vec![self.y.len() as f64]),
            ],
        )?;
        df.vstack_mut(&acc)?;
        Ok(df)
    }

    /// Confusion matrix heatmap.
    pub fn confusion_chart(&self) -> Result<Png> {
        Ok(plots::confusion_matrix_chart(
            &self.confusion,
            ["No churn (0)", "Churn (1)"],
        )?)
    }

    /// ROC curve.
    pub fn roc_chart(&self) -> Result<Png> {
        Ok(plots::roc_chart(
            crate::evaluate::roc_curve(&self.y, &self.proba).as_ref(),
            self.metrics.roc_auc,
        )?)
    }

    /// Precision-recall curve.
    pub fn pr_chart(&self) -> Result<Png> {
        let prev = self.y.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y.len().max(1) as f64;
        Ok(plots::pr_chart(
            crate::evaluate::precision_recall_curve(&self.y, &self.proba).as_ref(),
            crate::evaluate::average_precision(&self.y, &self.proba),
            prev,
        )?)
    }
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
        if !root.join("data").is_dir() {
            return Err(NotebookError::Other(format!(
                "{} has no data/ directory: not a churnkit project",
                root.display()
            )));
        }
        Ok(Project { root })
    }

    /// A path inside the project.
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.root.join(rel)
    }

    /// Where runs are read from: the server if `MLFLOW_TRACKING_URI` is set, else `mlruns/`.
    pub fn source(&self) -> Result<RunSource> {
        Ok(match tracking::MlflowClient::from_env()? {
            Some(c) => RunSource::Server(c),
            None => RunSource::Local(tracking::LocalStore::new(self.path("mlruns"))),
        })
    }

    /// Where runs are logged: `mlruns/`, and the server if `MLFLOW_TRACKING_URI` is set.
    pub fn tracker(&self) -> Result<Tracker> {
        Ok(Tracker {
            local: tracking::LocalStore::new(self.path("mlruns")),
            server: tracking::MlflowClient::from_env()?,
        })
    }

    /// The saved model (`models/churn_model.json`).
    pub fn model(&self) -> Result<SavedModel> {
        load_model(self.path("models").join(crate::pipeline::MODEL_FILE))
    }

    /// The saved model scored on the processed test split.
    pub fn evaluation(&self) -> Result<Evaluation> {
        Evaluation::load(self.path("data/processed"), self.path("models"))
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
        Ok(tracking::search_runs(&self.source()?, experiment, "", &[])?)
    }

    /// The run with the highest `metric`.
    pub fn best_run(&self, experiment: &str, metric: &str) -> Result<tracking::RunRow> {
        tracking::best_run(&self.source()?, experiment, metric)?.ok_or_else(|| {
            NotebookError::Other(format!("no run of '{experiment}' has metric '{metric}'"))
        })
    }

    /// Runs side by side: differing params and all metrics.
    pub fn compare<S: AsRef<str>>(&self, run_ids: &[S]) -> Result<DataFrame> {
        Ok(tracking::compare(&self.source()?, run_ids)?)
    }

    /// A metric against a numeric param over an experiment's runs (e.g. test_f1 vs max_depth).
    pub fn metric_vs_param(&self, experiment: &str, metric: &str, param: &str) -> Result<Png> {
        let rows = self.source()?.runs(experiment, "", &[])?;
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((r.params.get(param)?.parse().ok()?, *r.metrics.get(metric)?)))
            .collect();
        Ok(plots::line_chart(
            &format!("{metric} vs {param}"),
            param,
            metric,
            &pts,
        )?)
    }

    /// A run's metric history (e.g. test_roc_auc as trees are added).
    pub fn metric_history_chart(&self, run_id: &str, metric: &str) -> Result<Png> {
        let h = self.source()?.history(run_id, metric)?;
        let pts: Vec<(f64, f64)> = h
            .iter()
            .filter_map(|p| Some((p.step as f64, p.value?)))
            .collect();
        Ok(plots::line_chart(
            &format!("{metric} by step"),
            "step",
            metric,
            &pts,
        )?)
    }

    /// Train one forest per `max_depth` on `data/processed/` (models under
    /// `models/sweep/depth-N/`, so the main model is untouched), log each run to `experiment`,
    /// and return a table of the results.
    pub fn sweep_max_depth(&self, experiment: &str, depths: &[usize]) -> Result<DataFrame> {
        let tracker = self.tracker()?;
        let (mut d, mut f1, mut auc, mut train_f1, mut secs, mut ids) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for &depth in depths {
            let report = crate::pipeline::train(&crate::pipeline::TrainOptions {
                processed_dir: self.path("data/processed"),
                models_dir: self.path(&format!("models/sweep/depth-{depth}")),
                kind: crate::model::ModelKind::RandomForest,
                params: RandomForestParams::new().max_depth(Some(depth)),
                experiment: experiment.to_string(),
                progress: false,
            })?;
            let logged = tracker.log(&report.run)?;
            d.push(depth as u64);
            f1.push(report.test.f1);
            auc.push(report.test.roc_auc);
            train_f1.push(report.train.f1);
            secs.push(report.fit_seconds);
            ids.push(match logged.delivery {
                tracking::Delivery::Server { run_id, .. } => run_id,
                tracking::Delivery::Local { .. } => logged.stored.run_id,
            });
        }
        Ok(DataFrame::new(
            d.len(),
            vec![
                Column::new("max_depth".into(), d),
                Column::new("train_f1".into(), train_f1),
                Column::new("test_f1".into(), f1),
                Column::new("roc_auc".into(), auc),
                Column::new("fit_s".into(), secs),
                Column::new("run_id".into(), ids),
            ],
        )?)
    }
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
}
