//! What a run is: [`RunRecord`] (params, metrics, tags, artifacts held in memory), its
//! [`RunKind`] and [`RunStatus`], and the names of every param, metric and tag churnkit logs
//! ([`keys`]), in one place.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The names churnkit logs under. MLflow users query runs by these, so they do not change.
pub mod keys {
    /// Param keys.
    pub mod params {
        /// Algorithm (`random-forest`, `decision-tree`).
        pub const MODEL: &str = "model";
        /// Number of trees.
        pub const N_ESTIMATORS: &str = "n_estimators";
        /// Depth limit (`None` for unlimited, as scikit-learn prints it).
        pub const MAX_DEPTH: &str = "max_depth";
        /// Minimum samples to split.
        pub const MIN_SAMPLES_SPLIT: &str = "min_samples_split";
        /// Minimum samples per leaf.
        pub const MIN_SAMPLES_LEAF: &str = "min_samples_leaf";
        /// Features per split.
        pub const MAX_FEATURES: &str = "max_features";
        /// Bootstrap on or off.
        pub const BOOTSTRAP: &str = "bootstrap";
        /// The forest's seed (scikit-learn's name).
        pub const RANDOM_STATE: &str = "random_state";
        /// Training rows.
        pub const TRAIN_SIZE: &str = "train_size";
        /// Test rows.
        pub const TEST_SIZE: &str = "test_size";
        /// Feature columns.
        pub const N_FEATURES: &str = "n_features";
        /// `true` when the run also refitted a final model on every kept row (`--final`).
        pub const FINAL_MODEL: &str = "final_model";
        /// Rows the final model was fitted on.
        pub const FINAL_TRAIN_SIZE: &str = "final_train_size";
        /// Decision threshold of an evaluation.
        pub const THRESHOLD: &str = "threshold";
        /// How the threshold was chosen: `fixed`, or `profit-optimal on out-of-bag scores`.
        pub const THRESHOLD_CHOICE: &str = "threshold_choice";
        /// Cost of one retention offer.
        pub const OFFER_COST: &str = "offer_cost";
        /// Value of a retained customer.
        pub const RETAINED_VALUE: &str = "retained_value";
        /// Share of offered churners who stay.
        pub const SUCCESS_RATE: &str = "success_rate";
        /// Calibration map stored in the model (`none`, `isotonic`, `platt`).
        pub const CALIBRATION: &str = "calibration";
    }

    /// Metric keys.
    pub mod metrics {
        /// Training-set accuracy.
        pub const TRAIN_ACCURACY: &str = "train_accuracy";
        /// Training-set precision.
        pub const TRAIN_PRECISION: &str = "train_precision";
        /// Training-set recall.
        pub const TRAIN_RECALL: &str = "train_recall";
        /// Training-set F1.
        pub const TRAIN_F1: &str = "train_f1";
        /// Training-set ROC AUC.
        pub const TRAIN_ROC_AUC: &str = "train_roc_auc";
        /// Test-set accuracy.
        pub const TEST_ACCURACY: &str = "test_accuracy";
        /// Test-set precision.
        pub const TEST_PRECISION: &str = "test_precision";
        /// Test-set recall.
        pub const TEST_RECALL: &str = "test_recall";
        /// Test-set F1.
        pub const TEST_F1: &str = "test_f1";
        /// Test-set ROC AUC (the guide's name).
        pub const ROC_AUC: &str = "roc_auc";
        /// Test ROC AUC as trees are added (a history, steps = trees).
        pub const TEST_ROC_AUC: &str = "test_roc_auc";
        /// Test average precision.
        pub const AVERAGE_PRECISION: &str = "average_precision";
        /// Wall seconds of the fit.
        pub const TRAINING_TIME: &str = "training_time";
        /// CPU seconds of the fit (all threads).
        pub const TRAINING_CPU_TIME: &str = "training_cpu_time";
        /// Size of the model's JSON in MiB.
        pub const MODEL_SIZE_MB: &str = "model_size_mb";
        /// Churners flagged / churners.
        pub const CHURN_DETECTION_RATE: &str = "churn_detection_rate";
        /// Loyal customers flagged / loyal customers.
        pub const FALSE_ALARM_RATE: &str = "false_alarm_rate";
        /// Out-of-bag ROC AUC of the training rows.
        pub const OOB_ROC_AUC: &str = "oob_roc_auc";
        /// Out-of-bag accuracy of the training rows at 0.5.
        pub const OOB_ACCURACY: &str = "oob_accuracy";
        /// Brier score of the test probabilities.
        pub const BRIER_SCORE: &str = "brier_score";
        /// Expected calibration error of the test probabilities (10 bins).
        pub const EXPECTED_CALIBRATION_ERROR: &str = "expected_calibration_error";
        /// Share of the test churners among the top 10% of scores.
        pub const TOP_DECILE_CAPTURE: &str = "top_decile_capture";
        /// Churn rate of the top 10% of scores over the overall rate.
        pub const TOP_DECILE_LIFT: &str = "top_decile_lift";
        /// Expected campaign profit on the test rows at the evaluation's threshold.
        pub const PROFIT: &str = "profit";
        /// Expected campaign profit on the test rows at 0.5.
        pub const PROFIT_AT_HALF: &str = "profit_at_0.5";
    }

