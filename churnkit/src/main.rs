//! The `churnkit` command line. Each subcommand is a thin layer over `churnkit::pipeline`.

use churnkit::forest::{MaxFeatures, RandomForestParams};
use churnkit::model::ModelKind;
use churnkit::pipeline::{self, SchemaSource, StepError};
use churnkit::preprocess::{FeatureTransform, SplitOptions, UnknownCategory};
use churnkit::schema::Schema;
use churnkit::table::RawTable;
use churnkit::tracking::{
    self, Delivery, LocalStore, RunRecord, RunSource, Tracker, TrackingError,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  unexpected failure (e.g. a chart could not be drawn)
  2  bad command line (unknown flag, unparsable value)
  3  bad input data or schema (the message names file, column and line)
  4  missing or unusable model / preprocessor file, or invalid hyperparameters
  5  file system error (permissions, disk full)
  6  the MLflow server rejected a run (the run is kept in mlruns/)";

/// Churn modelling in Rust: preprocess a customer table, train a random forest, evaluate it
/// with charts, and score new customers.
///
/// The default layout follows the workflow guide: raw data in data/, processed data in
/// data/processed/, the model in models/, reports and charts in metrics/. All paths are relative
/// to the working directory and can be overridden.
#[derive(Debug, Parser)]
#[command(name = "churnkit", version, after_help = format!("Typical session:
  churnkit generate --rows 100 --output data/sample_data.csv
  churnkit preprocess
  churnkit train --n-estimators 200 --max-depth 15
  churnkit evaluate
  churnkit predict --input new_customers.csv --output scored.csv
or all three middle steps at once: churnkit pipeline

{EXIT_CODES}"))]
struct Cli {
    /// Print only errors and warnings.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Do not record runs (neither in mlruns/ nor on a server).
    #[arg(long, global = true)]
    no_track: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a synthetic customer table with the guide's 8 columns (and its dirt).
    #[command(
        after_help = "Example:\n  churnkit generate --rows 1000000 --seed 7 --output data/big.csv\n\n\
Churn depends on contract, tenure, monthly charges, payment method and age, with noise;\n\
~1% blank TotalCharges, a few impossible ages and ~1% duplicate rows are included on purpose.\n\
The same seed gives the same bytes."
    )]
    Generate {
        /// Number of rows.
        #[arg(long, default_value_t = 100)]
        rows: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output CSV.
        #[arg(long, short, default_value = "data/sample_data.csv")]
        output: PathBuf,
    },
    /// Print a schema as TOML: the default one, or one inferred from a CSV given its target.
    #[command(
        after_help = "Examples:\n  churnkit schema > schema.toml                       (the guide's schema)\n  \
churnkit schema --data telco.csv --target Churn > telco.toml\n\nEdit the file, then: churnkit preprocess --data telco.csv --schema telco.toml"
    )]
    Schema {
        /// CSV to infer from (requires --target).
        #[arg(long, requires = "target")]
        data: Option<PathBuf>,
        /// Target column.
        #[arg(long)]
        target: Option<String>,
        /// The target value meaning "churned", when it is not Yes/No, True/False or 1/0.
        #[arg(long)]
        positive: Option<String>,
    },
    /// Validate, clean, split and encode a raw CSV into data/processed/.
    #[command(
        after_help = "Examples:\n  churnkit preprocess                                   (data/sample_data.csv, guide schema)\n  \
churnkit preprocess --data telco.csv --target Churn   (schema inferred and printed)\n  \
churnkit preprocess --data telco.csv --schema telco.toml\n\n\
Steps: drop exact duplicate rows; stratified split (seed); then, on the training rows only,\n\
fit fill values (product rule, else median), Tukey-fence clipping and standard scaling;\n\
encode categoricals to sorted integer codes. Writes X_train.csv, X_test.csv, y_train.csv,\n\
y_test.csv and preprocessor.json (the fitted state predict reuses). Nothing is written on error."
    )]
    Preprocess(PreprocessArgs),
    /// Train a model on data/processed/ and write models/.
    #[command(
        after_help = "Examples:\n  churnkit train\n  churnkit train --n-estimators 200 --max-depth 15 --min-samples-split 5\n  \
for depth in 5 10 15 20; do churnkit train --max-depth $depth --experiment-name depth-tuning; done\n\n\
Writes models/churn_model.json (versioned JSON), models/feature_importance.csv and\n\
models/train_run.json (params, metrics, seed and data SHA-256 for tracking)."
    )]
    Train(TrainArgs),
    /// Evaluate the saved model on the test split and write charts and reports to metrics/.
    #[command(after_help = "Example:\n  churnkit evaluate --threshold 0.4\n\n\
