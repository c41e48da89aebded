//! churnkit in notebook cells, fast: the notebook workflow as one-line calls, with no
//! dependencies of its own.
//!
//! ```text
//! :dep churnkit-cells = { path = "../churnkit/cells" }
//! use churnkit_cells::*;
//! let df = load_csv("../data/sample_data.csv")?;
//! df                                          // an HTML table
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
//! figures a cell reads (metrics, schema lists, sizes) come back with each handle.
//!
//! The full API on polars values, for cells that need polars itself, remains
//! `churnkit::notebook` (`:dep churnkit = { path = ..., features = ["notebook"] }`), at the
//! cost of the slower cells.

mod engine;
pub mod json;

use json::{number, quote, Json};
use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// A reference-counted handle to an engine object: cloning and dropping tell the engine.
#[derive(Debug)]
struct Handle(u64);

impl Handle {
    fn from(v: &Json) -> Result<Handle> {
        v.get("h")
            .num()
            .map(|h| Handle(h as u64))
            .ok_or_else(|| Error("the engine answered without a handle".into()))
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        let _ = engine::call(&format!(r#"{{"op":"retain","h":{}}}"#, self.0));
        Handle(self.0)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = engine::call(&format!(r#"{{"op":"release","h":{}}}"#, self.0));
    }
}

/// Print an object's display blocks, the way evcxr shows a cell's value.
fn show(h: &Handle) {
    match engine::call(&format!(r#"{{"op":"show","h":{}}}"#, h.0)) {
        Ok(v) => print!("{}", v.str().unwrap_or_default()),
        Err(e) => eprintln!("churnkit: cannot show this value: {e}"),
    }
}

/// Build a request: `req("summary", &[("frame", h)])`, values already JSON.
fn req(op: &str, args: &[(&str, String)]) -> String {
    let mut s = format!("{{\"op\":{}", quote(op));
    for (k, v) in args {
        s.push_str(&format!(",{}:{v}", quote(k)));
    }
    s.push('}');
    s
}

fn call(op: &str, args: &[(&str, String)]) -> Result<Json> {
    engine::call(&req(op, args))
}

fn strings_json(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
    )
}

/// A table (a polars DataFrame in the engine).
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

impl Frame {
    fn from(v: Json) -> Result<Frame> {
        Ok(Frame {
            h: Handle::from(&v)?,
            height: v.get("height").num().unwrap_or(0.0) as usize,
            width: v.get("width").num().unwrap_or(0.0) as usize,
            columns: v.get("columns").strings(),
        })
    }

    fn arg(&self) -> String {
        self.h.0.to_string()
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
        let v = call(
            "strings",
            &[("frame", self.arg()), ("column", quote(column))],
        )?;
        Ok(v.arr().iter().map(|x| x.str().map(String::from)).collect())
    }

    /// A numeric column's values (missing or non-numeric as `None`).
    pub fn numbers(&self, column: &str) -> Result<Vec<Option<f64>>> {
        numbers(self, column)
    }
}

/// A chart (PNG in the engine).
#[derive(Debug, Clone)]
pub struct Png {
    h: Handle,
}

impl Png {
    fn from(v: Json) -> Result<Png> {
        Ok(Png {
            h: Handle::from(&v)?,
        })
    }

    /// Shown inline.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// Read a CSV (or Parquet) file: numeric columns become numbers, the usual missing markers
/// (`NA`, `?`, `null`, blank, ...) become nulls.
pub fn load_csv(path: impl AsRef<std::path::Path>) -> Result<Frame> {
    let p = path.as_ref().display().to_string();
    Frame::from(call("load_csv", &[("path", quote(&p))])?)
}

/// Per-column summary: type, count, missing, mean, quartiles, distinct values.
pub fn summary(df: &Frame) -> Result<Frame> {
    Frame::from(call("summary", &[("frame", df.arg())])?)
}

/// Missing values per column.
pub fn missing_values(df: &Frame) -> Result<Frame> {
    Frame::from(call("missing_values", &[("frame", df.arg())])?)
}

/// A chi-square test per categorical and a Mann-Whitney U test per numeric column against the
/// target, with effect sizes, smallest p-value first.
pub fn feature_tests(df: &Frame, target: &str) -> Result<Frame> {
    Frame::from(call(
        "feature_tests",
        &[("frame", df.arg()), ("target", quote(target))],
    )?)
}

/// Customers per target class.
pub fn churn_distribution(df: &Frame, target: &str) -> Result<Png> {
    Png::from(call(
        "churn_distribution",
        &[("frame", df.arg()), ("target", quote(target))],
    )?)
}

/// Churn rate per category of `column`.
pub fn churn_rate_by(df: &Frame, column: &str, target: &str) -> Result<Png> {
    Png::from(call(
        "churn_rate_by",
        &[
            ("frame", df.arg()),
            ("column", quote(column)),
            ("target", quote(target)),
        ],
    )?)
}

/// Correlations of the numeric columns and the target.
pub fn correlation_chart(df: &Frame, target: &str) -> Result<Png> {
    Png::from(call(
        "correlation_chart",
        &[("frame", df.arg()), ("target", quote(target))],
    )?)
}

/// A column's values as numbers (missing or non-numeric as `None`), for feature engineering
/// in a cell with [`with_column`].
pub fn numbers(df: &Frame, column: &str) -> Result<Vec<Option<f64>>> {
    let v = call("numbers", &[("frame", df.arg()), ("column", quote(column))])?;
    Ok(v.arr().iter().map(Json::num).collect())
}

/// `df` with a numeric column added (or replaced).
pub fn with_column(df: &Frame, name: &str, values: Vec<Option<f64>>) -> Result<Frame> {
    let v = format!(
        "[{}]",
        values
            .iter()
            .map(|x| x.map_or("null".into(), number))
            .collect::<Vec<_>>()
            .join(",")
    );
    Frame::from(call(
        "with_column",
        &[("frame", df.arg()), ("name", quote(name)), ("values", v)],
    )?)
}

/// What schema inference decided for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The target column.
    pub target: String,
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
    fn arg(&self) -> String {
        self.h.0.to_string()
    }

    /// Shown as its sizes and feature counts.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// Infer the schema (ids, free text and constants left out, as the CLI does), split 80/20
/// stratified with seed 42, and fit the preprocessing on the training rows.
pub fn prepare(df: &Frame, target: &str) -> Result<Data> {
    let v = call("prepare", &[("frame", df.arg()), ("target", quote(target))])?;
    Ok(Data {
        h: Handle::from(&v)?,
        schema: Schema {
            target: v.get("target").str().unwrap_or_default().to_string(),
            numeric: v.get("numeric").strings(),
            categorical: v.get("categorical").strings(),
            excluded: v
                .get("excluded")
                .arr()
                .iter()
                .map(|p| {
                    let s = p.strings();
                    (
                        s.first().cloned().unwrap_or_default(),
                        s.get(1).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        },
        train_rows: v.get("train_rows").num().unwrap_or(0.0) as usize,
        test_rows: v.get("test_rows").num().unwrap_or(0.0) as usize,
    })
}

/// Forest hyperparameters (unset ones keep churnkit's defaults: 100 trees, depth 10, sqrt
/// features, seed 42).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RandomForestParams {
    fields: BTreeMap<&'static str, String>,
}

impl RandomForestParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    fn set(mut self, k: &'static str, v: String) -> Self {
        self.fields.insert(k, v);
        self
    }
    /// Number of trees.
    pub fn n_estimators(self, n: usize) -> Self {
        self.set("n_estimators", n.to_string())
    }
    /// Depth limit (`None`: unlimited).
    pub fn max_depth(self, d: Option<usize>) -> Self {
        self.set("max_depth", d.map_or("null".into(), |d| d.to_string()))
    }
    /// Minimum rows to split a node.
    pub fn min_samples_split(self, n: usize) -> Self {
        self.set("min_samples_split", n.to_string())
    }
    /// Minimum rows in a leaf.
    pub fn min_samples_leaf(self, n: usize) -> Self {
        self.set("min_samples_leaf", n.to_string())
    }
    /// Features per split: `sqrt`, `log2`, `all`, a count or a fraction.
    pub fn max_features(self, m: &str) -> Self {
        self.set("max_features", quote(m))
    }
    /// Seed.
    pub fn seed(self, s: u64) -> Self {
        self.set("seed", s.to_string())
    }
    fn json(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", quote(k)))
            .collect();
        format!("{{{}}}", parts.join(","))
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

impl Metrics {
    fn from(v: &Json) -> Metrics {
        let g = |k| v.get(k).num().unwrap_or(f64::NAN);
        Metrics {
            accuracy: g("accuracy"),
            precision: g("precision"),
            recall: g("recall"),
            f1: g("f1"),
            roc_auc: v.get("roc_auc").num(),
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    h: Handle,
}

impl Model {
    fn arg(&self) -> String {
        self.h.0.to_string()
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
    let v = call("fit", &[("data", data.arg()), ("params", params.json())])?;
    let model = v
        .get("model")
        .num()
        .map(|h| Model {
            h: Handle(h as u64),
        })
        .ok_or_else(|| Error("the engine answered without a model".into()))?;
    Ok(Trained {
        h: Handle::from(&v)?,
        model,
        train: Metrics::from(v.get("train")),
        test: Metrics::from(v.get("test")),
        oob_roc_auc: v.get("oob_roc_auc").num(),
    })
}

/// Importance bars, largest first.
pub fn importance_chart(model: &Model) -> Result<Png> {
    Png::from(call("importance_chart", &[("model", model.arg())])?)
}

/// Importances as a table, largest first.
pub fn importance_table(model: &Model) -> Result<Frame> {
    Frame::from(call("importance_table", &[("model", model.arg())])?)
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

impl Evaluation {
    fn from(v: Json) -> Result<Evaluation> {
        Ok(Evaluation {
            h: Handle::from(&v)?,
            metrics: Metrics::from(v.get("metrics")),
            threshold: v.get("threshold").num().unwrap_or(f64::NAN),
        })
    }
    fn chart(&self, which: &str) -> Result<Png> {
        Png::from(call(
            "eval_chart",
            &[("eval", self.h.0.to_string()), ("which", quote(which))],
        )?)
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
        Frame::from(call("report_table", &[("eval", self.h.0.to_string())])?)
    }
    /// The decile table: churners, capture and lift per tenth of the score list.
    pub fn gains_table(&self) -> Result<Frame> {
        Frame::from(call("gains_table", &[("eval", self.h.0.to_string())])?)
    }
    /// Gains, threshold, profit and calibration in a few sentences.
    pub fn summary(&self) -> Result<String> {
        let v = call("decisions_summary", &[("eval", self.h.0.to_string())])?;
        Ok(v.str().unwrap_or_default().to_string())
    }
    /// Shown as its summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }
}

/// `model` on the test rows of `data` at threshold 0.5.
pub fn evaluate(model: &Model, data: &Data) -> Result<Evaluation> {
    Evaluation::from(call(
        "evaluate",
        &[
            ("model", model.arg()),
            ("data", data.arg()),
            ("threshold", "0.5".into()),
        ],
    )?)
}

/// `model` on the test rows at the threshold with the highest expected profit on the
/// out-of-bag scores of the training rows (never chosen on the test rows).
pub fn decide(model: &Model, data: &Data, economics: Economics) -> Result<Evaluation> {
    Evaluation::from(call(
        "evaluate",
        &[
            ("model", model.arg()),
            ("data", data.arg()),
            ("offer_cost", number(economics.offer_cost)),
            ("retained_value", number(economics.retained_value)),
            ("success_rate", number(economics.success_rate)),
        ],
    )?)
}

/// Why the model scores customer `row` of `df` as it does: a waterfall of exact TreeSHAP
/// contributions from the base value to the customer's score.
pub fn reasons_chart(model: &Model, data: &Data, df: &Frame, row: usize) -> Result<Png> {
    Png::from(call(
        "reasons_chart",
        &[
            ("model", model.arg()),
            ("data", data.arg()),
            ("frame", df.arg()),
            ("row", row.to_string()),
        ],
    )?)
}

/// Mean absolute TreeSHAP contribution per feature over the customers of `df`.
pub fn reasons_summary_chart(model: &Model, data: &Data, df: &Frame) -> Result<Png> {
    Png::from(call(
        "reasons_summary",
        &[
            ("model", model.arg()),
            ("data", data.arg()),
            ("frame", df.arg()),
        ],
    )?)
}

/// A beeswarm of the TreeSHAP contributions over the customers of `df` (2,000 of them at most,
/// by a stride): the 12 most important features, a dot per customer at its contribution,
/// coloured by the feature's value from blue (low) to red (high).
pub fn reasons_beeswarm_chart(model: &Model, data: &Data, df: &Frame) -> Result<Png> {
    Png::from(call(
        "reasons_beeswarm",
        &[
            ("model", model.arg()),
            ("data", data.arg()),
            ("frame", df.arg()),
        ],
    )?)
}

/// A chart of any columns: histogram, scatter, bar or line, coloured by any column.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    fields: BTreeMap<&'static str, String>,
}

impl Chart {
    fn new(kind: &str, x: &str, y: Option<&str>) -> Chart {
        let c = Chart {
            fields: BTreeMap::from([("kind", quote(kind)), ("x", quote(x))]),
        };
        match y {
            Some(y) => c.set("y", y),
            None => c,
        }
    }
    fn set(mut self, k: &'static str, v: &str) -> Chart {
        self.fields.insert(k, quote(v));
        self
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
    pub fn y(self, y: &str) -> Chart {
        self.set("y", y)
    }
    /// Colour (or group) by a column.
    pub fn color_by(self, column: &str) -> Chart {
        self.set("color_by", column)
    }
    /// Title.
    pub fn title(self, t: &str) -> Chart {
        self.set("title", t)
    }
    /// X axis label.
    pub fn x_label(self, l: &str) -> Chart {
        self.set("x_label", l)
    }
    /// Y axis label.
    pub fn y_label(self, l: &str) -> Chart {
        self.set("y_label", l)
    }
    /// Histogram bins.
    pub fn bins(mut self, n: usize) -> Chart {
        self.fields.insert("bins", n.to_string());
        self
    }
    /// Draw from a table.
    pub fn draw_frame(&self, df: &Frame) -> Result<Png> {
        let spec: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", quote(k)))
            .collect();
        Png::from(call(
            "chart",
            &[
                ("frame", df.arg()),
                ("spec", format!("{{{}}}", spec.join(","))),
            ],
        )?)
    }
}

/// Something a [`Report`] can hold.
pub trait Item {
    /// The item as the engine's report spec wants it.
    fn item_json(&self) -> String;
}

impl Item for Frame {
    fn item_json(&self) -> String {
        format!("{{\"h\":{}}}", self.h.0)
    }
}
impl Item for Png {
    fn item_json(&self) -> String {
        format!("{{\"h\":{}}}", self.h.0)
    }
}
impl Item for Evaluation {
    fn item_json(&self) -> String {
        format!("{{\"h\":{}}}", self.h.0)
    }
}
impl Item for Report {
    fn item_json(&self) -> String {
        format!("{{\"report\":{}}}", self.json())
    }
}
impl<T: Item> Item for &T {
    fn item_json(&self) -> String {
        (*self).item_json()
    }
}

/// Several tables, charts and notes shown together in one cell, in a grid.
#[derive(Debug, Clone, Default)]
pub struct Report {
    title: String,
    columns: usize,
    items: Vec<String>,
    // The handles the items refer to, kept alive until the report is shown.
    keep: Vec<HandleRef>,
}

impl Report {
    /// An empty report with a title; two columns.
    pub fn new(title: &str) -> Report {
        Report {
            title: title.to_string(),
            columns: 2,
            ..Report::default()
        }
    }
    /// Number of grid columns.
    pub fn columns(mut self, n: usize) -> Report {
        self.columns = n.max(1);
        self
    }
    /// Add a table, a chart, an evaluation's summary or another report.
    pub fn item(mut self, item: impl Item + Keep) -> Report {
        self.items.push(item.item_json());
        self.keep.extend(item.handles());
        self
    }
    /// Add a paragraph of text.
    pub fn text(mut self, text: &str) -> Report {
        self.items.push(format!("{{\"text\":{}}}", quote(text)));
        self
    }
    fn json(&self) -> String {
        format!(
            "{{\"title\":{},\"columns\":{},\"items\":[{}]}}",
            quote(&self.title),
            self.columns,
            self.items.join(",")
        )
    }
    /// Shown as one HTML block.
    pub fn evcxr_display(&self) {
        match call("report", &[("report", self.json())]) {
            Ok(v) => print!("{}", v.str().unwrap_or_default()),
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
pub struct Grid {
    fields: BTreeMap<&'static str, String>,
}

impl Grid {
    /// An empty grid (one run with the defaults).
    pub fn new() -> Grid {
        Grid::default()
    }
    fn list(mut self, k: &'static str, v: Vec<String>) -> Grid {
        self.fields.insert(k, format!("[{}]", v.join(",")));
        self
    }
    /// Tree counts.
    pub fn n_estimators(self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.list(
            "n_estimators",
            v.into_iter().map(|x| x.to_string()).collect(),
        )
    }
    /// Depth limits (`None`: unlimited).
    pub fn max_depth(self, v: impl IntoIterator<Item = Option<usize>>) -> Grid {
        self.list(
            "max_depth",
            v.into_iter()
                .map(|x| x.map_or("null".into(), |d| d.to_string()))
                .collect(),
        )
    }
    /// Minimum rows to split.
    pub fn min_samples_split(self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.list(
            "min_samples_split",
            v.into_iter().map(|x| x.to_string()).collect(),
        )
    }
    /// Minimum rows per leaf.
    pub fn min_samples_leaf(self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.list(
            "min_samples_leaf",
            v.into_iter().map(|x| x.to_string()).collect(),
        )
    }
    /// Seed of every run.
    pub fn seed(mut self, s: u64) -> Grid {
        self.fields.insert("seed", s.to_string());
        self
    }
    fn json(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", quote(k)))
            .collect();
        format!("{{{}}}", parts.join(","))
    }
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
        let v = call(
            "project_open",
            &[("root", quote(&root.display().to_string()))],
        )?;
        Ok(Project {
            h: Handle::from(&v)?,
            root,
        })
    }
    fn arg(&self) -> String {
        self.h.0.to_string()
    }
    /// A path inside the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    /// The runs of an experiment as a table, newest first.
    pub fn runs(&self, experiment: &str) -> Result<Frame> {
        Frame::from(call(
            "runs",
            &[("project", self.arg()), ("experiment", quote(experiment))],
        )?)
    }
    /// The run with the highest `metric`.
    pub fn best_run(&self, experiment: &str, metric: &str) -> Result<RunRow> {
        let v = call(
            "best_run",
            &[
                ("project", self.arg()),
                ("experiment", quote(experiment)),
                ("metric", quote(metric)),
            ],
        )?;
        let metrics = match v.get("metrics") {
            Json::Obj(m) => m
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), x.num()?)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let params = match v.get("params") {
            Json::Obj(m) => m
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), x.str()?.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(RunRow {
            run_id: v.get("run_id").str().unwrap_or_default().to_string(),
            run_name: v.get("run_name").str().unwrap_or_default().to_string(),
            metrics,
            params,
        })
    }
    /// Ids of the `n` most recent runs of an experiment.
    pub fn recent_run_ids(&self, experiment: &str, n: usize) -> Result<Vec<String>> {
        Ok(call(
            "recent_run_ids",
            &[
                ("project", self.arg()),
                ("experiment", quote(experiment)),
                ("n", n.to_string()),
            ],
        )?
        .strings())
    }
    /// Params and metrics of runs side by side.
    pub fn compare<S: AsRef<str>>(&self, run_ids: &[S]) -> Result<Frame> {
        let ids: Vec<String> = run_ids.iter().map(|s| s.as_ref().to_string()).collect();
        Frame::from(call(
            "compare",
            &[("project", self.arg()), ("run_ids", strings_json(&ids))],
        )?)
    }
    /// Train one forest per combination of `grid`, in parallel, log each run, and list them.
    pub fn sweep(&self, experiment: &str, data: &Data, grid: &Grid) -> Result<Frame> {
        Frame::from(call(
            "sweep",
            &[
                ("project", self.arg()),
                ("experiment", quote(experiment)),
                ("data", data.arg()),
                ("grid", grid.json()),
            ],
        )?)
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
        Png::from(call(
            "metric_vs_param",
            &[
                ("project", self.arg()),
                ("experiment", quote(experiment)),
                ("metric", quote(metric)),
                ("param", quote(param)),
            ],
        )?)
    }
    /// A metric's history within a run (e.g. test ROC AUC as trees are added).
    pub fn metric_history_chart(&self, run_id: &str, metric: &str) -> Result<Png> {
        Png::from(call(
            "metric_history_chart",
            &[
                ("project", self.arg()),
                ("run_id", quote(run_id)),
                ("metric", quote(metric)),
            ],
        )?)
    }
    /// Log a training run (params, metrics, the model as artifacts) to `experiment`; its id.
    pub fn log(&self, trained: &Trained, data: &Data, experiment: &str) -> Result<String> {
        let v = call(
            "log",
            &[
                ("project", self.arg()),
                ("trained", trained.h.0.to_string()),
                ("data", data.arg()),
                ("experiment", quote(experiment)),
            ],
        )?;
        Ok(v.str().unwrap_or_default().to_string())
    }
    /// Register the model of training run `run_id` as the next version of `name` (in the
    /// server's registry with `MLFLOW_TRACKING_URI`, else in `mlruns/`); its version number.
    pub fn register(&self, run_id: &str, name: &str) -> Result<u64> {
        let v = call(
            "register",
            &[
                ("project", self.arg()),
                ("run_id", quote(run_id)),
                ("name", quote(name)),
            ],
        )?;
        Ok(v.num().unwrap_or(0.0) as u64)
    }
    /// Point `alias` (e.g. `champion`) of `name` at `version`.
    pub fn promote(&self, name: &str, version: u64, alias: &str) -> Result<()> {
        call(
            "promote",
            &[
                ("project", self.arg()),
                ("name", quote(name)),
                ("version", version.to_string()),
                ("alias", quote(alias)),
            ],
        )?;
        Ok(())
    }
    /// Every registered model version: model, version, aliases, run, source.
    pub fn models(&self) -> Result<Frame> {
        Frame::from(call("models", &[("project", self.arg())])?)
    }
    /// The pipeline's model (`models/churn_model.json`) with its preprocessor: a [`Model`] for
    /// every function that takes one, and for [`predict`] on raw rows.
    pub fn model(&self) -> Result<Model> {
        let v = call("project_model", &[("project", self.arg())])?;
        Ok(Model {
            h: Handle::from(&v)?,
        })
    }
    /// Score the customers of `df` with a registered model (`models:/churn@champion`): their
    /// ids, `churn_probability` and `churn_prediction`.
    pub fn score(&self, uri: &str, df: &Frame) -> Result<Frame> {
        Frame::from(call(
            "score",
            &[
                ("project", self.arg()),
                ("uri", quote(uri)),
                ("frame", df.arg()),
            ],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_json() {
        let r = req(
            "chart",
            &[
                ("frame", "3".into()),
                (
                    "spec",
                    Chart::bar("Contract").color_by("Churn \"x\"").fields_json(),
                ),
            ],
        );
        let v = json::parse(&r).unwrap();
        assert_eq!(v.get("op").str(), Some("chart"));
        assert_eq!(v.get("spec").get("color_by").str(), Some("Churn \"x\""));
        let p = json::parse(
            &RandomForestParams::new()
                .max_depth(None)
                .n_estimators(5)
                .json(),
        )
        .unwrap();
        assert_eq!(p.get("max_depth"), &Json::Null);
        assert_eq!(p.get("n_estimators").num(), Some(5.0));
        let g = json::parse(&Grid::new().max_depth([Some(3), None]).json()).unwrap();
        assert_eq!(g.get("max_depth").arr().len(), 2);
    }

    impl Chart {
        fn fields_json(&self) -> String {
            let spec: Vec<String> = self
                .fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", quote(k)))
                .collect();
            format!("{{{}}}", spec.join(","))
        }
    }

    #[test]
    fn without_an_engine_calls_say_how_to_get_one() {
        // SAFETY-free: this test process never sets CHURNKIT_ENGINE.
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
    let opt = |v: Option<&str>| v.map_or("null".to_string(), quote);
    let v = call(
        "survival",
        &[
            ("frame", df.arg()),
            ("target", quote(target)),
            ("duration", opt(duration)),
            ("by", opt(by)),
        ],
    )?;
    Ok(Survival {
        h: Handle::from(&v)?,
        rows: v.get("rows").num().unwrap_or(0.0) as usize,
        events: v.get("events").num().unwrap_or(0.0) as usize,
        concordance: v.get("concordance").num().unwrap_or(f64::NAN),
        logrank_p_value: v.get("logrank_p_value").num(),
        duration: v.get("duration").str().unwrap_or_default().to_string(),
    })
}

impl Survival {
    fn arg(&self) -> String {
        self.h.0.to_string()
    }

    /// Shown as a one-line summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// The Kaplan-Meier curves with 95% bands, one per group.
    pub fn curves_chart(&self) -> Result<Png> {
        Png::from(call("survival_curves", &[("survival", self.arg())])?)
    }

    /// Hazard ratios with 95% intervals on a log axis.
    pub fn hazard_chart(&self) -> Result<Png> {
        Png::from(call("hazard_ratios", &[("survival", self.arg())])?)
    }

    /// Per curve: customers, left, median lifetime, S(12), S(24), S(36).
    pub fn table(&self) -> Result<Frame> {
        Frame::from(call("survival_table", &[("survival", self.arg())])?)
    }

    /// The Cox coefficients: hazard ratio, coef, se, p; strongest first.
    pub fn cox_table(&self) -> Result<Frame> {
        Frame::from(call("cox_table", &[("survival", self.arg())])?)
    }

    /// Customer `row` of `df`: their own survival curve beside every customer's, with their
    /// expected remaining months and lifetime value.
    pub fn customer_chart(&self, df: &Frame, row: usize) -> Result<Png> {
        Png::from(call(
            "customer_survival",
            &[
                ("survival", self.arg()),
                ("frame", df.arg()),
                ("row", row.to_string()),
            ],
        )?)
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
    let v = call(
        "drift",
        &[
            ("data", data.arg()),
            ("frame", current.arg()),
            ("model", model.map_or("null".to_string(), Model::arg)),
        ],
    )?;
    Ok(Drift {
        h: Handle::from(&v)?,
        drifted: v.get("drifted").num().unwrap_or(0.0) as usize,
        features: v.get("features").num().unwrap_or(0.0) as usize,
        dataset_drift: v.get("dataset_drift").bool().unwrap_or(false),
        estimated_roc_auc: v.get("estimated_roc_auc").num(),
    })
}

impl Drift {
    /// Shown as a one-line summary.
    pub fn evcxr_display(&self) {
        show(&self.h);
    }

    /// Every feature: test, statistic, p-value, PSI, verdict; the largest PSI first.
    pub fn table(&self) -> Result<Frame> {
        Frame::from(call("drift_table", &[("drift", self.h.0.to_string())])?)
    }

    /// PSI per feature as bars.
    pub fn chart(&self) -> Result<Png> {
        Png::from(call("drift_chart", &[("drift", self.h.0.to_string())])?)
    }
}

/// Score the raw rows of `df` with the pipeline's model ([`Project::model`]): ids (or a row
/// number), `churn_probability`, `churn_prediction` at `threshold`, `score_decile` (1 = the
/// highest tenth) and, with `explain > 0`, each row's largest TreeSHAP reasons.
pub fn predict(model: &Model, df: &Frame, threshold: f64, explain: usize) -> Result<Frame> {
    Frame::from(call(
        "predict",
        &[
            ("model", model.arg()),
            ("frame", df.arg()),
            ("threshold", format!("{threshold}")),
            ("explain", explain.to_string()),
        ],
    )?)
}