    /// Tag keys.
    pub mod tags {
        /// The churnkit version that logged the run.
        pub const CHURNKIT_VERSION: &str = "churnkit.version";
        /// The seed.
        pub const SEED: &str = "seed";
        /// SHA-256 of the input data's content.
        pub const DATA_SHA256: &str = "data.sha256";
        /// SHA-256 of the model's JSON.
        pub const MODEL_SHA256: &str = "model.sha256";
        /// SHA-256 of the final model's file (fitted on every row; `model.sha256` is the
        /// evaluated one's).
        pub const FINAL_MODEL_SHA256: &str = "final_model.sha256";
        /// The git commit of the working directory, when there is one.
        pub const GIT_COMMIT: &str = "git.commit";
        /// The run's id in the local store (set on server runs).
        pub const LOCAL_RUN_ID: &str = "churnkit.local_run_id";
        /// An evaluation's training run (its server id once delivered, else its local id).
        pub const TRAIN_RUN_ID: &str = "churnkit.train_run_id";
        /// An evaluation's training run in the local store.
        pub const TRAIN_LOCAL_RUN_ID: &str = "churnkit.train_local_run_id";
        /// The id of the run's MLflow 3 logged model (what a registered version points at).
        pub const MODEL_ID: &str = "churnkit.model_id";
        /// A registered version delivered by `sync`: its name and number in the local store.
        pub const LOCAL_VERSION: &str = "churnkit.local_version";
        /// MLflow's parent run (nests an evaluation under its training run in the UI).
        pub const MLFLOW_PARENT_RUN_ID: &str = "mlflow.parentRunId";
        /// MLflow's record of logged models (what 2.x UIs read).
        pub const MLFLOW_LOG_MODEL_HISTORY: &str = "mlflow.log-model.history";
        /// MLflow's user.
        pub const MLFLOW_USER: &str = "mlflow.user";
        /// MLflow 3's kind of an experiment (an experiment tag).
        pub const MLFLOW_EXPERIMENT_KIND: &str = "mlflow.experimentKind";
        /// MLflow's source name.
        pub const MLFLOW_SOURCE_NAME: &str = "mlflow.source.name";
        /// MLflow's source type.
        pub const MLFLOW_SOURCE_TYPE: &str = "mlflow.source.type";
        /// MLflow's run name tag.
        pub const MLFLOW_RUN_NAME: &str = "mlflow.runName";
    }
}