Writes confusion_matrix.png, roc_curve.png, precision_recall_curve.png,\n\
classification_report.json (scikit-learn's layout) and business_metrics.json.")]
    Evaluate(EvaluateArgs),
    /// Score new customers with the saved preprocessing and model.
    #[command(
        after_help = "Example:\n  churnkit predict --input new_customers.csv --output scored.csv\n\n\
The input needs the training file's feature columns (the target may be absent). The output\n\
has the id column(s), churn_probability and churn_prediction."
    )]
    Predict(PredictArgs),
    /// List tracked runs (local store, and the server if MLFLOW_TRACKING_URI is set).
    #[command(
        after_help = "Examples:\n  churnkit runs\n  churnkit runs --experiment depth-tuning --sort test_f1 --limit 5\n\n\
Without MLFLOW_TRACKING_URI runs live in mlruns/ (or CHURNKIT_RUNS_DIR). The 'where' column\n\
says local (not on a server yet), synced, or server (on the server only)."
    )]
    Runs(RunsArgs),
    /// Deliver local runs that never reached the MLflow server (safe to repeat).
    #[command(
        after_help = "Example:\n  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 churnkit sync\n\n\
Runs recorded while the server was unreachable wait in mlruns/; each is delivered once,\n\
resuming a half-delivered remote run rather than creating a second one."
    )]
    Sync,
    /// preprocess -> train -> evaluate in one process, with a summary table.
    #[command(
        after_help = "Examples:\n  churnkit pipeline\n  churnkit pipeline --data telco.csv --target Churn\n\n\
--seed sets both the split seed and the forest seed."
    )]
    Pipeline(PipelineArgs),
}

#[derive(Debug, Args)]
struct RunsArgs {
    /// Experiment name.
    #[arg(long, default_value = "churn-prediction")]
    experiment: String,
    /// Sort by this metric, best (highest) first; default newest first.
    #[arg(long)]
    sort: Option<String>,
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, Args)]
struct DataArgs {
    /// Raw customer CSV.
    #[arg(long, default_value = "data/sample_data.csv")]
    data: PathBuf,
    /// Schema TOML (see `churnkit schema`); default: the guide's schema.
    #[arg(long, conflicts_with = "target")]
    schema: Option<PathBuf>,
    /// Infer the schema from the data with this target column.
    #[arg(long)]
    target: Option<String>,
    /// With --target: the value meaning "churned", if not Yes/No, True/False or 1/0.
    #[arg(long, requires = "target")]
    positive: Option<String>,
    /// Fraction of each class held out for testing.
    #[arg(long, default_value_t = 0.2)]
    test_size: f64,
}

impl DataArgs {
    fn schema_source(&self) -> SchemaSource {
        match (&self.schema, &self.target) {
            (Some(p), _) => SchemaSource::File(p.clone()),
            (None, Some(t)) => SchemaSource::Infer {
                target: t.clone(),
                positive: self.positive.clone(),
            },
            (None, None) => SchemaSource::Default,
        }
    }
}

#[derive(Debug, Args)]
struct PreprocessArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Split seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "data/processed")]
    output_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModelArg {
    RandomForest,
    DecisionTree,
}

#[derive(Debug, Args)]
struct HyperArgs {
    /// Algorithm: churnkit's random forest, or linfa's decision tree as a baseline.
    #[arg(long, value_enum, default_value = "random-forest")]
    model: ModelArg,
    /// Number of trees.
    #[arg(long, default_value_t = 100)]
    n_estimators: usize,
    /// Maximum tree depth, or "none".
    #[arg(long, default_value = "10")]
    max_depth: Depth,
    /// Minimum samples to split a node.
    #[arg(long, default_value_t = 2)]
    min_samples_split: usize,
    /// Minimum samples in a leaf.
    #[arg(long, default_value_t = 1)]
    min_samples_leaf: usize,
    /// Features per split: sqrt, log2, all, a count, or a fraction like 0.5.
    #[arg(long, default_value = "sqrt")]
    max_features: MaxFeatures,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Experiment name for tracking.
    #[arg(long, default_value = "churn-prediction")]
    experiment_name: String,
}

