//! churnkit in notebook cells, fast: the notebook workflow and a data scientist's own questions
//! as one-line calls, with no dependencies but the protocol they share with the engine.
//!
//! ```text
//! :dep churnkit-cells = { path = "../churnkit/cells" }
//! use churnkit_cells::*;
//! let df = load_csv("../data/sample_data.csv")?;
//! df.filter("Age > 50")?.group_by(&["Contract"], &["avg(Churn) AS churn_rate", "count(*) AS n"])?
//! let data = prepare(&df, "Churn")?;
//! let trained = fit(&data, RandomForestParams::new().max_depth(Some(8)))?;
//! evaluate(trained.model(), &data)?.roc_chart()?
//! ```
//!
//! Why a separate crate: evcxr builds every cell as a crate linked against its dependencies,
//! and type-checks it with rust-analyzer against their sources. Against churnkit itself (235
//! crates, polars among them) a cell costs about a second and the first cells over fifteen;
//! against this crate, a fifth of a second. The work is done by `churnkit-engine`, churnkit's
//! notebook layer built once in release mode and loaded into the kernel (its path is
//! `CHURNKIT_ENGINE`, set by scripts/jupyter-setup.sh). Values (tables, prepared data, models,
//! evaluations, charts) stay in the engine; the types here are handles to them, and the
//! figures a cell reads (metrics, schema lists, sizes) come back with each handle. Requests
//! and answers are the op table of `churnkit-protocol`, expanded by both ends.
//!
//! The full API on polars values, for cells that need polars itself, remains
//! `churnkit::notebook` (`:dep churnkit = { path = ..., features = ["notebook"] }`), at the
//! cost of the slower cells.

// Loading the engine with dlopen and calling it: the one place `unsafe` is allowed.
#[allow(unsafe_code)]
mod engine;

use churnkit_protocol::ops::{self, kind, Depth};
use churnkit_protocol::wire::Ref;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use churnkit_protocol::json;

/// An error from churnkit (the engine's message: file, column and row where it can).
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

use engine::call;

/// A reference-counted handle to an engine object: cloning and dropping tell the engine. A
/// clone the engine refused (the object is gone) holds nothing and releases nothing.
#[derive(Debug)]
struct Handle {
    id: u64,
    live: bool,
}

impl Handle {
    fn new<K>(r: Ref<K>) -> Handle {
        Handle {
            id: r.id,
            live: true,
        }
    }
    fn r<K>(&self) -> Ref<K> {
        Ref::new(self.id)
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        let live = self.live && matches!(call(&ops::Retain { h: self.id }), Ok(true));
        Handle { id: self.id, live }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.live {
            let _ = call(&ops::Release { h: self.id });
        }
    }
}