/// What a run records.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// A model was fitted.
    Train,
    /// A model was scored on labelled rows.
    Evaluate,
    /// Survival curves and a Cox model were fitted.
    Survival,
    /// A scoring batch was compared with the training data.
    Monitor,
    /// Logged by hand from a notebook cell.
    Notebook,
}

impl RunKind {
    /// `train`, `evaluate`, `survival`, `monitor` or `notebook`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Train => "train",
            RunKind::Evaluate => "evaluate",
            RunKind::Survival => "survival",
            RunKind::Monitor => "monitor",
            RunKind::Notebook => "notebook",
        }
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's lifecycle state, as MLflow names it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Queued.
    Scheduled,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped from outside.
    Killed,
}

impl RunStatus {
    /// `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parse MLflow's name; unknown names are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One point of a metric's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Step (e.g. number of trees).
    pub step: i64,
    /// Value (`None`: undefined).
    pub value: Option<f64>,
}

/// A file of a run, held in memory. `path` is relative to the run's artifact root and may have
/// folders (`model/MLmodel`). Only the path is part of a record's JSON: the local store keeps
/// the bytes as files, and a record read back from it has empty `bytes`.
#[derive(Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path under the run's artifacts.
    pub path: String,
    /// Content.
    pub bytes: Vec<u8>,
}

impl Artifact {
    /// An artifact at `path` with `bytes`.
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Artifact {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Artifact({}, {} bytes)", self.path, self.bytes.len())
    }
}

impl Serialize for Artifact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path)
    }
}

impl<'de> Deserialize<'de> for Artifact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Artifact::new(String::deserialize(d)?, Vec::new()))
    }
}

/// The folder of a run's artifacts that holds its model, as MLflow lays it out.
pub const MODEL_DIR: &str = "model";

/// How the run's model (its artifacts under [`MODEL_DIR`]) is described in MLflow's `MLmodel`
/// file: one flavor with string or number fields and, when MLflow's Python side can load the
/// model, a `python_function` flavor with its signature and input example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFlavor {
    /// Flavor name (`churnkit`).
    pub name: String,
    /// Its fields, e.g. `model_file: churn_model.json`.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The `python_function` flavor, if the model's files include a loader for it.
    #[serde(default)]
    pub python_function: Option<PythonFunction>,
}

/// MLflow's `python_function` flavor: `mlflow.pyfunc.load_model` puts `code` (a folder of the
/// model) on `sys.path`, imports `loader_module` and calls its `_load_pyfunc(model_dir)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonFunction {
    /// The loader module's name.
    pub loader_module: String,
    /// The folder of the model that holds it.
    pub code: String,
    /// The Python version the model was written for (MLflow warns on a mismatch).
    pub python_version: String,
    /// The model's input columns as MLflow's signature JSON (`[{"type", "name", "required"}]`).
    pub inputs: serde_json::Value,
    /// Its outputs, likewise.
    pub outputs: serde_json::Value,
    /// The inference params (`[{"name", "type", "default", "shape"}]`), e.g. the threshold.
    #[serde(default)]
    pub params: serde_json::Value,
    /// The input example's file in the model folder (split orient), if any.
    pub input_example: Option<String>,
}