/// A depth limit: an integer, or "none" for unlimited.
#[derive(Debug, Clone, Copy)]
struct Depth(Option<usize>);

impl std::str::FromStr for Depth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Depth(None));
        }
        s.parse::<usize>()
            .map(|d| Depth(Some(d)))
            .map_err(|_| format!("'{s}' is not a depth (an integer or \"none\")"))
    }
}

impl HyperArgs {
    fn params(&self, seed: u64) -> RandomForestParams {
        RandomForestParams::new()
            .n_estimators(self.n_estimators)
            .max_depth(self.max_depth.0)
            .min_samples_split(self.min_samples_split)
            .min_samples_leaf(self.min_samples_leaf)
            .max_features(self.max_features)
            .seed(seed)
            .n_threads(self.threads)
    }
    fn kind(&self) -> ModelKind {
        match self.model {
            ModelArg::RandomForest => ModelKind::RandomForest,
            ModelArg::DecisionTree => ModelKind::DecisionTree,
        }
    }
}

#[derive(Debug, Args)]
struct TrainArgs {
    #[command(flatten)]
    hyper: HyperArgs,
    /// Forest seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Processed-data directory.
    #[arg(long, default_value = "data/processed")]
    processed_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
}

#[derive(Debug, Args)]
struct EvaluateArgs {
    /// Probability above which a customer is flagged as a churner.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Processed-data directory.
    #[arg(long, default_value = "data/processed")]
    processed_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
    /// Output directory for charts and reports.
    #[arg(long, default_value = "metrics")]
    metrics_dir: PathBuf,
    /// Experiment name for tracking.
    #[arg(long, default_value = "churn-prediction")]
    experiment_name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UnknownArg {
    Error,
    MostFrequent,
}

#[derive(Debug, Args)]
struct PredictArgs {
    /// New customers CSV.
    #[arg(long, short)]
    input: PathBuf,
    /// Scored CSV to write.
    #[arg(long, short)]
    output: PathBuf,
    /// Probability above which a customer is flagged.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// What to do with a category never seen in training.
    #[arg(long, value_enum, default_value = "error")]
    unknown_category: UnknownArg,
    /// Directory holding preprocessor.json.
    #[arg(long, default_value = "data/processed")]
    processed_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
}

#[derive(Debug, Args)]
struct PipelineArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    hyper: HyperArgs,
    /// Seed of both the split and the forest.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Probability above which a customer is flagged.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Processed-data directory.
    #[arg(long, default_value = "data/processed")]
    processed_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
    /// Metrics directory.
    #[arg(long, default_value = "metrics")]
    metrics_dir: PathBuf,
}

/// Failures of the CLI itself.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("tracking: {0}")]
    Tracking(#[from] TrackingError),
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Step(e) => e.exit_code() as u8,
            CliError::Usage(_) => 2,
            CliError::Tracking(_) => 6,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!(
                "churnkit: error: {} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the first line of the message, whatever a dependency put after it.
            let msg = e.to_string();
            eprintln!("churnkit: error: {}", msg.lines().next().unwrap_or(&msg));
            ExitCode::from(e.exit_code())
        }
    }
}

macro_rules! say {
    ($quiet:expr, $($t:tt)*) => { if !$quiet { println!($($t)*); } };
}

