//! The workflow's steps on values: train a model on [`Processed`] data, evaluate it, score new
//! customers, and turn each result into the [`RunRecord`] tracking logs (artifacts in memory).
//! The CLI and the notebooks call exactly these; saving files is [`crate::layout`]'s job.
//!
//! ```
//! use churnkit::prelude::*;
//! let (csv, _) = churnkit::generate::generate_rows(300, 1);
//! let table = Table::from_csv_bytes(csv, "customers.csv")?;
//! let schema = Schema::infer(&table, "Churn", None)?;
//! let data = Processed::fit(&table, &schema, SplitOptions::default())?;
//! let params = RandomForestParams::new().n_estimators(20).check()?;
//! let trained = train(&data, TrainSpec::new(params))?;
//! let evaluated = trained.evaluate(&data, 0.5)?; // or evaluate(&model, &data, 0.5) for any model
//! let run = evaluated.run_record(&data, "churn-prediction");
//! assert_eq!(run.metrics["test_f1"], Some(evaluated.evaluation.metrics.f1));
//! assert!(run.artifacts.iter().any(|a| a.path == "roc_curve.png"));
//! # Ok::<(), churnkit::Error>(())
//! ```

use crate::artifacts;
use churnkit_core::calibration::CalibrationMethod;
use churnkit_core::decisions::{DecisionCharts, Decisions, ThresholdChoice};
use churnkit_core::evaluate::{class_names, roc_auc, BinaryMetrics, Charts, Evaluation};
use churnkit_core::forest::RandomForestValidParams;
use churnkit_core::importance::PermutationImportance;
use churnkit_core::io::sha256_bytes;
use churnkit_core::model::{self, FittedOn, Model, ModelKind};
use churnkit_core::preprocess::{Preprocessor, Processed, TransformReport, UnknownCategory};
use churnkit_core::profit::Economics;
use churnkit_core::table::Table;
use churnkit_core::Result;
use churnkit_core::{bail, ensure};
use churnkit_tracking::record::{
    keys::{metrics as m, params as p, tags as t},
    reproducibility_tags, Artifact, MetricPoint, ModelFlavor, RunKind, RunRecord, MODEL_DIR,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux ABI churnkit runs on.
    Some(ticks / 100.0)
}

/// A fitted model with what training measured. The model and its JSON are read-only, so the
/// saved, hashed and logged bytes are always the model's.
#[derive(Debug, Clone)]
pub struct Trained {
    model: Model,
    model_json: Vec<u8>,
    /// The final model and its JSON, after [`Trained::refit_on_all_rows`].
    final_model: Option<(Model, Vec<u8>)>,
    /// Metrics on the training rows at 0.5.
    pub train: BinaryMetrics,
    /// Metrics on the test rows at 0.5.
    pub test: BinaryMetrics,
    /// Test ROC AUC as trees are added.
    pub auc_history: Vec<MetricPoint>,
    /// Out-of-bag metrics of the training rows (a forest with bootstrap only).
    pub oob: Option<OutOfBag>,
    /// Wall seconds of the fit.
    pub fit_seconds: f64,
    /// CPU seconds of the fit, all threads (Linux only).
    pub fit_cpu_seconds: Option<f64>,
    /// Set when train and test disagree enough to suggest overfitting.
    pub overfit_warning: Option<String>,
    /// Start and end of the step, ms since the epoch.
    pub time_ms: (u64, u64),
}

/// Out-of-bag figures of a forest's training rows: each row scored by the trees that did not
/// draw it, an honest estimate of the test metrics that needs no test rows.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfBag {
    /// The scores, NaN for a row every tree drew.
    pub scores: Vec<f64>,
    /// ROC AUC over the rows with a score.
    pub roc_auc: Option<f64>,
    /// Accuracy at 0.5 over the rows with a score.
    pub accuracy: f64,
    /// Rows with a score.
    pub rows: usize,
}

impl OutOfBag {
    /// The figures of out-of-bag `scores` against the training labels `y`.
    pub fn new(scores: Vec<f64>, y: &[u8]) -> Self {
        let (s, t) = churnkit_core::forest::scored_rows(&scores, y);
        let right = s
            .iter()
            .zip(&t)
            .filter(|(p, y)| u8::from(**p > 0.5) == **y)
            .count();
        OutOfBag {
            roc_auc: roc_auc(&t, &s),
            accuracy: if s.is_empty() {
                0.0
            } else {
                right as f64 / s.len() as f64
            },
            rows: s.len(),
            scores,
        }
    }
}

/// How to train: which algorithm, its checked hyperparameters, an optional calibration map, and
/// who to tell as each tree finishes. The one argument of [`train`]; checked params convert into
/// a spec for a random forest (`train(&data, params)`), and the builder sets the rest.
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::calibration::CalibrationMethod;
/// let params = RandomForestParams::new().n_estimators(20).seed(7).check()?;
/// let spec = TrainSpec::new(params).calibration(CalibrationMethod::Isotonic);
/// assert_eq!(spec.kind(), ModelKind::RandomForest);
/// # Ok::<(), churnkit::Error>(())
/// ```
#[derive(Clone)]
pub struct TrainSpec<'a> {
    kind: ModelKind,
    params: RandomForestValidParams,
    calibration: Option<CalibrationMethod>,
    on_tree: Option<&'a (dyn Fn() + Sync)>,
}