/// Print an object's display blocks, the way evcxr shows a cell's value.
fn show(h: &Handle) {
    match call(&ops::Show { h: h.id }) {
        Ok(v) => print!("{v}"),
        Err(e) => eprintln!("churnkit: cannot show this value: {e}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A table (a polars DataFrame in the engine). Every query returns a new table.
#[derive(Debug, Clone)]
pub struct Frame {
    h: Handle,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Column names.
    pub columns: Vec<String>,
}

fn frame(info: ops::FrameInfo) -> Frame {
    Frame {
        h: Handle::new(info.h),
        height: info.height,
        width: info.width,
        columns: info.columns,
    }
}

impl Frame {
    fn r(&self) -> Ref<kind::Frame> {
        self.h.r()
    }

    /// Shown as an HTML table with its shape and column types.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// A column's values as text (missing values as `None`).
    pub fn strings(&self, column: &str) -> Result<Vec<Option<String>>> {
        call(&ops::Strings {
            frame: self.r(),
            column: column.into(),
        })
    }

    /// A numeric column's values (missing or non-numeric as `None`).
    pub fn numbers(&self, column: &str) -> Result<Vec<Option<f64>>> {
        numbers(self, column)
    }

    /// Run polars SQL on this table, named `self`:
    /// `df.sql("SELECT Geography, avg(Exited) FROM self GROUP BY Geography")`.
    pub fn sql(&self, query: &str) -> Result<Frame> {
        sql(&[("self", self)], query)
    }

    /// The first `n` rows (`SELECT * FROM self LIMIT n`).
    pub fn head(&self, n: usize) -> Result<Frame> {
        call(&ops::Head { frame: self.r(), n }).map(frame)
    }

    /// The last `n` rows.
    pub fn tail(&self, n: usize) -> Result<Frame> {
        call(&ops::Tail { frame: self.r(), n }).map(frame)
    }

    /// `n` rows drawn without replacement; the same rows for the same seed.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Frame> {
        call(&ops::Sample {
            frame: self.r(),
            n,
            seed,
        })
        .map(frame)
    }

    /// Only these columns, in this order (`SELECT a, b FROM self`).
    pub fn select(&self, columns: &[&str]) -> Result<Frame> {
        call(&ops::Select {
            frame: self.r(),
            columns: strings(columns),
        })
        .map(frame)
    }

    /// Every column but these (`SELECT * EXCLUDE (a, b) FROM self`).
    pub fn drop(&self, columns: &[&str]) -> Result<Frame> {
        call(&ops::DropColumns {
            frame: self.r(),
            columns: strings(columns),
        })
        .map(frame)
    }

    /// Column `from` renamed `to` (`SELECT * RENAME (from AS to) FROM self`).
    pub fn rename(&self, from: &str, to: &str) -> Result<Frame> {
        call(&ops::Rename {
            frame: self.r(),
            from: from.into(),
            to: to.into(),
        })
        .map(frame)
    }

    /// The rows where an SQL condition holds (`SELECT * FROM self WHERE condition`):
    /// `df.filter("Age > 50 AND Geography = 'Germany'")`.
    pub fn filter(&self, condition: &str) -> Result<Frame> {
        call(&ops::Filter {
            frame: self.r(),
            condition: condition.into(),
        })
        .map(frame)
    }

    /// Columns computed by SQL expressions, added or replaced (`SELECT *, expr AS name FROM
    /// self`): `df.with_columns(&["Balance / EstimatedSalary AS balance_ratio"])`.
    pub fn with_columns(&self, exprs: &[&str]) -> Result<Frame> {
        call(&ops::WithColumns {
            frame: self.r(),
            exprs: strings(exprs),
        })
        .map(frame)
    }

    /// Rows ordered by a column (`ORDER BY column [DESC]`), missing values last.
    pub fn sort(&self, column: &str, descending: bool) -> Result<Frame> {
        call(&ops::Sort {
            frame: self.r(),
            column: column.into(),
            descending,
        })
        .map(frame)
    }

    /// Each value of a column with its count and share, most frequent first
    /// (`SELECT c, COUNT(*) AS count FROM self GROUP BY c ORDER BY count DESC`).
    pub fn value_counts(&self, column: &str) -> Result<Frame> {
        call(&ops::ValueCounts {
            frame: self.r(),
            column: column.into(),
        })
        .map(frame)
    }

    /// One row per combination of `keys`, with SQL aggregates, in the keys' natural order
    /// (`SELECT keys, aggs FROM self GROUP BY keys ORDER BY keys`):
    /// `df.group_by(&["Geography"], &["avg(Exited) AS churn_rate", "count(*) AS customers"])`.
    pub fn group_by(&self, keys: &[&str], aggs: &[&str]) -> Result<Frame> {
        call(&ops::GroupBy {
            frame: self.r(),
            keys: strings(keys),
            aggs: strings(aggs),
        })
        .map(frame)
    }

    /// A band column `{column}_band`: each value's interval among `edges`, right-closed as
    /// pandas' `cut` (`(30, 40]`); values outside the edges are missing
    /// (`CASE WHEN c > 30 AND c <= 40 THEN '(30, 40]' ... END`).
    pub fn cut(&self, column: &str, edges: &[f64]) -> Result<Frame> {
        call(&ops::Cut {
            frame: self.r(),
            column: column.into(),
            edges: edges.to_vec(),
            name: None,
        })
        .map(frame)
    }

    /// A band column `{column}_band` of `q` bands with about as many rows each (pandas'
    /// `qcut`: edges at the quantiles).
    pub fn qcut(&self, column: &str, q: usize) -> Result<Frame> {
        call(&ops::Qcut {
            frame: self.r(),
            column: column.into(),
            q,
            name: None,
        })
        .map(frame)
    }

    /// Counts of rows per value of `row` and of `column` (pandas' `crosstab`).
    pub fn crosstab(&self, row: &str, column: &str) -> Result<Frame> {
        call(&ops::Crosstab {
            frame: self.r(),
            row: row.into(),
            column: column.into(),
        })
        .map(frame)
    }

    /// Rows matched with the rows of `other` on the `on` columns; `how` is `inner`, `left`,
    /// `right` or `full` (`SELECT * FROM self LEFT JOIN other USING (on)`). Rows keep this
    /// table's order.
    pub fn join(&self, other: &Frame, on: &[&str], how: &str) -> Result<Frame> {
        call(&ops::Join {
            frame: self.r(),
            other: other.r(),
            on: strings(on),
            how: how.into(),
        })
        .map(frame)
    }

    /// This table with a 0/1 column `churned`: 1 where `target` holds its churned value
    /// (understood from yes/no, true/false, 1/0), so `avg(churned)` is a churn rate in any
    /// group (`CASE WHEN target = 'Yes' THEN 1 ELSE 0 END AS churned`).
    pub fn with_churn_flag(&self, target: &str) -> Result<Frame> {
        call(&ops::ChurnFlag {
            frame: self.r(),
            target: target.into(),
            positive: None,
            name: "churned".into(),
        })
        .map(frame)
    }

    /// pandas' `describe()`: count, mean, std, min, quartiles, max of the numeric columns.
    pub fn describe(&self) -> Result<Frame> {
        call(&ops::Describe { frame: self.r() }).map(frame)
    }

    /// Pearson correlations of the numeric columns, as a table (pandas' `corr()`).
    pub fn corr(&self) -> Result<Frame> {
        call(&ops::Corr { frame: self.r() }).map(frame)
    }

    /// Write as CSV (whole or not at all: a temporary file, then a rename).
    pub fn write_csv(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        call(&ops::WriteCsv {
            frame: self.r(),
            path: path.as_ref().display().to_string(),
        })
    }

    /// Write as Parquet (whole or not at all).
    pub fn write_parquet(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        call(&ops::WriteParquet {
            frame: self.r(),
            path: path.as_ref().display().to_string(),
        })
    }
}

/// Run polars SQL over named tables: joins, `CASE WHEN`, window functions, CTEs.
/// `sql(&[("customers", &a), ("segments", &b)], "SELECT ... FROM customers JOIN segments ...")`.
pub fn sql(tables: &[(&str, &Frame)], query: &str) -> Result<Frame> {
    call(&ops::Sql {
        tables: tables.iter().map(|(n, f)| (n.to_string(), f.r())).collect(),
        query: query.into(),
    })
    .map(frame)
}

/// The rows of the tables one after another (same columns, found by name).
pub fn concat(frames: &[&Frame]) -> Result<Frame> {
    call(&ops::Concat {
        frames: frames.iter().map(|f| f.r()).collect(),
    })
    .map(frame)
}

/// A chart (PNG in the engine).
#[derive(Debug, Clone)]
pub struct Png {
    h: Handle,
}

fn png(r: Ref<kind::Png>) -> Png {
    Png { h: Handle::new(r) }
}

impl Png {
    /// Shown inline.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// Read a CSV (or Parquet) file: numeric columns become numbers, the usual missing markers
/// (`NA`, `?`, `null`, blank, ...) become nulls.
pub fn load_csv(path: impl AsRef<std::path::Path>) -> Result<Frame> {
    call(&ops::LoadCsv {
        path: path.as_ref().display().to_string(),
    })
    .map(frame)
}

/// Per-column summary: count, mean, std, quartiles of the numeric columns.
pub fn summary(df: &Frame) -> Result<Frame> {
    call(&ops::Summary { frame: df.r() }).map(frame)
}

/// Missing values per column.
pub fn missing_values(df: &Frame) -> Result<Frame> {
    call(&ops::MissingValues { frame: df.r() }).map(frame)
}

/// A chi-square test per categorical and a Mann-Whitney U test per numeric column against the
/// target, with effect sizes, smallest p-value first.
pub fn feature_tests(df: &Frame, target: &str) -> Result<Frame> {
    call(&ops::FeatureTests {
        frame: df.r(),
        target: target.into(),
    })
    .map(frame)
}

/// Customers per target class.
pub fn churn_distribution(df: &Frame, target: &str) -> Result<Png> {
    call(&ops::ChurnDistribution {
        frame: df.r(),
        target: target.into(),
    })
    .map(png)
}

/// Churn rate per category of `column`.
pub fn churn_rate_by(df: &Frame, column: &str, target: &str) -> Result<Png> {
    call(&ops::ChurnRateBy {
        frame: df.r(),
        column: column.into(),
        target: target.into(),
    })
    .map(png)
}

/// Correlations of the numeric columns and the target.
pub fn correlation_chart(df: &Frame, target: &str) -> Result<Png> {
    call(&ops::CorrelationChart {
        frame: df.r(),
        target: target.into(),
    })
    .map(png)
}

/// A column's values as numbers (missing or non-numeric as `None`), for feature engineering
/// in a cell with [`with_column`].
pub fn numbers(df: &Frame, column: &str) -> Result<Vec<Option<f64>>> {
    call(&ops::Numbers {
        frame: df.r(),
        column: column.into(),
    })
}

/// `df` with a numeric column added (or replaced).
pub fn with_column(df: &Frame, name: &str, values: Vec<Option<f64>>) -> Result<Frame> {
    call(&ops::WithColumn {
        frame: df.r(),
        name: name.into(),
        values,
    })
    .map(frame)
}

/// What schema inference decided for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The target column.
    pub target: String,
    /// The target value that means "churned".
    pub positive: String,
    /// Numeric features.
    pub numeric: Vec<String>,
    /// Categorical features.
    pub categorical: Vec<String>,
    /// Columns that are not features (ids, free text, constants): (column, reason).
    pub excluded: Vec<(String, String)>,
}

/// A table split, preprocessed and ready to train on.
#[derive(Debug, Clone)]
pub struct Data {
    h: Handle,
    /// What inference decided.
    pub schema: Schema,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
}

impl Data {
    fn r(&self) -> Ref<kind::Data> {
        self.h.r()
    }

    /// Shown as its sizes and feature counts.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// Every choice of `churnkit preprocess`, for [`prepare_with`]:
/// `Prepare::new("Exited").test_size(0.25).seed(7).drop(&["Surname"]).categorical(&["NumOfProducts"])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepare(ops::PrepareSpec);

impl Prepare {
    /// Defaults as `churnkit preprocess --target`: 20% test rows, seed 42, inferred schema.
    pub fn new(target: &str) -> Prepare {
        Prepare(ops::PrepareSpec::new(target))
    }
    /// Share of each class held out for testing.
    pub fn test_size(mut self, t: f64) -> Prepare {
        self.0.test_size = Some(t);
        self
    }
    /// Split seed.
    pub fn seed(mut self, s: u64) -> Prepare {
        self.0.seed = Some(s);
        self
    }
    /// The target value that means "churned" (else understood from yes/no, true/false, 1/0).
    pub fn positive(mut self, p: &str) -> Prepare {
        self.0.positive = Some(p.into());
        self
    }
    /// Columns that are not features, whatever inference says.
    pub fn drop(mut self, columns: &[&str]) -> Prepare {
        self.0.drop = strings(columns);
        self
    }
    /// Columns that are features, whatever inference says.
    pub fn keep(mut self, columns: &[&str]) -> Prepare {
        self.0.keep = strings(columns);
        self
    }
    /// Columns to treat as categories even when they hold numbers.
    pub fn categorical(mut self, columns: &[&str]) -> Prepare {
        self.0.categorical = strings(columns);
        self
    }
    /// Cell texts that mean "missing" (replacing the usual markers).
    pub fn na_values(mut self, markers: &[&str]) -> Prepare {
        self.0.na_values = Some(strings(markers));
        self
    }
}

/// Infer the schema (ids, free text and constants left out, as the CLI does), split 80/20
/// stratified with seed 42, and fit the preprocessing on the training rows.
pub fn prepare(df: &Frame, target: &str) -> Result<Data> {
    prepare_with(df, Prepare::new(target))
}

/// [`prepare`] with every choice of `churnkit preprocess` (see [`Prepare`]).
pub fn prepare_with(df: &Frame, options: Prepare) -> Result<Data> {
    data(call(&ops::Prepare {
        frame: df.r(),
        spec: options.0,
    })?)
}

fn data(v: ops::DataInfo) -> Result<Data> {
    Ok(Data {
        h: Handle::new(v.h),
        schema: Schema {
            target: v.target,
            positive: v.positive,
            numeric: v.numeric,
            categorical: v.categorical,
            excluded: v.excluded,
        },
        train_rows: v.train_rows,
        test_rows: v.test_rows,
    })
}

/// Forest hyperparameters (unset ones keep churnkit's defaults: 100 trees, depth 10, sqrt
/// features, bootstrap, seed 42).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RandomForestParams(ops::ForestSpec);

fn depth(d: Option<usize>) -> Depth {
    d.map_or(Depth::Unlimited, Depth::Limit)
}

impl RandomForestParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of trees.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.0.n_estimators = Some(n);
        self
    }
    /// Depth limit (`None`: unlimited).
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.0.max_depth = Some(depth(d));
        self
    }
    /// Minimum rows to split a node.
    pub fn min_samples_split(mut self, n: usize) -> Self {
        self.0.min_samples_split = Some(n);
        self
    }
    /// Minimum rows in a leaf.
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.0.min_samples_leaf = Some(n);
        self
    }
    /// Features per split: `sqrt`, `log2`, `all`, a count or a fraction.
    pub fn max_features(mut self, m: &str) -> Self {
        self.0.max_features = Some(m.into());
        self
    }
    /// Each tree on a bootstrap sample of the rows (the default) or on all of them.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.0.bootstrap = Some(b);
        self
    }
    /// Histogram bins per feature (default 255).
    pub fn max_bins(mut self, b: usize) -> Self {
        self.0.max_bins = Some(b);
        self
    }
    /// Seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = Some(s);
        self
    }
}