fn run(cli: Cli) -> Result<(), CliError> {
    let q = cli.quiet;
    match cli.command {
        Command::Generate { rows, seed, output } => {
            if rows == 0 {
                return Err(CliError::Usage("--rows must be at least 1".into()));
            }
            let t0 = std::time::Instant::now();
            let s =
                churnkit::generate::generate_file(&output, rows, seed).map_err(StepError::from)?;
            say!(
                q,
                "generate: wrote {} ({} rows, {:.1}% churn, {} duplicates, {} blank TotalCharges, {} age outliers) in {:.2} s",
                output.display(),
                s.rows,
                100.0 * s.churners as f64 / s.rows as f64,
                s.duplicates,
                s.blank_total_charges,
                s.age_outliers,
                t0.elapsed().as_secs_f64()
            );
        }
        Command::Schema {
            data,
            target,
            positive,
        } => {
            let schema = match (data, target) {
                (Some(d), Some(t)) => {
                    let table = RawTable::read(&d).map_err(StepError::from)?;
                    Schema::infer(&table, &t, positive.as_deref()).map_err(StepError::from)?
                }
                (None, Some(_)) => return Err(CliError::Usage("--target needs --data".into())),
                _ => Schema::default(),
            };
            print!("{}", schema.to_toml());
        }
        Command::Preprocess(a) => {
            check_test_size(a.data.test_size)?;
            let r = pipeline::preprocess(&pipeline::PreprocessOptions {
                data: a.data.data.clone(),
                schema: a.data.schema_source(),
                split: SplitOptions {
                    test_size: a.data.test_size,
                    seed: a.seed,
                },
                out_dir: a.output_dir.clone(),
            })?;
            print_preprocess(&r, &a.data, q);
        }
        Command::Train(a) => {
            let models_dir = a.models_dir.clone();
            let r = pipeline::train(&pipeline::TrainOptions {
                processed_dir: a.processed_dir,
                models_dir: a.models_dir,
                kind: a.hyper.kind(),
                params: a.hyper.params(a.seed),
                experiment: a.hyper.experiment_name.clone(),
                progress: !q,
            })?;
            print_train(&r, q);
            track_train(&r.run, &models_dir, cli.no_track, q)?;
        }
        Command::Evaluate(a) => {
            check_threshold(a.threshold)?;
            let models_dir = a.models_dir.clone();
            let r = pipeline::evaluate(&pipeline::EvaluateOptions {
                processed_dir: a.processed_dir,
                models_dir: a.models_dir,
                metrics_dir: a.metrics_dir,
                threshold: a.threshold,
                experiment: a.experiment_name,
            })?;
            print_evaluate(&r, q);
            track_evaluate(r.run.clone(), &models_dir, cli.no_track, q)?;
        }
        Command::Predict(a) => {
            check_threshold(a.threshold)?;
            let r = pipeline::predict(&pipeline::PredictOptions {
                input: a.input,
                output: a.output,
                processed_dir: a.processed_dir,
                models_dir: a.models_dir,
                threshold: a.threshold,
                unknown: match a.unknown_category {
                    UnknownArg::Error => UnknownCategory::Error,
                    UnknownArg::MostFrequent => UnknownCategory::MostFrequent,
                },
            })?;
            say!(
                q,
                "predict: scored {} rows, {} flagged as churners (threshold {}) -> {}",
                r.rows,
                r.flagged,
                a.threshold,
                r.output.display()
            );
        }
        Command::Runs(a) => list_runs(&a)?,
        Command::Sync => {
            let tracker = Tracker::from_env()?;
            let r = tracker.sync()?;
            for (local, remote) in &r.delivered {
                say!(q, "sync: delivered {local} as {remote}");
            }
            for (local, err) in &r.failed {
                eprintln!("churnkit: warning: {local} not delivered: {err}");
            }
            say!(
                q,
                "sync: {} delivered, {} already on the server, {} failed",
                r.delivered.len(),
                r.already_synced,
                r.failed.len()
            );
            if let Some((_, e)) = r.failed.first() {
                return Err(TrackingError::Local(format!(
                    "{} run(s) not delivered: {e}",
                    r.failed.len()
                ))
                .into());
            }
        }
        Command::Pipeline(a) => {
            check_test_size(a.data.test_size)?;
            check_threshold(a.threshold)?;
            let t0 = std::time::Instant::now();
            let pre = pipeline::preprocess(&pipeline::PreprocessOptions {
                data: a.data.data.clone(),
                schema: a.data.schema_source(),
                split: SplitOptions {
                    test_size: a.data.test_size,
                    seed: a.seed,
                },
                out_dir: a.processed_dir.clone(),
            })?;
            print_preprocess(&pre, &a.data, q);
            let t1 = std::time::Instant::now();
            let tr = pipeline::train(&pipeline::TrainOptions {
                processed_dir: a.processed_dir.clone(),
                models_dir: a.models_dir.clone(),
                kind: a.hyper.kind(),
                params: a.hyper.params(a.seed),
                experiment: a.hyper.experiment_name.clone(),
                progress: !q,
            })?;
            print_train(&tr, q);
            track_train(&tr.run, &a.models_dir, cli.no_track, q)?;
            let t2 = std::time::Instant::now();
            let ev = pipeline::evaluate(&pipeline::EvaluateOptions {
                processed_dir: a.processed_dir,
                models_dir: a.models_dir.clone(),
                metrics_dir: a.metrics_dir,
                threshold: a.threshold,
                experiment: a.hyper.experiment_name,
            })?;
            print_evaluate(&ev, q);
            track_evaluate(ev.run.clone(), &a.models_dir, cli.no_track, q)?;
            let t3 = std::time::Instant::now();
            say!(q, "\npipeline summary");
            say!(q, "  step        seconds");
            say!(q, "  preprocess  {:>7.3}", (t1 - t0).as_secs_f64());
            say!(q, "  train       {:>7.3}", (t2 - t1).as_secs_f64());
            say!(q, "  evaluate    {:>7.3}", (t3 - t2).as_secs_f64());
            say!(q, "  total       {:>7.3}", (t3 - t0).as_secs_f64());
            say!(
                q,
                "  test: accuracy {:.3}  precision {:.3}  recall {:.3}  F1 {:.3}  ROC AUC {}",
                ev.metrics.accuracy,
                ev.metrics.precision,
                ev.metrics.recall,
                ev.metrics.f1,
                fmt_opt(ev.metrics.roc_auc)
            );
        }
    }
    Ok(())
}