impl ModelFlavor {
    /// The `MLmodel` YAML of this model, logged by run `run_id` at `created` (MLflow's UTC
    /// text), with the 3.x logged model's id when there is one.
    pub fn mlmodel_yaml(&self, run_id: &str, created: &str, model_id: Option<&str>) -> String {
        // YAML single-quoted scalars: a quote is written twice, nothing else is special.
        let quote = |t: &str| format!("'{}'", t.replace('\'', "''"));
        let mut s = format!("artifact_path: {MODEL_DIR}\nflavors:\n  {}:\n", self.name);
        for (k, v) in &self.fields {
            let text = v.as_str().map_or_else(|| v.to_string(), quote);
            s.push_str(&format!("    {k}: {text}\n"));
        }
        if let Some(p) = &self.python_function {
            s.push_str(&format!(
                "  python_function:\n    code: {}\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: {}\n    python_version: {}\n",
                quote(&p.code),
                quote(&p.loader_module),
                quote(&p.python_version)
            ));
        }
        if let Some(id) = model_id {
            s.push_str(&format!("model_id: {id}\n"));
        }
        s.push_str(&format!("run_id: {run_id}\n"));
        if let Some(p) = &self.python_function {
            if let Some(ex) = &p.input_example {
                s.push_str(&format!(
                    "saved_input_example_info:\n  artifact_path: {}\n  pandas_orient: split\n  type: dataframe\n",
                    quote(ex)
                ));
            }
            s.push_str(&format!(
                "signature:\n  inputs: {}\n  outputs: {}\n  params: {}\n",
                quote(&p.inputs.to_string()),
                quote(&p.outputs.to_string()),
                quote(&p.params.to_string())
            ));
        }
        s.push_str(&format!("utc_time_created: {}\n", quote(created)));
        s
    }
}

/// A dataset a run used, as MLflow records it (`runs/log-inputs`): the UI's Datasets column and
/// `run.inputs.dataset_inputs` in MLflow's Python client show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// Name (e.g. `telco-customer-churn-train`).
    pub name: String,
    /// Content digest: the same rows give the same digest.
    pub digest: String,
    /// Source kind (`local` for a file).
    pub source_type: String,
    /// Source as MLflow's JSON text (`{"uri": ...}`).
    pub source: String,
    /// Columns as MLflow's JSON text (`{"mlflow_colspec": [...]}`).
    pub schema: String,
    /// Profile as JSON text (`{"num_rows": ...}`).
    pub profile: String,
    /// What the run used it for: `training` or `evaluation` (the `mlflow.data.context` tag).
    pub context: String,
}

/// Everything one step logs: what the tracking layer stores locally and sends to MLflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// What the run records.
    pub kind: RunKind,
    /// Experiment name.
    pub experiment: String,
    /// Human-readable run name.
    pub run_name: String,
    /// Start, in ms since the Unix epoch.
    pub start_time_ms: u64,
    /// End, in ms since the Unix epoch.
    pub end_time_ms: u64,
    /// Hyperparameters and sizes.
    pub params: BTreeMap<String, String>,
    /// Final metric values (`None`: undefined, e.g. AUC with one class; logged as NaN).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Metrics with several steps (e.g. test AUC as trees are added).
    #[serde(default)]
    pub metric_history: BTreeMap<String, Vec<MetricPoint>>,
    /// Reproducibility tags and links to other runs.
    pub tags: BTreeMap<String, String>,
    /// Files of the run. Those under `model/` make up its logged model.
    pub artifacts: Vec<Artifact>,
    /// The flavor of the model under `model/`, if the run has one.
    #[serde(default)]
    pub model: Option<ModelFlavor>,
    /// The datasets it used.
    #[serde(default)]
    pub inputs: Vec<DatasetInput>,
}

impl RunRecord {
    /// An empty record of `kind` named `run_name` in `experiment`, started now.
    pub fn new(kind: RunKind, experiment: &str, run_name: &str) -> Self {
        let now = crate::now_ms();
        RunRecord {
            kind,
            experiment: experiment.to_string(),
            run_name: run_name.to_string(),
            start_time_ms: now,
            end_time_ms: now,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            metric_history: BTreeMap::new(),
            tags: BTreeMap::new(),
            artifacts: Vec::new(),
            model: None,
            inputs: Vec::new(),
        }
    }

    /// The artifacts that are not part of the model.
    pub fn plain_artifacts(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter().filter(|a| !is_model_file(&a.path))
    }

    /// The model's files, paths relative to `model/`.
    pub fn model_files(&self) -> impl Iterator<Item = (&str, &Artifact)> {
        self.artifacts.iter().filter_map(|a| {
            a.path
                .strip_prefix(MODEL_DIR)
                .and_then(|p| p.strip_prefix('/'))
                .map(|p| (p, a))
        })
    }