/// Headline metrics at a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Accuracy.
    pub accuracy: f64,
    /// Precision of churn.
    pub precision: f64,
    /// Recall of churn.
    pub recall: f64,
    /// F1 of churn.
    pub f1: f64,
    /// ROC AUC (`None` with one class).
    pub roc_auc: Option<f64>,
}

fn metrics(m: ops::MetricsInfo) -> Metrics {
    Metrics {
        accuracy: m.accuracy,
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        roc_auc: m.roc_auc,
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    h: Handle,
}

impl Model {
    fn r(&self) -> Ref<kind::Model> {
        self.h.r()
    }

    /// Shown as its size.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// A model trained on the training rows, with its train and test metrics.
#[derive(Debug, Clone)]
pub struct Trained {
    h: Handle,
    model: Model,
    /// Metrics on the training rows at 0.5.
    pub train: Metrics,
    /// Metrics on the test rows at 0.5.
    pub test: Metrics,
    /// Out-of-bag ROC AUC of the training rows.
    pub oob_roc_auc: Option<f64>,
}

impl Trained {
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Shown as its size and test metrics.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// Train churnkit's forest on the training rows of `data`.
pub fn fit(data: &Data, params: RandomForestParams) -> Result<Trained> {
    let v = call(&ops::Fit {
        data: data.r(),
        params: params.0,
    })?;
    Ok(Trained {
        h: Handle::new(v.h),
        model: Model {
            h: Handle::new(v.model),
        },
        train: metrics(v.train),
        test: metrics(v.test),
        oob_roc_auc: v.oob_roc_auc,
    })
}

/// A stratified k-fold cross-validation (see [`cross_validate`]).
#[derive(Debug, Clone)]
pub struct CrossValidation {
    /// A row per fold (rows, churners, ROC AUC, F1, accuracy, log loss), then mean and sd.
    pub table: Frame,
    /// Mean ROC AUC over the folds.
    pub roc_auc_mean: f64,
    /// Standard deviation (n - 1) of the folds' ROC AUC.
    pub roc_auc_sd: f64,
}

impl CrossValidation {
    /// Shown as its table.
    pub fn evcxr_display(&self) {
        self.table.evcxr_display();
    }
}

/// Stratified `folds`-fold cross-validation of the forest on `df` (target `target`, inferred
/// schema): each fold preprocessed on its own training rows, the folds fitted in parallel, the
/// same scores for the same seed on any thread count. `cross_validate(&df, "Churn",
/// RandomForestParams::new().max_depth(Some(8)), 5)?`.
pub fn cross_validate(
    df: &Frame,
    target: &str,
    params: RandomForestParams,
    folds: usize,
) -> Result<CrossValidation> {
    cross_validate_with(df, Prepare::new(target), params, folds)
}

/// [`cross_validate`] with every choice of [`Prepare`] (its seed is the folds' seed).
pub fn cross_validate_with(
    df: &Frame,
    options: Prepare,
    params: RandomForestParams,
    folds: usize,
) -> Result<CrossValidation> {
    let v = call(&ops::CrossValidate {
        frame: df.r(),
        spec: options.0,
        params: params.0,
        folds,
    })?;
    Ok(CrossValidation {
        table: frame(v.table),
        roc_auc_mean: v.roc_auc_mean,
        roc_auc_sd: v.roc_auc_sd,
    })
}

/// A saved model file with the preprocessor it was trained with (`preprocessor.json` beside
/// it, or the project's `data/processed/` for `models/churn_model.json`): a [`Model`] that
/// also scores raw rows with [`predict`].
pub fn load_model(path: impl AsRef<std::path::Path>) -> Result<Model> {
    call(&ops::LoadModel {
        path: path.as_ref().display().to_string(),
    })
    .map(|r| Model { h: Handle::new(r) })
}

/// Importance bars, largest first.
pub fn importance_chart(model: &Model) -> Result<Png> {
    call(&ops::ImportanceChart { model: model.r() }).map(png)
}

/// Importances as a table, largest first.
pub fn importance_table(model: &Model) -> Result<Frame> {
    call(&ops::ImportanceTable { model: model.r() }).map(frame)
}

/// The economics of a retention offer (the defaults are placeholders: set your own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Economics {
    /// Cost of one offer. Default 50.
    pub offer_cost: f64,
    /// Value of keeping a customer who would have churned. Default 500.
    pub retained_value: f64,
    /// Share of churners offered who stay. Default 0.3.
    pub success_rate: f64,
}

impl Default for Economics {
    fn default() -> Self {
        Economics {
            offer_cost: 50.0,
            retained_value: 500.0,
            success_rate: 0.3,
        }
    }
}

/// A model's evaluation on the test rows: metrics, charts, and what a retention team decides
/// (gains, calibration, profit).
#[derive(Debug, Clone)]
pub struct Evaluation {
    h: Handle,
    /// Metrics at [`Evaluation::threshold`].
    pub metrics: Metrics,
    /// The decision threshold.
    pub threshold: f64,
}

fn evaluation(v: ops::EvalInfo) -> Evaluation {
    Evaluation {
        h: Handle::new(v.h),
        metrics: metrics(v.metrics),
        threshold: v.threshold,
    }
}

impl Evaluation {
    fn r(&self) -> Ref<kind::Eval> {
        self.h.r()
    }
    fn chart(&self, which: &str) -> Result<Png> {
        call(&ops::EvalChart {
            eval: self.r(),
            which: which.into(),
        })
        .map(png)
    }
    /// Confusion-matrix heatmap.
    pub fn confusion_chart(&self) -> Result<Png> {
        self.chart("confusion")
    }
    /// ROC curve.
    pub fn roc_chart(&self) -> Result<Png> {
        self.chart("roc")
    }
    /// Precision-recall curve.
    pub fn pr_chart(&self) -> Result<Png> {
        self.chart("pr")
    }
    /// Cumulative gains: the share of churners caught by targeting the top of the list.
    pub fn gains_chart(&self) -> Result<Png> {
        self.chart("gains")
    }
    /// Lift per score decile.
    pub fn lift_chart(&self) -> Result<Png> {
        self.chart("lift")
    }
    /// Reliability curve (with Brier score and calibration error).
    pub fn calibration_chart(&self) -> Result<Png> {
        self.chart("calibration")
    }
    /// Expected campaign profit over the share of customers targeted.
    pub fn profit_chart(&self) -> Result<Png> {
        self.chart("profit")
    }
    /// Permutation importance on the test rows: the drop of ROC AUC when each feature is
    /// shuffled (5 shuffles), to set beside the Gini importance of [`importance_chart`].
    pub fn permutation_chart(&self) -> Result<Png> {
        self.chart("permutation")
    }
    /// scikit-learn's classification report as a table.
    pub fn report_table(&self) -> Result<Frame> {
        call(&ops::ReportTable { eval: self.r() }).map(frame)
    }
    /// The decile table: churners, capture and lift per tenth of the score list.
    pub fn gains_table(&self) -> Result<Frame> {
        call(&ops::GainsTable { eval: self.r() }).map(frame)
    }
    /// Gains, threshold, profit and calibration in a few sentences.
    pub fn summary(&self) -> Result<String> {
        call(&ops::DecisionsSummary { eval: self.r() })
    }
    /// Shown as its summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// `model` on the test rows of `data` at threshold 0.5.
pub fn evaluate(model: &Model, data: &Data) -> Result<Evaluation> {
    evaluate_at(model, data, 0.5)
}

/// `model` on the test rows of `data` at `threshold`.
pub fn evaluate_at(model: &Model, data: &Data, threshold: f64) -> Result<Evaluation> {
    call(&ops::Evaluate {
        model: model.r(),
        data: data.r(),
        threshold: Some(threshold),
        economics: None,
    })
    .map(evaluation)
}

/// `model` on the test rows at the threshold with the highest expected profit on the
/// out-of-bag scores of the training rows (never chosen on the test rows).
pub fn decide(model: &Model, data: &Data, economics: Economics) -> Result<Evaluation> {
    call(&ops::Evaluate {
        model: model.r(),
        data: data.r(),
        threshold: None,
        economics: Some(ops::EconomicsSpec {
            offer_cost: economics.offer_cost,
            retained_value: economics.retained_value,
            success_rate: economics.success_rate,
        }),
    })
    .map(evaluation)
}

/// Why the model scores customer `row` of `df` as it does: a waterfall of exact TreeSHAP
/// contributions from the base value to the customer's score.
pub fn reasons_chart(model: &Model, data: &Data, df: &Frame, row: usize) -> Result<Png> {
    call(&ops::ReasonsChart {
        model: model.r(),
        data: data.r(),
        frame: df.r(),
        row,
    })
    .map(png)
}

/// Mean absolute TreeSHAP contribution per feature over the customers of `df`.
pub fn reasons_summary_chart(model: &Model, data: &Data, df: &Frame) -> Result<Png> {
    call(&ops::ReasonsSummary {
        model: model.r(),
        data: data.r(),
        frame: df.r(),
    })
    .map(png)
}

/// A beeswarm of the TreeSHAP contributions over the customers of `df` (2,000 of them at most,
/// by a stride): the 12 most important features, a dot per customer at its contribution,
/// coloured by the feature's value from blue (low) to red (high).
pub fn reasons_beeswarm_chart(model: &Model, data: &Data, df: &Frame) -> Result<Png> {
    call(&ops::ReasonsBeeswarm {
        model: model.r(),
        data: data.r(),
        frame: df.r(),
    })
    .map(png)
}

/// A chart of any columns: histogram, scatter, bar or line, coloured by any column.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart(ops::ChartSpec);

impl Chart {
    fn new(kind: &str, x: &str, y: Option<&str>) -> Chart {
        Chart(ops::ChartSpec {
            kind: kind.into(),
            x: x.into(),
            y: y.map(String::from),
            color_by: None,
            title: None,
            x_label: None,
            y_label: None,
            bins: None,
            width: None,
            height: None,
        })
    }
    /// Distribution of a numeric column.
    pub fn histogram(x: &str) -> Chart {
        Chart::new("histogram", x, None)
    }
    /// Two numeric columns against each other.
    pub fn scatter(x: &str, y: &str) -> Chart {
        Chart::new("scatter", x, Some(y))
    }
    /// Counts per category of `x` (or the mean of [`Chart::y`]).
    pub fn bar(x: &str) -> Chart {
        Chart::new("bar", x, None)
    }
    /// Mean of `y` per value of `x`, joined.
    pub fn line(x: &str, y: &str) -> Chart {
        Chart::new("line", x, Some(y))
    }
    /// The numeric column a bar chart averages.
    pub fn y(mut self, y: &str) -> Chart {
        self.0.y = Some(y.into());
        self
    }
    /// Colour (or group) by a column.
    pub fn color_by(mut self, column: &str) -> Chart {
        self.0.color_by = Some(column.into());
        self
    }
    /// Title.
    pub fn title(mut self, t: &str) -> Chart {
        self.0.title = Some(t.into());
        self
    }
    /// X axis label.
    pub fn x_label(mut self, l: &str) -> Chart {
        self.0.x_label = Some(l.into());
        self
    }
    /// Y axis label.
    pub fn y_label(mut self, l: &str) -> Chart {
        self.0.y_label = Some(l.into());
        self
    }
    /// Histogram bins.
    pub fn bins(mut self, n: usize) -> Chart {
        self.0.bins = Some(n);
        self
    }
    /// Size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.0.width = Some(width);
        self.0.height = Some(height);
        self
    }
    /// Draw from a table.
    pub fn draw_frame(&self, df: &Frame) -> Result<Png> {
        call(&ops::DrawChart {
            frame: df.r(),
            spec: self.0.clone(),
        })
        .map(png)
    }
}

/// Something a [`Report`] can hold.
pub trait Item {
    /// The item as the engine's report spec wants it.
    #[doc(hidden)]
    fn item(&self) -> ops::ReportItem;
}

fn object_item(h: &Handle) -> ops::ReportItem {
    ops::ReportItem {
        h: Some(h.id),
        report: None,
        text: None,
    }
}

impl Item for Frame {
    fn item(&self) -> ops::ReportItem {
        object_item(&self.h)
    }
}
impl Item for Png {
    fn item(&self) -> ops::ReportItem {
        object_item(&self.h)
    }
}
impl Item for Evaluation {
    fn item(&self) -> ops::ReportItem {
        object_item(&self.h)
    }
}
impl Item for Report {
    fn item(&self) -> ops::ReportItem {
        ops::ReportItem {
            h: None,
            report: Some(Box::new(self.spec.clone())),
            text: None,
        }
    }
}
impl<T: Item> Item for &T {
    fn item(&self) -> ops::ReportItem {
        (*self).item()
    }
}

/// Several tables, charts and notes shown together in one cell, in a grid.
#[derive(Debug, Clone)]
pub struct Report {
    spec: ops::ReportSpec,
    // The handles the items refer to, kept alive until the report is shown.
    keep: Vec<HandleRef>,
}

impl Report {
    /// An empty report with a title; two columns.
    pub fn new(title: &str) -> Report {
        Report {
            spec: ops::ReportSpec {
                title: title.into(),
                columns: 2,
                items: vec![],
            },
            keep: vec![],
        }
    }
    /// Number of grid columns.
    pub fn columns(mut self, n: usize) -> Report {
        self.spec.columns = n.max(1);
        self
    }
    /// Add a table, a chart, an evaluation's summary or another report.
    pub fn item(mut self, item: impl Item + Keep) -> Report {
        self.spec.items.push(item.item());
        self.keep.extend(item.handles());
        self
    }
    /// Add a paragraph of text.
    pub fn text(mut self, text: &str) -> Report {
        self.spec.items.push(ops::ReportItem {
            h: None,
            report: None,
            text: Some(text.into()),
        });
        self
    }
    /// Shown as one HTML block.
    pub fn evcxr_display(&self) {
        match call(&ops::Report {
            report: self.spec.clone(),
        }) {
            Ok(v) => print!("{v}"),
            Err(e) => eprintln!("churnkit: cannot show this report: {e}"),
        }
    }
}

/// The engine objects an item refers to (so that a report keeps them alive).
pub trait Keep {
    /// Clones of the handles.
    #[doc(hidden)]
    fn handles(&self) -> Vec<HandleRef>;
}

/// An opaque, reference-counted reference to an engine object.
#[derive(Debug, Clone)]
// Held, never read: it keeps the engine object alive.
pub struct HandleRef(#[allow(dead_code)] Handle);

impl Keep for Frame {
    fn handles(&self) -> Vec<HandleRef> {
        vec![HandleRef(self.h.clone())]
    }
}
impl Keep for Png {
    fn handles(&self) -> Vec<HandleRef> {
        vec![HandleRef(self.h.clone())]
    }
}
impl Keep for Evaluation {
    fn handles(&self) -> Vec<HandleRef> {
        vec![HandleRef(self.h.clone())]
    }
}
impl Keep for Report {
    fn handles(&self) -> Vec<HandleRef> {
        self.keep.clone()
    }
}
impl<T: Keep> Keep for &T {
    fn handles(&self) -> Vec<HandleRef> {
        (*self).handles()
    }
}

/// A tracked run as listed: id, name, params and latest metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Run name.
    pub run_name: String,
    /// Latest metric values (undefined ones left out).
    pub metrics: BTreeMap<String, f64>,
    /// Params.
    pub params: BTreeMap<String, String>,
}

/// A grid of forest hyperparameters: every combination of the values given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid(ops::GridSpec);

impl Grid {
    /// An empty grid (one run with the defaults).
    pub fn new() -> Grid {
        Grid::default()
    }
    /// Tree counts.
    pub fn n_estimators(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.0.n_estimators = Some(v.into_iter().collect());
        self
    }
    /// Depth limits (`None`: unlimited).
    pub fn max_depth(mut self, v: impl IntoIterator<Item = Option<usize>>) -> Grid {
        self.0.max_depth = Some(v.into_iter().map(depth).collect());
        self
    }
    /// Minimum rows to split.
    pub fn min_samples_split(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.0.min_samples_split = Some(v.into_iter().collect());
        self
    }
    /// Minimum rows per leaf.
    pub fn min_samples_leaf(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.0.min_samples_leaf = Some(v.into_iter().collect());
        self
    }
    /// Features per split: `sqrt`, `log2`, `all`, counts or fractions.
    pub fn max_features<'a>(mut self, v: impl IntoIterator<Item = &'a str>) -> Grid {
        self.0.max_features = Some(v.into_iter().map(String::from).collect());
        self
    }
    /// Bootstrap samples or all rows per tree.
    pub fn bootstrap(mut self, v: impl IntoIterator<Item = bool>) -> Grid {
        self.0.bootstrap = Some(v.into_iter().collect());
        self
    }
    /// Seed of every run.
    pub fn seed(mut self, s: u64) -> Grid {
        self.0.seed = Some(s);
        self
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

/// A churnkit project: its `data/`, `models/`, `mlruns/`, and the MLflow server of
/// `MLFLOW_TRACKING_URI` if set. Notebooks in `notebooks/` open `Project::open("..")`.
#[derive(Debug, Clone)]
pub struct Project {
    h: Handle,
    root: PathBuf,
}

impl Project {
    /// Open the project at `root` (it must have a `data/` directory).
    pub fn open(root: impl AsRef<std::path::Path>) -> Result<Project> {
        let root = root.as_ref().to_path_buf();
        let r = call(&ops::ProjectOpen {
            root: root.display().to_string(),
        })?;
        Ok(Project {
            h: Handle::new(r),
            root,
        })
    }
    fn r(&self) -> Ref<kind::Project> {
        self.h.r()
    }
    /// A path inside the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    /// The runs of an experiment as a table, newest first.
    pub fn runs(&self, experiment: &str) -> Result<Frame> {
        call(&ops::Runs {
            project: self.r(),
            experiment: experiment.into(),
        })
        .map(frame)
    }
    /// The run with the highest `metric`.
    pub fn best_run(&self, experiment: &str, metric: &str) -> Result<RunRow> {
        let v = call(&ops::BestRun {
            project: self.r(),
            experiment: experiment.into(),
            metric: metric.into(),
        })?;
        Ok(RunRow {
            run_id: v.run_id,
            run_name: v.run_name,
            metrics: v
                .metrics
                .into_iter()
                .filter(|(_, x)| x.is_finite())
                .collect(),
            params: v.params,
        })
    }
    /// Ids of the `n` most recent runs of an experiment.
    pub fn recent_run_ids(&self, experiment: &str, n: usize) -> Result<Vec<String>> {
        call(&ops::RecentRunIds {
            project: self.r(),
            experiment: experiment.into(),
            n,
        })
    }
    /// Params and metrics of runs side by side.
    pub fn compare<S: AsRef<str>>(&self, run_ids: &[S]) -> Result<Frame> {
        call(&ops::Compare {
            project: self.r(),
            run_ids: run_ids.iter().map(|s| s.as_ref().to_string()).collect(),
        })
        .map(frame)
    }
    /// Train one forest per combination of `grid`, in parallel, log each run, and list them in
    /// grid order.
    pub fn sweep(&self, experiment: &str, data: &Data, grid: &Grid) -> Result<Frame> {
        self.sweep_by(experiment, data, grid, Rank::Grid)
    }
    /// [`Project::sweep`], best first by `rank`; `Rank::OutOfBag` and
    /// `Rank::CrossValidated(k)` choose without looking at the test rows (the latter adds
    /// `cv_roc_auc` and `cv_roc_auc_sd`, also logged with each run).
    pub fn sweep_by(
        &self,
        experiment: &str,
        data: &Data,
        grid: &Grid,
        rank: Rank,
    ) -> Result<Frame> {
        let (rank_by, folds) = match rank {
            Rank::Grid => ("grid", None),
            Rank::Test => ("test", None),
            Rank::OutOfBag => ("oob", None),
            Rank::CrossValidated(k) => ("cv", Some(k)),
        };
        call(&ops::Sweep {
            project: self.r(),
            experiment: experiment.into(),
            data: data.r(),
            grid: grid.0.clone(),
            rank_by: rank_by.into(),
            folds,
        })
        .map(frame)
    }
    /// [`Project::sweep`] over depth limits.
    pub fn sweep_max_depth(
        &self,
        experiment: &str,
        data: &Data,
        depths: &[usize],
    ) -> Result<Frame> {
        self.sweep(
            experiment,
            data,
            &Grid::new().max_depth(depths.iter().map(|&d| Some(d))),
        )
    }
    /// A metric against a numeric param over an experiment's runs.
    pub fn metric_vs_param(&self, experiment: &str, metric: &str, param: &str) -> Result<Png> {
        call(&ops::MetricVsParam {
            project: self.r(),
            experiment: experiment.into(),
            metric: metric.into(),
            param: param.into(),
        })
        .map(png)
    }
    /// A metric's history within a run (e.g. test ROC AUC as trees are added).
    pub fn metric_history_chart(&self, run_id: &str, metric: &str) -> Result<Png> {
        call(&ops::MetricHistoryChart {
            project: self.r(),
            run_id: run_id.into(),
            metric: metric.into(),
        })
        .map(png)
    }
    /// Log a training run (params, metrics, the model as artifacts) to `experiment`; its id.
    pub fn log(&self, trained: &Trained, data: &Data, experiment: &str) -> Result<String> {
        call(&ops::Log {
            project: self.r(),
            trained: trained.h.r(),
            data: data.r(),
            experiment: experiment.into(),
        })
    }
    /// Register the model of training run `run_id` as the next version of `name` (in the
    /// server's registry with `MLFLOW_TRACKING_URI`, else in `mlruns/`); its version number.
    pub fn register(&self, run_id: &str, name: &str) -> Result<u64> {
        call(&ops::Register {
            project: self.r(),
            run_id: run_id.into(),
            name: name.into(),
        })
    }
    /// Point `alias` (e.g. `champion`) of `name` at `version`.
    pub fn promote(&self, name: &str, version: u64, alias: &str) -> Result<()> {
        call(&ops::Promote {
            project: self.r(),
            name: name.into(),
            version,
            alias: alias.into(),
        })
    }
    /// Every registered model version: model, version, aliases, run, source.
    pub fn models(&self) -> Result<Frame> {
        call(&ops::Models { project: self.r() }).map(frame)
    }
    /// The pipeline's model (`models/churn_model.json`) with its preprocessor: a [`Model`] for
    /// every function that takes one, and for [`predict`] on raw rows.
    pub fn model(&self) -> Result<Model> {
        call(&ops::ProjectModel { project: self.r() }).map(|r| Model { h: Handle::new(r) })
    }
    /// Start a run of `experiment` named `name`, to fill from cells and end with [`Run::end`].
    pub fn start_run(&self, experiment: &str, name: &str) -> Result<Run> {
        call(&ops::StartRun {
            project: self.r(),
            experiment: experiment.into(),
            name: name.into(),
        })
        .map(|r| Run { h: Handle::new(r) })
    }
    /// Runs of `experiments` matching an MLflow filter
    /// (`"metrics.roc_auc > 0.85 and params.max_depth = '8'"`), ordered by `order_by`
    /// (`&["metrics.roc_auc DESC"]`, or `&[]` for newest first): from the server if
    /// `MLFLOW_TRACKING_URI` is set, else from `mlruns/`, the same rows either way.
    pub fn search_runs(
        &self,
        experiments: &[&str],
        filter: &str,
        order_by: &[&str],
    ) -> Result<Frame> {
        call(&ops::SearchRuns {
            project: self.r(),
            experiments: strings(experiments),
            filter: filter.into(),
            order_by: strings(order_by),
        })
        .map(frame)
    }
    /// The pipeline's prepared data (`data/processed/`): its split and preprocessing, the data
    /// the pipeline's model ([`Project::model`]) was trained and is evaluated on.
    pub fn data(&self) -> Result<Data> {
        data(call(&ops::ProjectData { project: self.r() })?)
    }
    /// Score the customers of `df` with a registered model (`models:/churn@champion`): their
    /// ids, `churn_probability` and `churn_prediction`.
    pub fn score(&self, uri: &str, df: &Frame) -> Result<Frame> {
        call(&ops::Score {
            project: self.r(),
            uri: uri.into(),
            frame: df.r(),
        })
        .map(frame)
    }
}

/// A run logged by hand from cells ([`Project::start_run`]): add params, metrics, tags and
/// artifacts, then [`Run::end`] logs it all at once (never half a run). A metric logged again
/// gets a history of steps, as in MLflow.
#[derive(Debug, Clone)]
pub struct Run {
    h: Handle,
}

impl Run {
    fn r(&self) -> Ref<kind::Run> {
        self.h.r()
    }

    /// Shown as what it holds and whether it was logged.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// Add params (`&[("segment", "germany_50plus")]`); a param keeps its first value.
    pub fn log_params(&self, params: &[(&str, &str)]) -> Result<()> {
        call(&ops::LogParams {
            run: self.r(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// Add metric values (`&[("segment_lift", 2.4)]`).
    pub fn log_metrics(&self, metrics: &[(&str, f64)]) -> Result<()> {
        call(&ops::LogMetrics {
            run: self.r(),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        })
    }

    /// Set tags.
    pub fn set_tags(&self, tags: &[(&str, &str)]) -> Result<()> {
        call(&ops::SetTags {
            run: self.r(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// Add a chart (as PNG) or a table (as CSV) under `name` (the extension is added if
    /// missing); the name it was stored under.
    pub fn log_artifact(&self, name: &str, item: &impl Item) -> Result<String> {
        let Some(object) = item.item().h else {
            return Err(Error("an artifact is a chart or a table".into()));
        };
        call(&ops::LogArtifact {
            run: self.r(),
            name: name.into(),
            object,
        })
    }

    /// Log the run (to `mlruns/`, and to the server of `MLFLOW_TRACKING_URI` if set); its id.
    pub fn end(&self) -> Result<String> {
        call(&ops::EndRun { run: self.r() })
    }
}

/// When customers leave: survival curves by group, the log-rank test and a Cox model (see
/// [`survival`]).
#[derive(Debug, Clone)]
pub struct Survival {
    h: Handle,
    /// Customers.
    pub rows: usize,
    /// Customers who left.
    pub events: usize,
    /// The Cox model's concordance (a ROC AUC for durations).
    pub concordance: f64,
    /// The log-rank test's p-value between the groups, when grouped.
    pub logrank_p_value: Option<f64>,
    /// The duration column used.
    pub duration: String,
}

/// Survival analysis of `df`: the event is `target` at its churned value; the duration is
/// `duration` or, with `None`, the never-negative column named like a tenure; with `by`, one
/// curve per value and the log-rank test between them.
pub fn survival(
    df: &Frame,
    target: &str,
    duration: Option<&str>,
    by: Option<&str>,
) -> Result<Survival> {
    let v = call(&ops::Survival {
        frame: df.r(),
        target: target.into(),
        duration: duration.map(String::from),
        by: by.map(String::from),
    })?;
    Ok(Survival {
        h: Handle::new(v.h),
        rows: v.rows,
        events: v.events,
        concordance: v.concordance,
        logrank_p_value: v.logrank_p_value,
        duration: v.duration,
    })
}

impl Survival {
    fn r(&self) -> Ref<kind::Survival> {
        self.h.r()
    }

    /// Shown as a one-line summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// The Kaplan-Meier curves with 95% bands, one per group.
    pub fn curves_chart(&self) -> Result<Png> {
        call(&ops::SurvivalCurves { survival: self.r() }).map(png)
    }

    /// Hazard ratios with 95% intervals on a log axis.
    pub fn hazard_chart(&self) -> Result<Png> {
        call(&ops::HazardRatios { survival: self.r() }).map(png)
    }

    /// Per curve: customers, left, median lifetime, S(12), S(24), S(36).
    pub fn table(&self) -> Result<Frame> {
        call(&ops::SurvivalTable { survival: self.r() }).map(frame)
    }

    /// The Cox coefficients: hazard ratio, coef, se, p; strongest first.
    pub fn cox_table(&self) -> Result<Frame> {
        call(&ops::CoxTable { survival: self.r() }).map(frame)
    }

    /// Customer `row` of `df`: their own survival curve beside every customer's, with their
    /// expected remaining months and lifetime value.
    pub fn customer_chart(&self, df: &Frame, row: usize) -> Result<Png> {
        call(&ops::CustomerSurvival {
            survival: self.r(),
            frame: df.r(),
            row,
        })
        .map(png)
    }
}

/// How a batch compares with the training rows (see [`drift`]).
#[derive(Debug, Clone)]
pub struct Drift {
    h: Handle,
    /// Features that drifted.
    pub drifted: usize,
    /// Features compared.
    pub features: usize,
    /// Whether a feature or the scores drifted.
    pub dataset_drift: bool,
    /// CBPE's estimated ROC AUC on the batch, with a model.
    pub estimated_roc_auc: Option<f64>,
}

/// Drift of `current` (raw rows) against the training rows of `data`: per feature
/// (Kolmogorov-Smirnov or chi-square, and PSI; drifted when significant after Bonferroni and the
/// PSI is at least 0.1), and with `model` the scores and CBPE's estimates. What `churnkit
/// monitor` computes.
pub fn drift(data: &Data, current: &Frame, model: Option<&Model>) -> Result<Drift> {
    let v = call(&ops::Drift {
        data: data.r(),
        frame: current.r(),
        model: model.map(Model::r),
    })?;
    Ok(Drift {
        h: Handle::new(v.h),
        drifted: v.drifted,
        features: v.features,
        dataset_drift: v.dataset_drift,
        estimated_roc_auc: v.estimated_roc_auc,
    })
}

impl Drift {
    /// Shown as a one-line summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// Every feature: test, statistic, p-value, PSI, verdict; the largest PSI first.
    pub fn table(&self) -> Result<Frame> {
        call(&ops::DriftTable { drift: self.h.r() }).map(frame)
    }

    /// PSI per feature as bars.
    pub fn chart(&self) -> Result<Png> {
        call(&ops::DriftChart { drift: self.h.r() }).map(png)
    }
}

/// Score the raw rows of `df` with a saved model ([`Project::model`], [`load_model`]): ids (or
/// a row number), `churn_probability`, `churn_prediction` at `threshold`, `score_decile` (1 =
/// the highest tenth) and, with `explain > 0`, each row's largest TreeSHAP reasons.
pub fn predict(model: &Model, df: &Frame, threshold: f64, explain: usize) -> Result<Frame> {
    call(&ops::Predict {
        model: model.r(),
        frame: df.r(),
        threshold,
        explain,
    })
    .map(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use churnkit_protocol::{encode, wire::Wire};

    #[test]
    fn builders_fill_the_protocols_records() {
        let p = RandomForestParams::new().max_depth(None).n_estimators(5);
        assert_eq!(p.0.max_depth, Some(Depth::Unlimited));
        let text = encode(&ops::Fit {
            data: Ref::new(2),
            params: p.0,
        });
        assert!(text.contains("\"max_depth\":\"unlimited\""), "{text}");
        let c = Chart::bar("Contract")
            .color_by("Churn \"x\"")
            .size(400, 300);
        let back = ops::ChartSpec::read(&json::parse(&c.0.to_json()).unwrap()).unwrap();
        assert_eq!(back.color_by.as_deref(), Some("Churn \"x\""));
        assert_eq!((back.width, back.height), (Some(400), Some(300)));
        let g = Grid::new()
            .max_depth([Some(3), None])
            .bootstrap([true, false]);
        assert_eq!(g.0.max_depth.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn without_an_engine_calls_say_how_to_get_one() {
        if std::env::var_os("CHURNKIT_ENGINE").is_some() {
            return;
        }
        let e = load_csv("x.csv").unwrap_err();
        assert!(
            e.0.contains("CHURNKIT_ENGINE") && e.0.contains("jupyter-setup.sh"),
            "{e}"
        );
    }
}