impl std::fmt::Debug for TrainSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainSpec")
            .field("kind", &self.kind)
            .field("params", &self.params)
            .field("calibration", &self.calibration)
            .field("on_tree", &self.on_tree.map(|_| ".."))
            .finish()
    }
}

impl<'a> TrainSpec<'a> {
    /// A random forest with `params`, uncalibrated, unobserved.
    pub fn new(params: RandomForestValidParams) -> Self {
        TrainSpec {
            kind: ModelKind::RandomForest,
            params,
            calibration: None,
            on_tree: None,
        }
    }

    /// The algorithm (a random forest unless set; a decision tree uses `max_depth`,
    /// `min_samples_split`, `min_samples_leaf` and the seed of the params).
    pub fn model(mut self, kind: ModelKind) -> Self {
        self.kind = kind;
        self
    }

    /// Fit a calibration map on the out-of-bag scores of the training rows and keep it in the
    /// model (a random forest with bootstrap only).
    pub fn calibration(mut self, method: CalibrationMethod) -> Self {
        self.calibration = Some(method);
        self
    }

    /// [`TrainSpec::calibration`] when `method` is `Some`.
    pub fn calibration_opt(mut self, method: Option<CalibrationMethod>) -> Self {
        self.calibration = method;
        self
    }

    /// Call `on_tree` as each tree of a forest finishes (from worker threads), e.g. to move a
    /// progress bar.
    pub fn on_tree(mut self, on_tree: &'a (dyn Fn() + Sync)) -> Self {
        self.on_tree = Some(on_tree);
        self
    }

    /// The algorithm.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The hyperparameters.
    pub fn params(&self) -> &RandomForestValidParams {
        &self.params
    }
}

impl From<RandomForestValidParams> for TrainSpec<'_> {
    fn from(params: RandomForestValidParams) -> Self {
        TrainSpec::new(params)
    }
}

impl From<&RandomForestValidParams> for TrainSpec<'_> {
    fn from(params: &RandomForestValidParams) -> Self {
        TrainSpec::new(params.clone())
    }
}

/// Fit the model `spec` describes on the training rows of `data`, then score both sides: the
/// one way to train (the CLI, the notebooks and [`train_grid`] call it).
pub fn train<'a>(data: &Processed, spec: impl Into<TrainSpec<'a>>) -> Result<Trained> {
    let spec = spec.into();
    let (kind, params) = (spec.kind, &spec.params);
    let on_tree = spec.on_tree.unwrap_or(&|| {});
    let start = churnkit_tracking::now_ms();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    // The fit scores the training rows as it grows the trees (their means and out-of-bag
    // means); one walk over the test rows gives their scores and the AUC as trees are added.
    let (mut model, scores) =
        Model::fit_scored(kind, params, &data.x_train, &data.y_train, on_tree)?;
    let fit_seconds = t0.elapsed().as_secs_f64();
    let fit_cpu_seconds = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
    let (scores_train, oob_scores) = match scores {
        Some(s) => (s.all, s.oob),
        None => model.fitted_scores(&data.x_train)?,
    };
    let oob = oob_scores.map(|s| OutOfBag::new(s, &data.y_train));
    let p_train = match spec.calibration {
        Some(method) => {
            let Some(o) = &oob else {
                bail!(params, "calibration is fitted on out-of-bag scores: it needs a random forest with bootstrap",);
            };
            model.calibrate_on(method, &o.scores, &data.y_train)?;
            let c = model.calibration.as_ref().expect("just fitted");
            c.apply_all(&scores_train)
        }
        None => scores_train,
    };
    let (p_test, history) = model.predict_with_auc_history(&data.x_test, &data.y_test)?;
    let auc_history = history
        .into_iter()
        .map(|(trees, value)| MetricPoint {
            step: trees as i64,
            value,
        })
        .collect();
    let train_m = BinaryMetrics::compute(&data.y_train, &p_train, 0.5);
    let test_m = BinaryMetrics::compute(&data.y_test, &p_test, 0.5);
    let overfit_warning = (train_m.accuracy - test_m.accuracy > 0.05
        || train_m.f1 - test_m.f1 > 0.10)
        .then(|| {
            format!(
                "possible overfitting: train accuracy {:.3} vs test {:.3}, train F1 {:.3} vs test {:.3}; try a smaller value of the `max_depth` option or a larger one of the `min_samples_leaf` option",
                train_m.accuracy, test_m.accuracy, train_m.f1, test_m.f1
            )
        });
    Ok(Trained {
        model_json: model.to_json(),
        model,
        final_model: None,
        train: train_m,
        test: test_m,
        auc_history,
        oob,
        fit_seconds,
        fit_cpu_seconds,
        overfit_warning,
        time_ms: (start, churnkit_tracking::now_ms()),
    })
}