    /// Mark this evaluation as made with the model of training run `train` (local id
    /// `train_local_id`, server id once delivered): MLflow then nests it under that run.
    pub fn link_to_training(&mut self, train_local_id: &str, train_remote_id: Option<&str>) {
        use keys::tags;
        self.tags
            .insert(tags::TRAIN_LOCAL_RUN_ID.into(), train_local_id.into());
        self.tags.insert(
            tags::TRAIN_RUN_ID.into(),
            train_remote_id.unwrap_or(train_local_id).into(),
        );
        if let Some(r) = train_remote_id {
            self.tags
                .insert(tags::MLFLOW_PARENT_RUN_ID.into(), r.into());
        }
    }
}

fn is_model_file(path: &str) -> bool {
    path.strip_prefix(MODEL_DIR)
        .is_some_and(|p| p.starts_with('/'))
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The tags that make a run reproducible: churnkit's version, the seed, the data's SHA-256 and,
/// inside a git checkout, its commit.
pub fn reproducibility_tags(seed: u64, data_sha256: &str) -> BTreeMap<String, String> {
    use keys::tags;
    let mut t = BTreeMap::new();
    t.insert(tags::CHURNKIT_VERSION.into(), churnkit_core::VERSION.into());
    t.insert(tags::SEED.into(), seed.to_string());
    t.insert(tags::DATA_SHA256.into(), data_sha256.into());
    if let Some(c) = git_commit() {
        t.insert(tags::GIT_COMMIT.into(), c);
    }
    t
}

/// One run, wherever it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id (remote id for server runs, local id for local ones).
    pub run_id: String,
    /// Run name.
    pub run_name: String,
    /// Experiment name.
    pub experiment: String,
    /// Start, ms since the epoch.
    pub start_time_ms: i64,
    /// End, ms since the epoch.
    pub end_time_ms: Option<i64>,
    /// Lifecycle state.
    pub status: RunStatus,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Latest metric values (NaN: undefined).
    pub metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl RunRow {
    /// Duration in seconds, when the run has ended.
    pub fn duration_s(&self) -> Option<f64> {
        self.end_time_ms
            .map(|e| (e - self.start_time_ms).max(0) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_serialise_as_paths_and_model_files_are_found() {
        let mut r = RunRecord::new(RunKind::Train, "e", "r");
        r.artifacts = vec![
            Artifact::new("feature_importance.csv", "a,b\n"),
            Artifact::new("model/churn_model.json", "{}"),
            Artifact::new("modelling.txt", "x"),
        ];
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["artifacts"],
            serde_json::json!([
                "feature_importance.csv",
                "model/churn_model.json",
                "modelling.txt"
            ])
        );
        assert_eq!(json["kind"], "train");
        let back: RunRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back.artifacts[1].path, "model/churn_model.json");
        assert!(back.artifacts[1].bytes.is_empty());
        let model: Vec<&str> = r.model_files().map(|(p, _)| p).collect();
        assert_eq!(model, ["churn_model.json"]);
        assert_eq!(r.plain_artifacts().count(), 2);
        assert_eq!(RunStatus::parse("FINISHED"), Some(RunStatus::Finished));
        assert_eq!(RunStatus::parse("odd"), None);
    }

    #[test]
    fn linking_sets_the_parent_only_with_a_server_id() {
        let mut r = RunRecord::new(RunKind::Evaluate, "e", "r");
        r.link_to_training("local1", None);
        assert_eq!(r.tags[keys::tags::TRAIN_RUN_ID], "local1");
        assert!(!r.tags.contains_key(keys::tags::MLFLOW_PARENT_RUN_ID));
        r.link_to_training("local1", Some("abc"));
        assert_eq!(r.tags[keys::tags::TRAIN_RUN_ID], "abc");
        assert_eq!(r.tags[keys::tags::MLFLOW_PARENT_RUN_ID], "abc");
    }
}
