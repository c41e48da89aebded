//! The table of ops: every request a cell can send, its fields and its answer. Both ends expand
//! it (see the crate's documentation); its hash is the protocol version.

use crate::json::Json;
use crate::records;
use crate::wire::{expected, Ref, Wire};
use std::collections::BTreeMap;

/// Marker types for [`Ref`]: what kind of engine object a handle points to.
pub mod kind {
    /// A table.
    #[derive(Debug)]
    pub enum Frame {}
    /// A chart.
    #[derive(Debug)]
    pub enum Png {}
    /// Prepared (split and preprocessed) data.
    #[derive(Debug)]
    pub enum Data {}
    /// A model: trained in a cell, or the pipeline's with its preprocessor.
    #[derive(Debug)]
    pub enum Model {}
    /// A model trained in a cell, with its metrics.
    #[derive(Debug)]
    pub enum Trained {}
    /// An evaluation.
    #[derive(Debug)]
    pub enum Eval {}
    /// A project.
    #[derive(Debug)]
    pub enum Project {}
    /// A survival analysis.
    #[derive(Debug)]
    pub enum Survival {}
    /// A drift report.
    #[derive(Debug)]
    pub enum Drift {}
    /// A run being filled from cells.
    #[derive(Debug)]
    pub enum Run {}
}

/// A depth limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// At most this deep.
    Limit(usize),
    /// No limit.
    Unlimited,
}

/// A number, or `"unlimited"` (not `null`: an absent option is already `null`).
impl Wire for Depth {
    fn write(&self, out: &mut String) {
        match self {
            Depth::Limit(d) => d.write(out),
            Depth::Unlimited => out.push_str("\"unlimited\""),
        }
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Str(s) if s == "unlimited" => Ok(Depth::Unlimited),
            Json::Num(_) => usize::read(v).map(Depth::Limit),
            _ => Err(expected("a depth or \"unlimited\"", v)),
        }
    }
}

impl<T: Wire> Wire for Box<T> {
    fn write(&self, out: &mut String) {
        (**self).write(out);
    }
    fn read(v: &Json) -> Result<Self, String> {
        T::read(v).map(Box::new)
    }
}