/// The two sides of the split as MLflow datasets: `<file stem>-train` (context `training`) and
/// `<file stem>-test` (`evaluation`). The digest identifies the rows: the input's SHA-256, the
/// schema and the split settings determine them.
pub fn dataset_inputs(data: &Processed, sides: &[&str]) -> Vec<churnkit_tracking::DatasetInput> {
    let st = &data.state;
    let stem = std::path::Path::new(&st.input.file)
        .file_stem()
        .map_or("data".to_string(), |s| s.to_string_lossy().into_owned());
    let source = if st.input.file.starts_with('(') {
        serde_json::json!({"uri": format!("memory:{}", st.input.sha256)})
    } else {
        let abs = std::fs::canonicalize(&st.input.file)
            .map_or_else(|_| st.input.file.clone(), |p| p.display().to_string());
        serde_json::json!({"uri": abs})
    };
    let mut cols: Vec<serde_json::Value> = Vec::new();
    for f in &st.features {
        let t = match f {
            churnkit_core::preprocess::FeatureTransform::Numeric { .. } => "double",
            _ => "string",
        };
        cols.push(serde_json::json!({"type": t, "name": f.name(), "required": true}));
    }
    cols.push(serde_json::json!({"type": "string", "name": st.target.column, "required": true}));
    let schema = serde_json::json!({ "mlflow_colspec": cols }).to_string();
    let split = serde_json::to_string(&st.split.options).unwrap_or_default();
    let features = serde_json::to_string(&st.features).unwrap_or_default();
    sides
        .iter()
        .map(|&side| {
            let (rows, positive, context) = match side {
                "train" => (st.split.train_rows, st.split.train_positive, "training"),
                _ => (st.split.test_rows, st.split.test_positive, "evaluation"),
            };
            let digest = sha256_bytes(
                format!("{}\n{split}\n{features}\n{side}", st.input.sha256).as_bytes(),
            );
            churnkit_tracking::DatasetInput {
                name: format!("{stem}-{side}"),
                digest: digest[..16].to_string(),
                source_type: "local".into(),
                source: source.to_string(),
                schema: schema.clone(),
                profile: serde_json::json!({
                    "num_rows": rows,
                    "num_elements": rows * (cols.len()),
                    "churners": positive,
                    "churn_rate": if rows > 0 { positive as f64 / rows as f64 } else { 0.0 },
                })
                .to_string(),
                context: context.into(),
            }
        })
        .collect()
}

/// The `MLmodel` flavor of churnkit's model files.
fn churnkit_flavor() -> ModelFlavor {
    let fields = [
        (
            "churnkit_version",
            serde_json::json!(churnkit_core::VERSION),
        ),
        ("model_file", serde_json::json!(artifacts::MODEL)),
        (
            "preprocessor_file",
            serde_json::json!(artifacts::PREPROCESSOR),
        ),
        ("format", serde_json::json!(model::FORMAT)),
        ("format_version", serde_json::json!(model::FORMAT_VERSION)),
    ];
    ModelFlavor {
        name: "churnkit".into(),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        python_function: None,
    }
}

fn depth_text(d: Option<usize>) -> String {
    d.map_or("None".into(), |d| d.to_string())
}

fn insert_metrics(into: &mut BTreeMap<String, Option<f64>>, pairs: &[(&str, Option<f64>)]) {
    for (k, v) in pairs {
        into.insert((*k).to_string(), *v);
    }
}

impl Trained {
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model's JSON: what is saved, hashed and logged.
    pub fn model_json(&self) -> &[u8] {
        &self.model_json
    }

    /// SHA-256 of the model's JSON: the tag that links an evaluation to this training run.
    pub fn model_sha256(&self) -> String {
        sha256_bytes(&self.model_json)
    }