/// Where the training run went, so `evaluate` can link its run to it.
const TRAIN_LINK_FILE: &str = "train_tracking.json";

/// Log a run (server if configured, else or on failure the local store) and say where it went.
fn log_run(kind: &str, run: &RunRecord, q: bool) -> Result<tracking::Logged, CliError> {
    let logged = Tracker::from_env()?.log(run)?;
    match &logged.delivery {
        Delivery::Server { url, .. } => say!(q, "  tracked {kind} run on MLflow: {url}"),
        Delivery::Local { reason: None } => say!(
            q,
            "  tracked {kind} run locally: {} (set MLFLOW_TRACKING_URI to use a server)",
            LocalStore::from_env().run_dir(&logged.stored.run_id).display()
        ),
        Delivery::Local { reason: Some(r) } => eprintln!(
            "churnkit: warning: MLflow not reached ({r}); {kind} run kept in {}, deliver it later with `churnkit sync`",
            LocalStore::from_env().run_dir(&logged.stored.run_id).display()
        ),
    }
    Ok(logged)
}

fn track_train(
    run: &RunRecord,
    models_dir: &std::path::Path,
    off: bool,
    q: bool,
) -> Result<(), CliError> {
    if off {
        return Ok(());
    }
    let logged = log_run("training", run, q)?;
    let remote = match &logged.delivery {
        Delivery::Server { run_id, .. } => Some(run_id.clone()),
        Delivery::Local { .. } => None,
    };
    let link = serde_json::json!({"local_run_id": logged.stored.run_id, "remote_run_id": remote});
    churnkit::io::write_atomic(
        models_dir.join(TRAIN_LINK_FILE),
        link.to_string().as_bytes(),
    )
    .map_err(StepError::from)?;
    Ok(())
}

fn track_evaluate(
    mut run: RunRecord,
    models_dir: &std::path::Path,
    off: bool,
    q: bool,
) -> Result<(), CliError> {
    if off {
        return Ok(());
    }
    if let Ok(text) = std::fs::read_to_string(models_dir.join(TRAIN_LINK_FILE)) {
        if let Ok(link) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Some(local) = link["local_run_id"].as_str() {
                run.tags
                    .insert("churnkit.train_local_run_id".into(), local.into());
                run.tags
                    .insert("churnkit.train_run_id".into(), local.into());
            }
            if let Some(remote) = link["remote_run_id"].as_str() {
                run.tags
                    .insert("churnkit.train_run_id".into(), remote.into());
                run.tags.insert("mlflow.parentRunId".into(), remote.into());
            }
        }
    }
    log_run("evaluation", &run, q)?;
    Ok(())
}

