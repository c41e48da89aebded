//! The workflow's steps as library calls: preprocess, train, evaluate, predict. The CLI and the
//! notebooks are thin layers over these; each step writes its outputs atomically and returns a
//! report, plus a [`RunRecord`] for experiment tracking.

use crate::evaluate::{
    average_precision, classification_report, labels, precision_recall_curve, roc_curve,
    BinaryMetrics, BusinessMetrics, Confusion,
};
use crate::forest::{ForestError, RandomForestParams};
use crate::io::{sha256_bytes, IoError, StagedFiles};
use crate::model::{ModelError, ModelKind, SavedModel};
use crate::plots::{self, PlotError};
use crate::preprocess::{
    self, fit_transform, PreprocessError, Preprocessed, Preprocessor, ProcessedData, SplitOptions,
    UnknownCategory,
};
use crate::schema::{Schema, SchemaError};
use crate::table::{DataError, RawTable};
use linfa::ParamGuard;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The model file name inside the models directory.
pub const MODEL_FILE: &str = "churn_model.json";
/// The importance table inside the models directory.
pub const IMPORTANCE_FILE: &str = "feature_importance.csv";
/// The training run record inside the models directory.
pub const TRAIN_RUN_FILE: &str = "train_run.json";
/// The evaluation run record inside the metrics directory.
pub const EVALUATE_RUN_FILE: &str = "evaluate_run.json";

/// Any failure of a step. [`StepError::exit_code`] maps it to the CLI's exit status.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Preprocessing failed.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// Bad input data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Bad schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Model problems.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Bad hyperparameters or training data.
    #[error(transparent)]
    Forest(#[from] ForestError),
    /// Chart drawing failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// File I/O failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

impl StepError {
    /// 3: the input data or schema is bad; 4: a model or preprocessor file is missing or
    /// unusable, or a hyperparameter is invalid; 5: an I/O failure; 1: anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            StepError::Data(_) | StepError::Schema(_) => 3,
            StepError::Preprocess(PreprocessError::Data(_) | PreprocessError::Schema(_)) => 3,
            StepError::Preprocess(PreprocessError::State { .. }) => 4,
            StepError::Preprocess(PreprocessError::Io(_)) | StepError::Io(_) => 5,
            StepError::Model(ModelError::Io(_)) => 5,
            StepError::Model(_) | StepError::Forest(_) => 4,
            StepError::Plot(_) => 1,
        }
    }
}

pub use crate::tracking::RunRecord;
use crate::tracking::{now_ms, MetricPoint};

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux ABI churnkit runs on.
    Some(ticks / 100.0)
}

/// Peak resident memory of this process in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
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

fn base_tags(seed: u64, data_sha: &str) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    t.insert("churnkit.version".into(), env!("CARGO_PKG_VERSION").into());
    t.insert("seed".into(), seed.to_string());
    t.insert("data.sha256".into(), data_sha.into());
    if let Some(c) = git_commit() {
        t.insert("git.commit".into(), c);
    }
    t
}

/// Where the schema comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaSource {
    /// The guide's default schema.
    Default,
    /// A TOML file.
    File(PathBuf),
    /// Inferred from the data given the target (and optionally its positive class).
    Infer {
        /// Target column.
        target: String,
        /// Positive class, if it cannot be guessed.
        positive: Option<String>,
    },
}

impl SchemaSource {
    /// Resolve against a table.
    pub fn resolve(&self, table: &RawTable) -> Result<Schema, StepError> {
        Ok(match self {
            SchemaSource::Default => Schema::default(),
            SchemaSource::File(p) => Schema::from_toml_file(p)?,
            SchemaSource::Infer { target, positive } => {
                Schema::infer(table, target, positive.as_deref())?
            }
        })
    }
}

/// Options of the preprocessing step.
#[derive(Debug, Clone)]
pub struct PreprocessOptions {
    /// Raw CSV.
    pub data: PathBuf,
    /// Schema source.
    pub schema: SchemaSource,
    /// Split settings.
    pub split: SplitOptions,
    /// Output directory.
    pub out_dir: PathBuf,
}

/// Outcome of [`preprocess`].
#[derive(Debug, Clone)]
pub struct PreprocessReport {
    /// The result, in memory.
    pub data: Preprocessed,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Wall seconds.
    pub seconds: f64,
}