    /// Fit the same algorithm with the same hyperparameters on every kept row (training and
    /// test rows) once the held-out evaluation is done: the model to deploy, as AutoGluon's
    /// `refit_full` and PyCaret's `finalize_model` do. The held-out metrics stay those of
    /// [`Trained::model`], the model fitted on the training rows; the final model has seen the
    /// test rows and has no honest metrics of its own. The preprocessor stays the one fitted on
    /// the training rows (a tree does not care about the scaling, and category codes already
    /// cover every kept row).
    pub fn refit_on_all_rows(
        mut self,
        data: &Processed,
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<Self> {
        let (x, y) = data.all_rows()?;
        let mut m = Model::fit(self.model.kind, &self.model.params, &x, &y, on_tree)?;
        m.fitted_on = FittedOn::AllRows;
        if let Some(c) = &self.model.calibration {
            // Refit the map on the final model's own out-of-bag scores of every kept row.
            m.calibrate_on(c.method(), &m.oob_scores(&x)?, &y)?;
        }
        let json = m.to_json();
        self.final_model = Some((m, json));
        Ok(self)
    }

    /// The final model, after [`Trained::refit_on_all_rows`].
    pub fn final_model(&self) -> Option<&Model> {
        self.final_model.as_ref().map(|(m, _)| m)
    }

    /// The JSON of the model to deploy: the final model if there is one, else the evaluated one.
    pub fn deployed_json(&self) -> &[u8] {
        self.final_model
            .as_ref()
            .map_or(&self.model_json, |(_, j)| j)
    }

    /// [`evaluate`] this model (its hash is known: no serialising it again).
    pub fn evaluate(
        &self,
        data: &Processed,
        options: impl Into<EvaluateOptions>,
    ) -> Result<Evaluated> {
        let options = options.into();
        let options = match options.model_sha256 {
            Some(_) => options,
            None => options.model_sha256(self.model_sha256()),
        };
        evaluate(&self.model, data, options)
    }

    /// The training run: hyperparameters, sizes, train and test metrics, timings, the AUC
    /// history, reproducibility tags; the model, its importances and the preprocessor as
    /// artifacts (the last two under `model/`, with an `MLmodel` flavor).
    pub fn run_record(&self, data: &Processed, experiment: &str) -> RunRecord {
        let mp = &self.model.params;
        let kind = self.model.kind;
        let mut r = RunRecord::new(
            RunKind::Train,
            experiment,
            &format!(
                "train-{kind}-d{}-n{}",
                mp.max_depth().map_or("none".into(), |d| d.to_string()),
                mp.n_estimators()
            ),
        );
        (r.start_time_ms, r.end_time_ms) = self.time_ms;
        for (k, v) in [
            (p::MODEL, kind.to_string()),
            (p::N_ESTIMATORS, mp.n_estimators().to_string()),
            (p::MAX_DEPTH, depth_text(mp.max_depth())),
            (p::MIN_SAMPLES_SPLIT, mp.min_samples_split().to_string()),
            (p::MIN_SAMPLES_LEAF, mp.min_samples_leaf().to_string()),
            (p::MAX_FEATURES, mp.max_features().to_string()),
            (p::BOOTSTRAP, mp.bootstrap().to_string()),
            (p::RANDOM_STATE, mp.seed().to_string()),
            (p::TRAIN_SIZE, data.y_train.len().to_string()),
            (p::TEST_SIZE, data.y_test.len().to_string()),
            (p::N_FEATURES, self.model.feature_names.len().to_string()),
            (p::FINAL_MODEL, self.final_model.is_some().to_string()),
            (
                p::CALIBRATION,
                self.model
                    .calibration
                    .as_ref()
                    .map_or("none".to_string(), |c| {
                        format!("{:?}", c.method()).to_lowercase()
                    }),
            ),
        ] {
            r.params.insert(k.to_string(), v);
        }
        if let Some((fm, _)) = &self.final_model {
            r.params
                .insert(p::FINAL_TRAIN_SIZE.into(), fm.fitted_rows.to_string());
        }
        let (a, b) = (&self.train, &self.test);
        insert_metrics(
            &mut r.metrics,
            &[
                (m::TRAIN_ACCURACY, Some(a.accuracy)),
                (m::TRAIN_PRECISION, Some(a.precision)),
                (m::TRAIN_RECALL, Some(a.recall)),
                (m::TRAIN_F1, Some(a.f1)),
                (m::TEST_ACCURACY, Some(b.accuracy)),
                (m::TEST_PRECISION, Some(b.precision)),
                (m::TEST_RECALL, Some(b.recall)),
                (m::TEST_F1, Some(b.f1)),
                (m::TRAIN_ROC_AUC, a.roc_auc),
                (m::ROC_AUC, b.roc_auc),
                (m::TRAINING_TIME, Some(self.fit_seconds)),
                (m::TRAINING_CPU_TIME, self.fit_cpu_seconds),
                (
                    m::MODEL_SIZE_MB,
                    Some(self.model_json.len() as f64 / (1024.0 * 1024.0)),
                ),
                (m::OOB_ROC_AUC, self.oob.as_ref().and_then(|o| o.roc_auc)),
                (m::OOB_ACCURACY, self.oob.as_ref().map(|o| o.accuracy)),
            ],
        );
        r.metric_history
            .insert(m::TEST_ROC_AUC.into(), self.auc_history.clone());
        r.tags = reproducibility_tags(mp.seed(), &data.state.input.sha256);
        r.tags.insert(t::MODEL_SHA256.into(), self.model_sha256());
        let importance = self.model.importance_csv().into_bytes();
        // churn_model.json and the MLflow model are what gets deployed: the final model when
        // there is one; the evaluated model is then kept as holdout_model.json.
        let deployed = self.deployed_json().to_vec();
        r.artifacts = vec![
            Artifact::new(artifacts::MODEL, deployed.clone()),
            Artifact::new(artifacts::IMPORTANCE, importance),
            Artifact::new(format!("{MODEL_DIR}/{}", artifacts::MODEL), deployed),
            Artifact::new(
                format!("{MODEL_DIR}/{}", artifacts::PREPROCESSOR),
                data.state.to_json(),
            ),
        ];
        if let Some((_, json)) = &self.final_model {
            r.tags
                .insert(t::FINAL_MODEL_SHA256.into(), sha256_bytes(json));
            r.artifacts.push(Artifact::new(
                artifacts::HOLDOUT_MODEL,
                self.model_json.clone(),
            ));
        }
        let (python_function, files) =
            churnkit_tracking::pyfunc::python_function(&data.state, &data.x_train);
        r.artifacts.extend(files);
        let mut flavor = churnkit_flavor();
        flavor.python_function = Some(python_function);
        r.model = Some(flavor);
        r.inputs = dataset_inputs(data, &["train", "test"]);
        r
    }
}

/// How an evaluation picks its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This probability.
    Fixed(f64),
    /// The profit-optimal threshold on the out-of-bag scores of the training rows (a random
    /// forest with bootstrap only): never chosen on the test rows it is reported on.
    ProfitOptimal,
}

impl std::str::FromStr for Threshold {
    type Err = churnkit_core::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "optimal" {
            return Ok(Threshold::ProfitOptimal);
        }
        match s.parse::<f64>() {
            Ok(t) if (0.0..1.0).contains(&t) => Ok(Threshold::Fixed(t)),
            _ => Err(churnkit_core::Error::params(format!(
                "threshold `{s}`: expected a probability in [0, 1) or `optimal`"
            ))),
        }
    }
}

