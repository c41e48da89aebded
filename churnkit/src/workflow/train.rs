//! Training: the [`TrainSpec`], the fit with what it measured ([`Trained`]), the final model
//! refitted on every row, and the training run record.

use super::records::{dataset_inputs, insert_metrics};
use crate::artifacts;
use churnkit_core::bail;
use churnkit_core::calibration::CalibrationMethod;
use churnkit_core::evaluate::{roc_auc, BinaryMetrics};
use churnkit_core::forest::RandomForestValidParams;
use churnkit_core::io::sha256_bytes;
use churnkit_core::model::{self, FittedOn, Model, ModelKind};
use churnkit_core::preprocess::Processed;
use churnkit_core::Result;
use churnkit_tracking::record::{
    keys::{metrics as m, params as p, tags as t},
    reproducibility_tags, Artifact, MetricPoint, ModelFlavor, RunKind, RunRecord, MODEL_DIR,
};
use std::time::Instant;

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
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

/// The `MLmodel` flavor of churnkit's model files.
pub(super) fn churnkit_flavor() -> ModelFlavor {
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

pub(super) fn depth_text(d: Option<usize>) -> String {
    d.map_or("None".into(), |d| d.to_string())
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