/// Read, validate, clean, split, fit and write `data/processed/`.
pub fn preprocess(opts: &PreprocessOptions) -> Result<PreprocessReport, StepError> {
    let t0 = Instant::now();
    let table = RawTable::read(&opts.data)?;
    let schema = opts.schema.resolve(&table)?;
    let data = fit_transform(&table, &schema, opts.split)?;
    let mut staged = StagedFiles::new();
    data.stage(&opts.out_dir, &mut staged)?;
    let files = staged.commit()?;
    Ok(PreprocessReport {
        data,
        files,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Options of the training step.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Processed-data directory.
    pub processed_dir: PathBuf,
    /// Models directory.
    pub models_dir: PathBuf,
    /// Which algorithm.
    pub kind: ModelKind,
    /// Hyperparameters.
    pub params: RandomForestParams,
    /// Experiment name for tracking.
    pub experiment: String,
    /// Show a progress bar on a terminal for long fits.
    pub progress: bool,
}

/// Outcome of [`train`].
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The model.
    pub model: SavedModel,
    /// Metrics on the training rows.
    pub train: BinaryMetrics,
    /// Metrics on the test rows.
    pub test: BinaryMetrics,
    /// Wall seconds of the fit.
    pub fit_seconds: f64,
    /// CPU seconds of the fit (all threads).
    pub fit_cpu_seconds: Option<f64>,
    /// Model file size in bytes.
    pub model_bytes: usize,
    /// A warning when train and test disagree enough to suggest overfitting.
    pub overfit_warning: Option<String>,
    /// The run record written beside the model.
    pub run: RunRecord,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Train on `data/processed/`, evaluate on train and test, write the model, the importance
/// table and the run record.
pub fn train(opts: &TrainOptions) -> Result<TrainReport, StepError> {
    let start = now_ms();
    let data = load_processed(&opts.processed_dir)?;
    let params = opts.params.clone().check()?;
    let names = data.state.feature_names();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let model = match opts.kind {
        ModelKind::RandomForest => {
            let x = data.x_train.to_array2();
            let work = data.x_train.n_rows() as u64 * params.n_estimators as u64;
            let bar =
                (opts.progress && std::io::stderr().is_terminal() && work > 2_000_000).then(|| {
                    let b = indicatif::ProgressBar::new(params.n_estimators as u64);
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "training {bar:40} {pos}/{len} trees  {elapsed}",
                        )
                        .expect("valid template"),
                    );
                    b
                });
            let tick = || {
                if let Some(b) = &bar {
                    b.inc(1);
                }
            };
            let forest = params.fit_observed(&x.view(), &data.y_train, &tick)?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            SavedModel::from_forest(forest, names.clone())
        }
        ModelKind::DecisionTree => {
            SavedModel::fit_decision_tree(&params, &data.x_train, &data.y_train)?
        }
    };
    let fit_seconds = t0.elapsed().as_secs_f64();
    let fit_cpu_seconds = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let p_train = model.predict_frame(&data.x_train)?;
    // One row-major copy of the test features serves the prediction and the AUC history.
    let x_test = data.x_test.to_array2();
    let p_test = model.predict_proba(&x_test.view());
    let history = auc_by_trees(&model, &x_test, &data.y_test);
    let train_m = BinaryMetrics::compute(&data.y_train, &p_train, 0.5);
    let test_m = BinaryMetrics::compute(&data.y_test, &p_test, 0.5);
    let gap = train_m.accuracy - test_m.accuracy;
    let overfit_warning = (gap > 0.05 || train_m.f1 - test_m.f1 > 0.10).then(|| {
        format!(
            "possible overfitting: train accuracy {:.3} vs test {:.3}, train F1 {:.3} vs test {:.3}; try a smaller --max-depth or a larger --min-samples-leaf",
            train_m.accuracy, test_m.accuracy, train_m.f1, test_m.f1
        )
    });
    let json = model.to_json();
    let mut importance_csv = String::from("feature,importance\n");
    let mut imp: Vec<(&String, f64)> = names
        .iter()
        .zip(model.feature_importances.iter().copied())
        .collect();
    imp.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    for (n, v) in &imp {
        importance_csv.push_str(&format!("{n},{v}\n"));
    }
    let model_path = opts.models_dir.join(MODEL_FILE);
    let imp_path = opts.models_dir.join(IMPORTANCE_FILE);
    let p = &model.params;
    let mut params_map = BTreeMap::new();
    for (k, v) in [
        ("model", opts.kind.to_string()),
        ("n_estimators", p.n_estimators.to_string()),
        (
            "max_depth",
            p.max_depth.map_or("None".into(), |d| d.to_string()),
        ),
        ("min_samples_split", p.min_samples_split.to_string()),
        ("min_samples_leaf", p.min_samples_leaf.to_string()),
        ("max_features", p.max_features.to_string()),
        ("bootstrap", p.bootstrap.to_string()),
        ("random_state", p.seed.to_string()),
        ("train_size", data.y_train.len().to_string()),
        ("test_size", data.y_test.len().to_string()),
        ("n_features", names.len().to_string()),
    ] {
        params_map.insert(k.to_string(), v);
    }
    let mut metrics = BTreeMap::new();
    for (prefix, m) in [("train", &train_m), ("test", &test_m)] {
        metrics.insert(format!("{prefix}_accuracy"), Some(m.accuracy));
        metrics.insert(format!("{prefix}_precision"), Some(m.precision));
        metrics.insert(format!("{prefix}_recall"), Some(m.recall));
        metrics.insert(format!("{prefix}_f1"), Some(m.f1));
    }
    metrics.insert("train_roc_auc".into(), train_m.roc_auc);
    metrics.insert("roc_auc".into(), test_m.roc_auc);
    metrics.insert("training_time".into(), Some(fit_seconds));
    metrics.insert("training_cpu_time".into(), fit_cpu_seconds);
    metrics.insert(
        "model_size_mb".into(),
        Some(json.len() as f64 / (1024.0 * 1024.0)),
    );
    let mut tags = base_tags(p.seed, &data.state.input.sha256);
    tags.insert("model.sha256".into(), sha256_bytes(&json));
    let run = RunRecord {
        kind: "train".into(),
        experiment: opts.experiment.clone(),
        run_name: format!(
            "train-{}-d{}-n{}",
            opts.kind,
            p.max_depth.map_or("none".into(), |d| d.to_string()),
            p.n_estimators
        ),
        start_time_ms: start,
        end_time_ms: now_ms(),
        params: params_map,
        metrics,
        tags,
        metric_history: BTreeMap::from([("test_roc_auc".to_string(), history)]),
        artifacts: vec![model_path.clone(), imp_path.clone()],
        model_files: vec![
            model_path.clone(),
            opts.processed_dir.join(preprocess::files::PREPROCESSOR),
        ],
    };
    let mut staged = StagedFiles::new();
    staged.write_bytes(&model_path, &json)?;
    staged.write_bytes(&imp_path, importance_csv.as_bytes())?;
    staged.write_bytes(
        opts.models_dir.join(TRAIN_RUN_FILE),
        &serde_json::to_vec_pretty(&run).expect("run record serializes"),
    )?;
    let files = staged.commit()?;
    Ok(TrainReport {
        model_bytes: json.len(),
        model,
        train: train_m,
        test: test_m,
        fit_seconds,
        fit_cpu_seconds,
        overfit_warning,
        run,
        files,
    })
}