/// How to evaluate: the threshold (given, or profit-optimal on out-of-bag scores), the economics
/// of an offer, and the SHA-256 the run record tags the model with. The one argument of
/// [`evaluate`] besides the model and the data; a bare probability converts into a fixed
/// threshold with the default economics.
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::profit::Economics;
/// let options = EvaluateOptions::new()
///     .threshold(Threshold::ProfitOptimal)
///     .economics(Economics { offer_cost: 20.0, ..Economics::default() });
/// assert_eq!(options.threshold, Threshold::ProfitOptimal);
/// assert_eq!(EvaluateOptions::from(0.4).threshold, Threshold::Fixed(0.4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluateOptions {
    /// The decision threshold.
    pub threshold: Threshold,
    /// The economics of a retention offer, for the profit curve and the optimal threshold.
    pub economics: Economics,
    /// The model's SHA-256 for the run record, e.g. the hash of the file it was loaded from
    /// ([`crate::layout::Layout::load_model_with_hash`]), which links the evaluation to the
    /// training run that wrote that file. `None`: the hash of the model's JSON.
    pub model_sha256: Option<String>,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions::fixed(0.5)
    }
}

impl From<f64> for EvaluateOptions {
    fn from(threshold: f64) -> Self {
        EvaluateOptions::fixed(threshold)
    }
}

impl From<&EvaluateOptions> for EvaluateOptions {
    fn from(options: &EvaluateOptions) -> Self {
        options.clone()
    }
}

impl EvaluateOptions {
    /// Threshold 0.5 and the default economics.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixed threshold and the default economics.
    pub fn fixed(threshold: f64) -> Self {
        EvaluateOptions {
            threshold: Threshold::Fixed(threshold),
            economics: Economics::default(),
            model_sha256: None,
        }
    }

    /// The decision threshold.
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = threshold;
        self
    }

    /// The economics of an offer.
    pub fn economics(mut self, economics: Economics) -> Self {
        self.economics = economics;
        self
    }

    /// The model's SHA-256 for the run record (see the field).
    pub fn model_sha256(mut self, sha256: String) -> Self {
        self.model_sha256 = Some(sha256);
        self
    }

    /// Pick the threshold of `model` on `data`: the given one, or the profit-optimal one on
    /// the out-of-bag scores of the training rows (calibrated like the model's predictions).
    pub fn choose(&self, model: &Model, data: &Processed) -> Result<ThresholdChoice> {
        match self.threshold {
            Threshold::Fixed(threshold) => Ok(ThresholdChoice::Fixed { threshold }),
            Threshold::ProfitOptimal => {
                ensure!(model.fitted_on == FittedOn::TrainingRows, model, "the optimal threshold is chosen on the out-of-bag scores of the training rows: evaluate the held-out model",);
                let oob = model.oob_scores(&data.x_train).map_err(|e| {
                    e.prefixed("the profit-optimal threshold needs out-of-bag scores")
                })?;
                let oob = match &model.calibration {
                    Some(c) => oob.iter().map(|&s| c.apply(s)).collect(),
                    None => oob,
                };
                ThresholdChoice::profit_optimal(&data.y_train, &oob, self.economics)
            }
        }
    }
}

/// A model's evaluation on the test rows, with its charts drawn.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// Metrics, curves and reports.
    pub evaluation: Evaluation,
    /// The three charts.
    pub charts: Charts,
    /// Gains and lift, calibration and profit, at the chosen threshold.
    pub decisions: Decisions,
    /// Their charts.
    pub decision_charts: DecisionCharts,
    /// Permutation importance on the test rows (5 shuffles per feature; `None` when the test
    /// rows hold one class only, so ROC AUC is undefined).
    pub permutation: Option<PermutationImportance>,
    /// What was evaluated.
    pub model_kind: ModelKind,
    /// Its seed.
    pub model_seed: u64,
    /// SHA-256 of its JSON.
    pub model_sha256: String,
    /// Start and end of the step, ms since the epoch.
    pub time_ms: (u64, u64),
}

/// Score the test rows of `data` with `model` and evaluate them as `options` say: metrics,
/// curves, the classification report, the business figures, the decisions and the charts. The
/// one way to evaluate (`options` may be a bare threshold: `evaluate(&model, &data, 0.5)`).
pub fn evaluate(
    model: &Model,
    data: &Processed,
    options: impl Into<EvaluateOptions>,
) -> Result<Evaluated> {
    let options = options.into();
    let model_sha256 = options
        .model_sha256
        .clone()
        .unwrap_or_else(|| sha256_bytes(&model.to_json()));
    let start = churnkit_tracking::now_ms();
    let choice = options.choose(model, data)?;
    let proba = model.predict(&data.x_test)?;
    let decisions = Decisions::new(&data.y_test, &proba, choice, options.economics)?;
    let evaluation = Evaluation::new(
        data.y_test.clone(),
        proba,
        choice.threshold(),
        class_names(&data.state.target),
    );
    let charts = evaluation.charts()?;
    let permutation = if data.y_test.contains(&0) && data.y_test.contains(&1) {
        Some(PermutationImportance::compute(
            model,
            &data.x_test,
            &data.y_test,
            5,
            model.params.seed(),
        )?)
    } else {
        None
    };
    Ok(Evaluated {
        evaluation,
        charts,
        permutation,
        decision_charts: decisions.charts()?,
        decisions,
        model_kind: model.kind,
        model_seed: model.params.seed(),
        model_sha256,
        time_ms: (start, churnkit_tracking::now_ms()),
    })
}