records! {
    /// A table's handle and shape.
    pub struct FrameInfo {
        pub h: Ref<kind::Frame>,
        pub height: usize,
        pub width: usize,
        pub columns: Vec<String>,
    }

    /// How to split and preprocess a table: every choice of `churnkit preprocess`.
    pub struct PrepareSpec {
        pub target: String,
        pub test_size: Option<f64>,
        pub seed: Option<u64>,
        pub positive: Option<String>,
        pub drop: Vec<String>,
        pub keep: Vec<String>,
        pub categorical: Vec<String>,
        pub na_values: Option<Vec<String>>,
    }

    /// What preprocessing decided.
    pub struct DataInfo {
        pub h: Ref<kind::Data>,
        pub target: String,
        pub positive: String,
        pub numeric: Vec<String>,
        pub categorical: Vec<String>,
        pub excluded: Vec<(String, String)>,
        pub train_rows: usize,
        pub test_rows: usize,
    }

    /// Forest hyperparameters; unset ones keep churnkit's defaults.
    pub struct ForestSpec {
        pub n_estimators: Option<usize>,
        pub max_depth: Option<Depth>,
        pub min_samples_split: Option<usize>,
        pub min_samples_leaf: Option<usize>,
        pub max_features: Option<String>,
        pub bootstrap: Option<bool>,
        pub max_bins: Option<usize>,
        pub seed: Option<u64>,
    }

    /// Values to try per hyperparameter; unset ones keep the default.
    pub struct GridSpec {
        pub n_estimators: Option<Vec<usize>>,
        pub max_depth: Option<Vec<Depth>>,
        pub min_samples_split: Option<Vec<usize>>,
        pub min_samples_leaf: Option<Vec<usize>>,
        pub max_features: Option<Vec<String>>,
        pub bootstrap: Option<Vec<bool>>,
        pub seed: Option<u64>,
    }

    /// Headline metrics at a threshold.
    pub struct MetricsInfo {
        pub accuracy: f64,
        pub precision: f64,
        pub recall: f64,
        pub f1: f64,
        pub roc_auc: Option<f64>,
    }

    /// A model trained in a cell: the trained object and the same object as a model.
    pub struct TrainedInfo {
        pub h: Ref<kind::Trained>,
        pub model: Ref<kind::Model>,
        pub train: MetricsInfo,
        pub test: MetricsInfo,
        pub oob_roc_auc: Option<f64>,
    }

    /// The economics of a retention offer.
    pub struct EconomicsSpec {
        pub offer_cost: f64,
        pub retained_value: f64,
        pub success_rate: f64,
    }

    /// An evaluation's handle and headline figures.
    pub struct EvalInfo {
        pub h: Ref<kind::Eval>,
        pub metrics: MetricsInfo,
        pub threshold: f64,
    }

    /// A chart of any columns.
    pub struct ChartSpec {
        pub kind: String,
        pub x: String,
        pub y: Option<String>,
        pub color_by: Option<String>,
        pub title: Option<String>,
        pub x_label: Option<String>,
        pub y_label: Option<String>,
        pub bins: Option<usize>,
        pub width: Option<u32>,
        pub height: Option<u32>,
    }

    /// Tables, charts and notes shown together.
    pub struct ReportSpec {
        pub title: String,
        pub columns: usize,
        pub items: Vec<ReportItem>,
    }

    /// One item of a report: an object, a nested report, or text.
    pub struct ReportItem {
        pub h: Option<u64>,
        pub report: Option<Box<ReportSpec>>,
        pub text: Option<String>,
    }

    /// A survival analysis's handle and headline figures.
    pub struct SurvivalInfo {
        pub h: Ref<kind::Survival>,
        pub rows: usize,
        pub events: usize,
        pub concordance: f64,
        pub logrank_p_value: Option<f64>,
        pub duration: String,
    }

    /// A drift report's handle and headline figures.
    pub struct DriftInfo {
        pub h: Ref<kind::Drift>,
        pub drifted: usize,
        pub features: usize,
        pub dataset_drift: bool,
        pub estimated_roc_auc: Option<f64>,
    }

    /// A cross-validation: its table (a row per fold, then mean and sd) and the headline.
    pub struct CvInfo {
        pub table: FrameInfo,
        pub roc_auc_mean: f64,
        pub roc_auc_sd: f64,
    }

    /// A tracked run as listed (undefined metrics travel as NaN).
    pub struct RunInfo {
        pub run_id: String,
        pub run_name: String,
        pub metrics: BTreeMap<String, f64>,
        pub params: BTreeMap<String, String>,
    }
}

impl PrepareSpec {
    /// Every choice left to inference and the defaults, for `target`.
    pub fn new(target: &str) -> Self {
        PrepareSpec {
            target: target.into(),
            test_size: None,
            seed: None,
            positive: None,
            drop: vec![],
            keep: vec![],
            categorical: vec![],
            na_values: None,
        }
    }
}

/// Every hyperparameter at churnkit's default.
impl Default for ForestSpec {
    fn default() -> Self {
        ForestSpec {
            n_estimators: None,
            max_depth: None,
            min_samples_split: None,
            min_samples_leaf: None,
            max_features: None,
            bootstrap: None,
            max_bins: None,
            seed: None,
        }
    }
}

/// One combination: the defaults.
impl Default for GridSpec {
    fn default() -> Self {
        GridSpec {
            n_estimators: None,
            max_depth: None,
            min_samples_split: None,
            min_samples_leaf: None,
            max_features: None,
            bootstrap: None,
            seed: None,
        }
    }
}