fn list_runs(a: &RunsArgs) -> Result<(), CliError> {
    let order = a.sort.as_ref().map(|m| format!("metrics.{m} DESC"));
    let order: Vec<&str> = order.iter().map(String::as_str).collect();
    let local = RunSource::Local(LocalStore::from_env());
    let local_runs = LocalStore::from_env().list(Some(&a.experiment))?;
    let mut rows: Vec<(String, tracking::RunRow)> = Vec::new();
    let mut synced_remote = std::collections::BTreeSet::new();
    for r in local.runs(&a.experiment, "", &order)? {
        let stored = local_runs.iter().find(|s| s.run_id == r.run_id);
        let where_ = match stored.and_then(|s| s.remote.as_ref()) {
            Some(rem) if rem.synced => {
                synced_remote.insert(rem.run_id.clone());
                "synced"
            }
            _ => "local",
        };
        rows.push((where_.to_string(), r));
    }
    if let Some(client) = churnkit::tracking::MlflowClient::from_env()? {
        match RunSource::Server(client).runs(&a.experiment, "", &order) {
            Ok(remote) => rows.extend(
                remote
                    .into_iter()
                    .filter(|r| !synced_remote.contains(&r.run_id))
                    .map(|r| ("server".to_string(), r)),
            ),
            Err(e) if e.is_transient() => {
                eprintln!("churnkit: warning: server not reached ({e}); showing local runs only")
            }
            Err(e) => return Err(e.into()),
        }
    }
    match &a.sort {
        Some(m) => rows.sort_by(|x, y| {
            let v = |r: &tracking::RunRow| r.metrics.get(m).copied().filter(|v| !v.is_nan());
            match (v(&x.1), v(&y.1)) {
                (Some(p), Some(q)) => q.total_cmp(&p),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => std::cmp::Ordering::Equal,
            }
        }),
        None => rows.sort_by_key(|r| std::cmp::Reverse(r.1.start_time_ms)),
    }
    if rows.is_empty() {
        println!("no runs in experiment '{}'", a.experiment);
        return Ok(());
    }
    let metric_cols: Vec<String> = match &a.sort {
        Some(m) => vec![m.clone(), "roc_auc".into()],
        None => vec!["roc_auc".into(), "test_f1".into()],
    };
    let mut metric_cols = metric_cols;
    metric_cols.dedup();
    print!(
        "{:<8} {:<12} {:<28} {:<19} {:>6} {:>7}",
        "where", "run", "name", "start (UTC)", "depth", "trees"
    );
    for m in &metric_cols {
        print!(" {m:>12}");
    }
    println!();
    for (where_, r) in rows.iter().take(a.limit) {
        print!(
            "{:<8} {:<12} {:<28} {:<19} {:>6} {:>7}",
            where_,
            &r.run_id[..r.run_id.len().min(12)],
            r.run_name.chars().take(28).collect::<String>(),
            &churnkit::tracking::utc_string(r.start_time_ms.max(0) as u64)[..19],
            r.params.get("max_depth").map_or("-", String::as_str),
            r.params.get("n_estimators").map_or("-", String::as_str),
        );
        for m in &metric_cols {
            match r.metrics.get(m) {
                Some(v) if v.is_nan() => print!(" {:>12}", "NaN"),
                Some(v) => print!(" {v:>12.4}"),
                None => print!(" {:>12}", "-"),
            }
        }
        println!();
    }
    if rows.len() > a.limit {
        println!("({} more; --limit to show them)", rows.len() - a.limit);
    }
    Ok(())
}

fn check_test_size(t: f64) -> Result<(), CliError> {
    if t > 0.0 && t < 1.0 {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--test-size {t} must be between 0 and 1"
        )))
    }
}

fn check_threshold(t: f64) -> Result<(), CliError> {
    if (0.0..1.0).contains(&t) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--threshold {t} must be in [0, 1)"
        )))
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("undefined".into(), |v| format!("{v:.3}"))
}