impl Evaluated {
    /// The five output files (name, bytes): charts and reports.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let e = &self.evaluation;
        let mut files = vec![
            (
                artifacts::CONFUSION_MATRIX,
                self.charts.confusion_matrix.bytes.clone(),
            ),
            (artifacts::ROC_CURVE, self.charts.roc_curve.bytes.clone()),
            (
                artifacts::PR_CURVE,
                self.charts.precision_recall_curve.bytes.clone(),
            ),
            (artifacts::CLASSIFICATION_REPORT, e.report.to_json()),
            (artifacts::BUSINESS_METRICS, e.business.to_json()),
            (
                artifacts::GAINS_CHART,
                self.decision_charts.gains.bytes.clone(),
            ),
            (
                artifacts::LIFT_CHART,
                self.decision_charts.lift.bytes.clone(),
            ),
            (
                artifacts::CALIBRATION_CHART,
                self.decision_charts.calibration.bytes.clone(),
            ),
            (
                artifacts::PROFIT_CHART,
                self.decision_charts.profit.bytes.clone(),
            ),
            (
                artifacts::GAINS_TABLE,
                self.decisions
                    .gains
                    .as_ref()
                    .map_or_else(String::new, |g| g.to_csv())
                    .into_bytes(),
            ),
            (
                artifacts::DECISIONS,
                self.decisions.to_json(&self.model_sha256),
            ),
        ];
        if let Some(p) = &self.permutation {
            files.push((artifacts::PERMUTATION_TABLE, p.to_csv().into_bytes()));
            if let Ok(png) = p.chart() {
                files.push((artifacts::PERMUTATION_CHART, png.bytes));
            }
        }
        files
    }

    /// The evaluation run: threshold, test metrics, business rates, tags (with the model's
    /// hash, which links it to its training run), and the five files as artifacts.
    pub fn run_record(&self, data: &Processed, experiment: &str) -> RunRecord {
        let e = &self.evaluation;
        let mut r = RunRecord::new(
            RunKind::Evaluate,
            experiment,
            &format!("evaluate-{}", self.model_kind),
        );
        (r.start_time_ms, r.end_time_ms) = self.time_ms;
        r.params
            .insert(p::THRESHOLD.into(), e.threshold.to_string());
        r.params.insert(p::TEST_SIZE.into(), e.y.len().to_string());
        r.params
            .insert(p::MODEL.into(), self.model_kind.to_string());
        let d = &self.decisions;
        for (k, v) in [
            (p::THRESHOLD_CHOICE, d.threshold.label().to_string()),
            (p::OFFER_COST, d.economics.offer_cost.to_string()),
            (p::RETAINED_VALUE, d.economics.retained_value.to_string()),
            (p::SUCCESS_RATE, d.economics.success_rate.to_string()),
        ] {
            r.params.insert(k.into(), v);
        }
        insert_metrics(
            &mut r.metrics,
            &[
                (m::ROC_AUC, e.metrics.roc_auc),
                (m::AVERAGE_PRECISION, e.average_precision),
                (m::TEST_ACCURACY, Some(e.metrics.accuracy)),
                (m::TEST_PRECISION, Some(e.metrics.precision)),
                (m::TEST_RECALL, Some(e.metrics.recall)),
                (m::TEST_F1, Some(e.metrics.f1)),
                (
                    m::CHURN_DETECTION_RATE,
                    Some(e.business.churn_detection_rate),
                ),
                (m::FALSE_ALARM_RATE, Some(e.business.false_alarm_rate)),
                (m::BRIER_SCORE, Some(d.calibration.brier)),
                (m::EXPECTED_CALIBRATION_ERROR, Some(d.calibration.ece)),
                (m::TOP_DECILE_CAPTURE, d.top_decile_capture()),
                (m::TOP_DECILE_LIFT, d.top_decile_capture().map(|c| c / 0.1)),
                (m::PROFIT, Some(d.profit_at_threshold)),
                (m::PROFIT_AT_HALF, Some(d.profit_at_half)),
            ],
        );
        r.tags = reproducibility_tags(self.model_seed, &data.state.input.sha256);
        r.tags
            .insert(t::MODEL_SHA256.into(), self.model_sha256.clone());
        r.artifacts = self
            .files()
            .into_iter()
            .map(|(name, bytes)| Artifact::new(name, bytes))
            .collect();
        r.inputs = dataset_inputs(data, &["test"]);
        r
    }
}

/// Scores of new customers: their id columns (and any other columns asked for), the class-1
/// probability and the label, plus what the transform found in their rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Input columns carried through (name, values): the id columns, then with
    /// [`PredictOptions::keep_columns`] every other input column; when the table has no id
    /// column, a 1-based row number first (see [`Scores::row_column`]).
    pub columns: Vec<(String, Vec<Option<String>>)>,
    /// Class-1 probability per row.
    pub probability: Vec<f64>,
    /// The threshold the labels use.
    pub threshold: f64,
    /// Missing values, impossible values and unseen categories per column.
    pub report: TransformReport,
    /// The name of the row-number column, when one was added because the input has no id.
    pub row_column: Option<String>,
    /// With [`PredictOptions::explain`]: each row's largest SHAP contributions, largest first.
    pub reasons: Vec<Vec<Reason>>,
    /// With [`PredictOptions::explain`]: the base value the contributions add to.
    pub base_value: Option<f64>,
}