/// Test ROC AUC as trees are added (about ten points), for the run's metric history. Trees are
/// scored in consecutive groups and the group sums accumulated, so this costs one prediction.
fn auc_by_trees(model: &SavedModel, records: &ndarray::Array2<f64>, y: &[u8]) -> Vec<MetricPoint> {
    let n = model.trees.len();
    let step = n.div_ceil(10).max(1);
    let mut sum = vec![0.0; y.len()];
    let mut out = Vec::new();
    let mut done = 0;
    while done < n {
        let end = (done + step).min(n);
        let part = crate::forest::predict_proba_trees(&model.trees[done..end], &records.view());
        for (s, p) in sum.iter_mut().zip(part) {
            *s += p * (end - done) as f64;
        }
        done = end;
        let mean: Vec<f64> = sum.iter().map(|s| s / done as f64).collect();
        out.push(MetricPoint {
            step: done as i64,
            value: crate::evaluate::roc_auc(y, &mean),
        });
    }
    out
}

fn load_processed(dir: &Path) -> Result<ProcessedData, StepError> {
    if !dir.join(preprocess::files::PREPROCESSOR).exists() {
        return Err(PreprocessError::State {
            file: dir
                .join(preprocess::files::PREPROCESSOR)
                .display()
                .to_string(),
            problem: "not found; run `churnkit preprocess` first".into(),
        }
        .into());
    }
    Ok(ProcessedData::load(dir)?)
}