define_ops! {
    // Objects.
    retain: Retain { h: u64 } -> bool;
    release: Release { h: u64 } -> bool;
    objects: Objects {} -> usize;
    show: Show { h: u64 } -> String;
    report: Report { report: ReportSpec } -> String;

    // Tables in, tables and charts out.
    load_csv: LoadCsv { path: String } -> FrameInfo;
    strings: Strings { frame: Ref<kind::Frame>, column: String } -> Vec<Option<String>>;
    numbers: Numbers { frame: Ref<kind::Frame>, column: String } -> Vec<Option<f64>>;
    with_column: WithColumn { frame: Ref<kind::Frame>, name: String, values: Vec<Option<f64>> } -> FrameInfo;
    summary: Summary { frame: Ref<kind::Frame> } -> FrameInfo;
    missing_values: MissingValues { frame: Ref<kind::Frame> } -> FrameInfo;
    feature_tests: FeatureTests { frame: Ref<kind::Frame>, target: String } -> FrameInfo;
    churn_distribution: ChurnDistribution { frame: Ref<kind::Frame>, target: String } -> Ref<kind::Png>;
    churn_rate_by: ChurnRateBy { frame: Ref<kind::Frame>, column: String, target: String } -> Ref<kind::Png>;
    correlation_chart: CorrelationChart { frame: Ref<kind::Frame>, target: String } -> Ref<kind::Png>;
    chart: DrawChart { frame: Ref<kind::Frame>, spec: ChartSpec } -> Ref<kind::Png>;

    // Queries, run by polars in the engine.
    sql: Sql { tables: Vec<(String, Ref<kind::Frame>)>, query: String } -> FrameInfo;
    head: Head { frame: Ref<kind::Frame>, n: usize } -> FrameInfo;
    tail: Tail { frame: Ref<kind::Frame>, n: usize } -> FrameInfo;
    sample: Sample { frame: Ref<kind::Frame>, n: usize, seed: u64 } -> FrameInfo;
    select: Select { frame: Ref<kind::Frame>, columns: Vec<String> } -> FrameInfo;
    drop_columns: DropColumns { frame: Ref<kind::Frame>, columns: Vec<String> } -> FrameInfo;
    rename: Rename { frame: Ref<kind::Frame>, from: String, to: String } -> FrameInfo;
    filter: Filter { frame: Ref<kind::Frame>, condition: String } -> FrameInfo;
    with_columns: WithColumns { frame: Ref<kind::Frame>, exprs: Vec<String> } -> FrameInfo;
    sort: Sort { frame: Ref<kind::Frame>, column: String, descending: bool } -> FrameInfo;
    value_counts: ValueCounts { frame: Ref<kind::Frame>, column: String } -> FrameInfo;
    group_by: GroupBy { frame: Ref<kind::Frame>, keys: Vec<String>, aggs: Vec<String> } -> FrameInfo;
    cut: Cut { frame: Ref<kind::Frame>, column: String, edges: Vec<f64>, name: Option<String> } -> FrameInfo;
    qcut: Qcut { frame: Ref<kind::Frame>, column: String, q: usize, name: Option<String> } -> FrameInfo;
    crosstab: Crosstab { frame: Ref<kind::Frame>, row: String, column: String } -> FrameInfo;
    join: Join { frame: Ref<kind::Frame>, other: Ref<kind::Frame>, on: Vec<String>, how: String } -> FrameInfo;
    churn_flag: ChurnFlag { frame: Ref<kind::Frame>, target: String, positive: Option<String>, name: String } -> FrameInfo;
    describe: Describe { frame: Ref<kind::Frame> } -> FrameInfo;
    corr: Corr { frame: Ref<kind::Frame> } -> FrameInfo;
    concat: Concat { frames: Vec<Ref<kind::Frame>> } -> FrameInfo;
    write_csv: WriteCsv { frame: Ref<kind::Frame>, path: String } -> ();
    write_parquet: WriteParquet { frame: Ref<kind::Frame>, path: String } -> ();

    // Models.
    prepare: Prepare { frame: Ref<kind::Frame>, spec: PrepareSpec } -> DataInfo;
    fit: Fit { data: Ref<kind::Data>, params: ForestSpec } -> TrainedInfo;
    cross_validate: CrossValidate { frame: Ref<kind::Frame>, spec: PrepareSpec, params: ForestSpec, folds: usize } -> CvInfo;
    load_model: LoadModel { path: String } -> Ref<kind::Model>;
    importance_chart: ImportanceChart { model: Ref<kind::Model> } -> Ref<kind::Png>;
    importance_table: ImportanceTable { model: Ref<kind::Model> } -> FrameInfo;
    evaluate: Evaluate { model: Ref<kind::Model>, data: Ref<kind::Data>, threshold: Option<f64>, economics: Option<EconomicsSpec> } -> EvalInfo;
    eval_chart: EvalChart { eval: Ref<kind::Eval>, which: String } -> Ref<kind::Png>;
    report_table: ReportTable { eval: Ref<kind::Eval> } -> FrameInfo;
    gains_table: GainsTable { eval: Ref<kind::Eval> } -> FrameInfo;
    decisions_summary: DecisionsSummary { eval: Ref<kind::Eval> } -> String;
    reasons_chart: ReasonsChart { model: Ref<kind::Model>, data: Ref<kind::Data>, frame: Ref<kind::Frame>, row: usize } -> Ref<kind::Png>;
    reasons_summary: ReasonsSummary { model: Ref<kind::Model>, data: Ref<kind::Data>, frame: Ref<kind::Frame> } -> Ref<kind::Png>;
    reasons_beeswarm: ReasonsBeeswarm { model: Ref<kind::Model>, data: Ref<kind::Data>, frame: Ref<kind::Frame> } -> Ref<kind::Png>;
    predict: Predict { model: Ref<kind::Model>, frame: Ref<kind::Frame>, threshold: f64, explain: usize } -> FrameInfo;

    // Survival and drift.
    survival: Survival { frame: Ref<kind::Frame>, target: String, duration: Option<String>, by: Option<String> } -> SurvivalInfo;
    survival_curves: SurvivalCurves { survival: Ref<kind::Survival> } -> Ref<kind::Png>;
    hazard_ratios: HazardRatios { survival: Ref<kind::Survival> } -> Ref<kind::Png>;
    survival_table: SurvivalTable { survival: Ref<kind::Survival> } -> FrameInfo;
    cox_table: CoxTable { survival: Ref<kind::Survival> } -> FrameInfo;
    customer_survival: CustomerSurvival { survival: Ref<kind::Survival>, frame: Ref<kind::Frame>, row: usize } -> Ref<kind::Png>;
    drift: Drift { data: Ref<kind::Data>, frame: Ref<kind::Frame>, model: Option<Ref<kind::Model>> } -> DriftInfo;
    drift_table: DriftTable { drift: Ref<kind::Drift> } -> FrameInfo;
    drift_chart: DriftChart { drift: Ref<kind::Drift> } -> Ref<kind::Png>;

    // Projects, tracking and the registry.
    project_open: ProjectOpen { root: String } -> Ref<kind::Project>;
    runs: Runs { project: Ref<kind::Project>, experiment: String } -> FrameInfo;
    best_run: BestRun { project: Ref<kind::Project>, experiment: String, metric: String } -> RunInfo;
    recent_run_ids: RecentRunIds { project: Ref<kind::Project>, experiment: String, n: usize } -> Vec<String>;
    compare: Compare { project: Ref<kind::Project>, run_ids: Vec<String> } -> FrameInfo;
    sweep: Sweep { project: Ref<kind::Project>, experiment: String, data: Ref<kind::Data>, grid: GridSpec, rank_by: String, folds: Option<usize> } -> FrameInfo;
    metric_vs_param: MetricVsParam { project: Ref<kind::Project>, experiment: String, metric: String, param: String } -> Ref<kind::Png>;
    metric_history_chart: MetricHistoryChart { project: Ref<kind::Project>, run_id: String, metric: String } -> Ref<kind::Png>;
    log: Log { project: Ref<kind::Project>, trained: Ref<kind::Trained>, data: Ref<kind::Data>, experiment: String } -> String;
    register: Register { project: Ref<kind::Project>, run_id: String, name: String } -> u64;
    promote: Promote { project: Ref<kind::Project>, name: String, version: u64, alias: String } -> ();
    models: Models { project: Ref<kind::Project> } -> FrameInfo;
    project_model: ProjectModel { project: Ref<kind::Project> } -> Ref<kind::Model>;
    project_data: ProjectData { project: Ref<kind::Project> } -> DataInfo;
    score: Score { project: Ref<kind::Project>, uri: String, frame: Ref<kind::Frame> } -> FrameInfo;
    search_runs: SearchRuns { project: Ref<kind::Project>, experiments: Vec<String>, filter: String, order_by: Vec<String> } -> FrameInfo;
    start_run: StartRun { project: Ref<kind::Project>, experiment: String, name: String } -> Ref<kind::Run>;
    log_params: LogParams { run: Ref<kind::Run>, params: Vec<(String, String)> } -> ();
    log_metrics: LogMetrics { run: Ref<kind::Run>, metrics: Vec<(String, f64)> } -> ();
    set_tags: SetTags { run: Ref<kind::Run>, tags: Vec<(String, String)> } -> ();
    log_artifact: LogArtifact { run: Ref<kind::Run>, name: String, object: u64 } -> String;
    end_run: EndRun { run: Ref<kind::Run> } -> String;
}