/// One reason for a customer's score: a feature, the customer's value, and how much it moved
/// the score from the base value (exact TreeSHAP; positive raises the churn score).
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The feature (an input column).
    pub feature: String,
    /// The customer's value as given (None when missing).
    pub value: Option<String>,
    /// The contribution to the score.
    pub contribution: f64,
}

/// How [`predict`] scores.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PredictOptions {
    /// What to do with a category never seen in training (default: treat it as missing).
    pub unknown: UnknownCategory,
    /// Probability above which a customer is flagged.
    pub threshold: f64,
    /// Carry every input column to the output, not only the ids.
    pub keep_columns: bool,
    /// Add each row's `explain` largest reasons (0: none).
    pub explain: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            unknown: UnknownCategory::default(),
            threshold: 0.5,
            keep_columns: false,
            explain: 0,
        }
    }
}

impl PredictOptions {
    /// Set the unseen-category policy.
    pub fn unknown(mut self, u: UnknownCategory) -> Self {
        self.unknown = u;
        self
    }

    /// Set the threshold.
    pub fn threshold(mut self, t: f64) -> Self {
        self.threshold = t;
        self
    }

    /// Carry every input column through.
    pub fn keep_columns(mut self, k: bool) -> Self {
        self.keep_columns = k;
        self
    }

    /// Add each row's `k` largest reasons (exact TreeSHAP contributions).
    pub fn explain(mut self, k: usize) -> Self {
        self.explain = k;
        self
    }
}

/// The score columns [`Scores::to_csv`] appends.
pub const SCORE_COLUMNS: [&str; 2] = ["churn_probability", "churn_prediction"];

/// Apply the fitted preprocessor and the model to new customers in `table` (the target may be
/// absent).
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{predict, train, PredictOptions};
/// let (csv, _) = churnkit::generate::generate_rows(300, 1);
/// let table = Table::from_csv_bytes(csv, "sample.csv")?;
/// let data = Processed::fit(&table, &Schema::infer(&table, "Churn", None)?, SplitOptions::default())?;
/// let params = RandomForestParams::new().n_estimators(10).check()?;
/// let trained = train(&data, ModelKind::RandomForest, &params)?;
/// let new = Table::from_csv_bytes(b"Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod\n40,2,80,160,Weekly,Mailed check\n".to_vec(), "new.csv")?;
/// let scores = predict(&data.state, trained.model(), &new, PredictOptions::default())?;
/// assert_eq!(scores.report.unseen["Contract"].count, 1);      // scored as a missing contract
/// assert_eq!(scores.row_column.as_deref(), Some("row_number"));  // no id column in the input
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn predict(
    preprocessor: &Preprocessor,
    model: &Model,
    table: &Table,
    options: PredictOptions,
) -> Result<Scores> {
    model.check_features(&preprocessor.feature_names())?;
    let (x, report) = preprocessor.transform_report(table, options.unknown)?;
    let probability = model.predict(&x)?;
    let (mut reasons, mut base_value) = (Vec::new(), None);
    if options.explain > 0 {
        let c = model.explain(&x)?;
        let raw: Vec<Vec<Option<&str>>> = model
            .feature_names
            .iter()
            .map(|f| table.column(f))
            .collect::<Result<_>>()?;
        reasons = (0..c.n_rows())
            .map(|i| {
                c.top(i, options.explain)
                    .into_iter()
                    .map(|(f, v)| Reason {
                        feature: model.feature_names[f].clone(),
                        value: raw[f][i].map(String::from),
                        contribution: v,
                    })
                    .collect()
            })
            .collect();
        base_value = Some(c.base_value);
    }
    let ids: Vec<&String> = preprocessor
        .schema
        .id_columns
        .iter()
        .filter(|c| table.has_column(c))
        .collect();
    let mut names: Vec<&String> = ids.clone();
    if options.keep_columns {
        names.extend(table.headers().iter().filter(|h| !ids.contains(h)));
    }
    let mut columns = Vec::new();
    let mut row_column = None;
    if ids.is_empty() {
        // A name no input column (nor a score column) has.
        let mut name = "row_number".to_string();
        while table.has_column(&name) || SCORE_COLUMNS.contains(&name.as_str()) {
            name.insert(0, '_');
        }
        columns.push((
            name.clone(),
            (1..=table.n_rows()).map(|i| Some(i.to_string())).collect(),
        ));
        row_column = Some(name);
    }
    for c in names {
        let values = table
            .column(c)?
            .iter()
            .map(|v| v.map(String::from))
            .collect();
        columns.push((c.clone(), values));
    }
    Ok(Scores {
        columns,
        probability,
        threshold: options.threshold,
        report,
        row_column,
        reasons,
        base_value,
    })
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Scores {
    /// 0/1 label per row: 1 when the probability is above the threshold.
    pub fn labels(&self) -> Vec<u8> {
        churnkit_core::evaluate::labels(&self.probability, self.threshold)
    }

    /// Rows flagged as churners.
    pub fn flagged(&self) -> usize {
        self.labels().iter().map(|&v| usize::from(v)).sum()
    }

    /// CSV: the carried columns, `churn_probability`, `churn_prediction`.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::new();
        let mut header: Vec<String> = self.columns.iter().map(|(c, _)| csv_escape(c)).collect();
        header.extend(SCORE_COLUMNS.map(String::from));
        let k = self.reasons.iter().map(Vec::len).max().unwrap_or(0);
        for r in 1..=k {
            for part in ["feature", "value", "contribution"] {
                header.push(format!("reason_{r}_{part}"));
            }
        }
        out.push_str(&header.join(","));
        out.push('\n');
        for (i, (p, label)) in self.probability.iter().zip(self.labels()).enumerate() {
            for (_, v) in &self.columns {
                out.push_str(&csv_escape(v[i].as_deref().unwrap_or("")));
                out.push(',');
            }
            out.push_str(&format!("{p},{label}"));
            if let Some(rs) = self.reasons.get(i) {
                for r in 0..k {
                    match rs.get(r) {
                        Some(x) => out.push_str(&format!(
                            ",{},{},{}",
                            csv_escape(&x.feature),
                            csv_escape(x.value.as_deref().unwrap_or("")),
                            x.contribution
                        )),
                        None => out.push_str(",,,"),
                    }
                }
            }
            out.push('\n');
        }
        out.into_bytes()
    }
}