fn load_model(models_dir: &Path, expected: &[String]) -> Result<SavedModel, StepError> {
    let path = models_dir.join(MODEL_FILE);
    if !path.exists() {
        return Err(ModelError::Invalid {
            file: path.display().to_string(),
            problem: "not found; run `churnkit train` first".into(),
        }
        .into());
    }
    Ok(SavedModel::load(&path, Some(expected))?)
}

/// Options of the evaluation step.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    /// Processed-data directory.
    pub processed_dir: PathBuf,
    /// Models directory.
    pub models_dir: PathBuf,
    /// Output directory for reports and charts.
    pub metrics_dir: PathBuf,
    /// Probability above which a customer is flagged.
    pub threshold: f64,
    /// Experiment name for tracking.
    pub experiment: String,
}

/// Outcome of [`evaluate`].
#[derive(Debug, Clone)]
pub struct EvaluateReport {
    /// Headline metrics on the test rows.
    pub metrics: BinaryMetrics,
    /// Average precision (`None` with no positive test row).
    pub average_precision: Option<f64>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// The guide's business figures.
    pub business: BusinessMetrics,
    /// scikit-learn-shaped classification report.
    pub classification_report: serde_json::Value,
    /// The run record.
    pub run: RunRecord,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Score the test rows with the saved model and write the five metric files.
pub fn evaluate(opts: &EvaluateOptions) -> Result<EvaluateReport, StepError> {
    let start = now_ms();
    let data = load_processed(&opts.processed_dir)?;
    let model = load_model(&opts.models_dir, &data.state.feature_names())?;
    let proba = model.predict_frame(&data.x_test)?;
    let y = &data.y_test;
    let pred = labels(&proba, opts.threshold);
    let metrics = BinaryMetrics::compute(y, &proba, opts.threshold);
    let confusion = Confusion::from_labels(y, &pred);
    let business = BusinessMetrics::from_confusion(&confusion);
    let report = classification_report(y, &pred);
    let ap = average_precision(y, &proba);
    let prevalence = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len().max(1) as f64;
    let t = &data.state.target;
    let names = if t.positive == "1" && t.negative == "0" {
        ["No churn (0)".to_string(), "Churn (1)".to_string()]
    } else {
        [format!("{} (0)", t.negative), format!("{} (1)", t.positive)]
    };
    let cm_png = plots::confusion_matrix_chart(&confusion, [&names[0], &names[1]])?;
    let roc_png = plots::roc_chart(roc_curve(y, &proba).as_ref(), metrics.roc_auc)?;
    let pr_png = plots::pr_chart(precision_recall_curve(y, &proba).as_ref(), ap, prevalence)?;
    let d = &opts.metrics_dir;
    let files_out = [
        (d.join("confusion_matrix.png"), cm_png.bytes),
        (d.join("roc_curve.png"), roc_png.bytes),
        (d.join("precision_recall_curve.png"), pr_png.bytes),
        (
            d.join("classification_report.json"),
            serde_json::to_vec_pretty(&report).expect("report serializes"),
        ),
        (
            d.join("business_metrics.json"),
            serde_json::to_vec_pretty(&business).expect("metrics serialize"),
        ),
    ];
    let mut metrics_map = BTreeMap::new();
    metrics_map.insert("roc_auc".into(), metrics.roc_auc);
    metrics_map.insert("average_precision".into(), ap);
    metrics_map.insert("test_accuracy".into(), Some(metrics.accuracy));
    metrics_map.insert("test_precision".into(), Some(metrics.precision));
    metrics_map.insert("test_recall".into(), Some(metrics.recall));
    metrics_map.insert("test_f1".into(), Some(metrics.f1));
    metrics_map.insert(
        "churn_detection_rate".into(),
        Some(business.churn_detection_rate),
    );
    metrics_map.insert("false_alarm_rate".into(), Some(business.false_alarm_rate));
    let mut params = BTreeMap::new();
    params.insert("threshold".to_string(), opts.threshold.to_string());
    params.insert("test_size".to_string(), y.len().to_string());
    params.insert("model".to_string(), model.kind.to_string());
    let mut tags = base_tags(model.params.seed, &data.state.input.sha256);
    // The file's bytes are the model's JSON: hash them rather than serialise the model again.
    tags.insert(
        "model.sha256".into(),
        crate::io::sha256_file(opts.models_dir.join(MODEL_FILE))?,
    );
    let run = RunRecord {
        kind: "evaluate".into(),
        experiment: opts.experiment.clone(),
        run_name: format!("evaluate-{}", model.kind),
        start_time_ms: start,
        end_time_ms: now_ms(),
        params,
        metrics: metrics_map,
        tags,
        metric_history: BTreeMap::new(),
        artifacts: files_out.iter().map(|(p, _)| p.clone()).collect(),
        model_files: vec![],
    };
    let mut staged = StagedFiles::new();
    for (p, bytes) in &files_out {
        staged.write_bytes(p, bytes)?;
    }
    staged.write_bytes(
        d.join(EVALUATE_RUN_FILE),
        &serde_json::to_vec_pretty(&run).expect("run record serializes"),
    )?;
    let files = staged.commit()?;
    Ok(EvaluateReport {
        metrics,
        average_precision: ap,
        confusion,
        business,
        classification_report: report,
        run,
        files,
    })
}

/// Options of the scoring step.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// New customers (same columns as the training file; the target may be absent).
    pub input: PathBuf,
    /// Scored output CSV.
    pub output: PathBuf,
    /// Processed-data directory holding `preprocessor.json`.
    pub processed_dir: PathBuf,
    /// Models directory.
    pub models_dir: PathBuf,
    /// Probability above which a customer is flagged.
    pub threshold: f64,
    /// Policy for unseen categories.
    pub unknown: UnknownCategory,
}