fn print_preprocess(r: &pipeline::PreprocessReport, a: &DataArgs, q: bool) {
    let s = &r.data.state;
    let c = &s.cleaning;
    for col in &c.ignored_columns {
        eprintln!("churnkit: warning: ignoring column '{col}' (not in the schema)");
    }
    if q {
        return;
    }
    if a.target.is_some() {
        println!(
            "inferred schema (save with `churnkit schema --data {} --target {}` > schema.toml):",
            a.data.display(),
            s.schema.target
        );
        for line in s.schema.to_toml().lines().filter(|l| !l.starts_with('#')) {
            println!("  | {line}");
        }
    }
    println!(
        "preprocess: {} ({} rows, sha256 {})",
        a.data.display(),
        s.input.rows,
        &s.input.sha256[..12]
    );
    let missing: Vec<String> = c
        .missing
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "  missing values:     {}",
        if missing.is_empty() {
            "none".into()
        } else {
            missing.join(", ")
        }
    );
    println!("  duplicates dropped: {}", c.duplicates_dropped);
    let filled: Vec<String> = c
        .filled_from_product
        .iter()
        .zip(&c.filled_with_median)
        .filter(|((_, p), (_, m))| **p + **m > 0)
        .map(|((k, p), (_, m))| format!("{k} {p} from product, {m} with median"))
        .collect();
    println!(
        "  values filled:      {}",
        if filled.is_empty() {
            "none".into()
        } else {
            filled.join("; ")
        }
    );
    let clipped: Vec<String> = s
        .features
        .iter()
        .filter_map(|f| match f {
            FeatureTransform::Numeric {
                name,
                clip: Some(cl),
                ..
            } => {
                let n = c.clipped.get(name).copied().unwrap_or(0);
                (n > 0).then(|| format!("{name} {n} to [{:.2}, {:.2}]", cl.lower, cl.upper))
            }
            _ => None,
        })
        .collect();
    println!(
        "  values clipped:     {} (rule: Tukey fences, {} x IQR of training rows)",
        if clipped.is_empty() {
            "none".into()
        } else {
            clipped.join(", ")
        },
        s.schema.outlier_iqr_k
    );
    let pct = |p: usize, n: usize| 100.0 * p as f64 / n.max(1) as f64;
    let sp = &s.split;
    println!(
        "  split (stratified, seed {}): train {} ({:.1}% churn), test {} ({:.1}% churn)",
        sp.options.seed,
        sp.train_rows,
        pct(sp.train_positive, sp.train_rows),
        sp.test_rows,
        pct(sp.test_positive, sp.test_rows)
    );
    println!(
        "  features: {} ({} numeric, {} categorical)",
        s.features.len(),
        s.schema.numeric.len(),
        s.schema.categorical.len()
    );
    println!(
        "  wrote {} files to {} in {:.3} s",
        r.files.len(),
        r.files[0]
            .parent()
            .map_or(".".into(), |p| p.display().to_string()),
        r.seconds
    );
}

fn print_train(r: &pipeline::TrainReport, q: bool) {
    if let Some(w) = &r.overfit_warning {
        eprintln!("churnkit: warning: {w}");
    }
    if q {
        return;
    }
    let p = &r.model.params;
    println!(
        "train: {} with {} tree(s), max_depth {}, min_samples_split {}, min_samples_leaf {}, max_features {}, seed {}",
        r.model.kind,
        r.model.trees.len(),
        p.max_depth.map_or("none".into(), |d| d.to_string()),
        p.min_samples_split,
        p.min_samples_leaf,
        p.max_features,
        p.seed
    );
    println!(
        "  fit: {:.3} s wall, {} CPU; model {:.1} KiB",
        r.fit_seconds,
        r.fit_cpu_seconds
            .map_or("?".into(), |c| format!("{c:.2} s")),
        r.model_bytes as f64 / 1024.0
    );
    println!("           accuracy  precision  recall  f1     roc_auc");
    for (name, m) in [("train", &r.train), ("test", &r.test)] {
        println!(
            "  {name:<7}  {:.3}     {:.3}      {:.3}   {:.3}  {}",
            m.accuracy,
            m.precision,
            m.recall,
            m.f1,
            fmt_opt(m.roc_auc)
        );
    }
    let mut imp: Vec<(&String, f64)> = r
        .model
        .feature_names
        .iter()
        .zip(r.model.feature_importances.iter().copied())
        .collect();
    imp.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = imp
        .iter()
        .take(5)
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect();
    println!("  top features: {}", top.join(", "));
    println!(
        "  wrote {}",
        r.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn print_evaluate(r: &pipeline::EvaluateReport, q: bool) {
    if q {
        return;
    }
    let b = &r.business;
    let c = &r.confusion;
    println!(
        "evaluate: {} test customers; ROC AUC {}, average precision {}",
        b.total_customers,
        fmt_opt(r.metrics.roc_auc),
        fmt_opt(r.average_precision)
    );
    println!(
        "  confusion: TN {}  FP {}  FN {}  TP {}",
        c.tn, c.fp, c.fn_, c.tp
    );
    println!(
        "  churners: {} actual, {} predicted, {} caught, {} missed, {} false alarms",
        b.actual_churners,
        b.predicted_churners,
        b.correctly_identified,
        b.missed_churners,
        b.false_alarms
    );
    println!(
        "  detection rate {:.1}%, false alarm rate {:.1}%",
        100.0 * b.churn_detection_rate,
        100.0 * b.false_alarm_rate
    );
    println!(
        "  wrote {}",
        r.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}