/// A grid of forest hyperparameters: every combination of the values given (one default value
/// for each hyperparameter not given).
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{train_grid, Grid};
/// let grid = Grid::new().max_depth([Some(4), Some(8), None]).min_samples_leaf([1, 5]);
/// assert_eq!(grid.params()?.len(), 6);
/// let (csv, _) = churnkit::generate::generate_rows(400, 1);
/// let table = Table::from_csv_bytes(csv, "g.csv")?;
/// let data = Processed::fit(&table, &Schema::infer(&table, "Churn", None)?, SplitOptions::default())?;
/// let small = Grid::new().n_estimators([10]).max_depth([Some(3), Some(6)]);
/// let results = train_grid(&data, ModelKind::RandomForest, &small.params()?)?; // in parallel
/// assert_eq!(results[1].model().params.max_depth(), Some(6));
/// # Ok::<(), churnkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    n_estimators: Vec<usize>,
    max_depth: Vec<Option<usize>>,
    min_samples_split: Vec<usize>,
    min_samples_leaf: Vec<usize>,
    max_features: Vec<churnkit_core::forest::MaxFeatures>,
    seed: u64,
}

impl Default for Grid {
    fn default() -> Self {
        Grid::new()
    }
}

impl Grid {
    /// One combination: the defaults of [`churnkit_core::forest::RandomForestParams`].
    pub fn new() -> Grid {
        use churnkit_core::linfa::ParamGuard;
        let d = churnkit_core::forest::RandomForestParams::new()
            .check()
            .expect("defaults are valid");
        Grid {
            n_estimators: vec![d.n_estimators()],
            max_depth: vec![d.max_depth()],
            min_samples_split: vec![d.min_samples_split()],
            min_samples_leaf: vec![d.min_samples_leaf()],
            max_features: vec![d.max_features()],
            seed: d.seed(),
        }
    }

    /// Values of `n_estimators` to try.
    pub fn n_estimators(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.n_estimators = v.into_iter().collect();
        self
    }

    /// Values of `max_depth` to try (`None`: unlimited).
    pub fn max_depth(mut self, v: impl IntoIterator<Item = Option<usize>>) -> Grid {
        self.max_depth = v.into_iter().collect();
        self
    }

    /// Values of `min_samples_split` to try.
    pub fn min_samples_split(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.min_samples_split = v.into_iter().collect();
        self
    }

    /// Values of `min_samples_leaf` to try.
    pub fn min_samples_leaf(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.min_samples_leaf = v.into_iter().collect();
        self
    }

    /// Values of `max_features` to try.
    pub fn max_features(
        mut self,
        v: impl IntoIterator<Item = churnkit_core::forest::MaxFeatures>,
    ) -> Grid {
        self.max_features = v.into_iter().collect();
        self
    }

    /// The forest seed of every combination.
    pub fn seed(mut self, s: u64) -> Grid {
        self.seed = s;
        self
    }

    /// Every combination, checked, in a fixed order (the last hyperparameter varies fastest).
    pub fn params(&self) -> Result<Vec<RandomForestValidParams>> {
        use churnkit_core::linfa::ParamGuard;
        let mut out = Vec::new();
        for &n in &self.n_estimators {
            for &d in &self.max_depth {
                for &s in &self.min_samples_split {
                    for &l in &self.min_samples_leaf {
                        for &f in &self.max_features {
                            out.push(
                                churnkit_core::forest::RandomForestParams::new()
                                    .n_estimators(n)
                                    .max_depth(d)
                                    .min_samples_split(s)
                                    .min_samples_leaf(l)
                                    .max_features(f)
                                    .seed(self.seed)
                                    .check()?,
                            );
                        }
                    }
                }
            }
        }
        ensure!(
            !out.is_empty(),
            params,
            "the grid is empty: every hyperparameter needs at least one value",
        );
        Ok(out)
    }
}

/// Train one model per hyperparameter set, in parallel (each result is the same as a lone
/// [`train`] with those parameters, whatever the thread count), in the order given.
pub fn train_grid(
    data: &Processed,
    kind: ModelKind,
    params: &[RandomForestValidParams],
) -> Result<Vec<Trained>> {
    use rayon::prelude::*;
    params
        .par_iter()
        .map(|p| train(data, TrainSpec::new(p.clone()).model(kind)))
        .collect()
}