/// Outcome of [`predict`].
#[derive(Debug, Clone, PartialEq)]
pub struct PredictReport {
    /// Rows scored.
    pub rows: usize,
    /// Rows flagged as churners.
    pub flagged: usize,
    /// The output file.
    pub output: PathBuf,
}

/// Apply the saved preprocessing and model to new rows; write id(s), probability and label.
pub fn predict(opts: &PredictOptions) -> Result<PredictReport, StepError> {
    let pre_path = opts.processed_dir.join(preprocess::files::PREPROCESSOR);
    if !pre_path.exists() {
        return Err(PreprocessError::State {
            file: pre_path.display().to_string(),
            problem: "not found; run `churnkit preprocess` first".into(),
        }
        .into());
    }
    let pre = Preprocessor::load(&pre_path)?;
    let model = load_model(&opts.models_dir, &pre.feature_names())?;
    let table = RawTable::read(&opts.input)?;
    let x = pre.transform(&table, opts.unknown)?;
    let proba = model.predict_frame(&x)?;
    let ids: Vec<(&String, Vec<Option<&str>>)> = pre
        .schema
        .id_columns
        .iter()
        .filter(|c| table.has_column(c))
        .map(|c| table.column(c).map(|v| (c, v)))
        .collect::<Result<_, _>>()?;
    let mut flagged = 0;
    let mut staged = StagedFiles::new();
    staged.write(&opts.output, |w| {
        let mut header: Vec<String> = ids.iter().map(|(c, _)| (*c).clone()).collect();
        if header.is_empty() {
            header.push("row".into());
        }
        header.push("churn_probability".into());
        header.push("churn_prediction".into());
        writeln!(w, "{}", header.join(","))?;
        for (i, p) in proba.iter().enumerate() {
            if ids.is_empty() {
                write!(w, "{},", i + 1)?;
            }
            for (_, v) in &ids {
                write!(w, "{},", csv_escape(v[i].unwrap_or("")))?;
            }
            let label = u8::from(*p > opts.threshold);
            flagged += usize::from(label);
            writeln!(w, "{p},{label}")?;
        }
        Ok(())
    })?;
    staged.commit()?;
    Ok(PredictReport {
        rows: proba.len(),
        flagged,
        output: opts.output.clone(),
    })
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
