//! The command line as clap sees it: every subcommand, flag, default and help text. Turning
//! these into library values is `args.rs`'s job.

use churnkit::forest::MaxFeatures;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  unexpected failure (e.g. a chart could not be drawn)
  2  bad command line (unknown flag, unparsable value)
  3  bad input data or schema (the message names file, column and line)
  4  missing or unusable model / preprocessor file, or invalid hyperparameters
  5  file system error (permissions, disk full)
  6  the MLflow server rejected a run (the run is kept in mlruns/)
  7  the MLflow server could not be reached by `sync` (runs stay in mlruns/; try again)
 10  `monitor` found drift (its report is written)";

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
pub(crate) struct Cli {
    /// Print only errors and warnings.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Do not record runs (neither in mlruns/ nor on a server).
    #[arg(long, global = true)]
    pub(crate) no_track: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a synthetic customer table with the guide's 8 columns (and its dirt).
    #[command(
        after_help = "Examples:\n  churnkit generate --rows 1000000 --seed 7 --output data/big.csv\n  \
churnkit generate --rows 10000 --shape messy --output data/messy.csv\n\n\
Churn depends on contract, tenure, monthly charges, payment method and age, with noise, and\n\
13% of customers churn or stay for reasons not in the table (accuracy ~0.85, F1 ~0.80,\n\
ROC AUC ~0.89 with the default forest at 100k rows). ~1% blank TotalCharges, a few impossible\n\
ages and ~1% duplicate rows are included on purpose. --shape messy writes the same customers\n\
as a real export would: a row counter, ids, surnames, missing markers (NA, ?, N/A, null),\n\
booleans, a constant column, and missing tenure for many new customers. The same seed gives\n\
the same bytes."
    )]
    Generate {
        /// Number of rows (at least 1).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        rows: u64,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Table shape: guide (8 columns) or messy (16, with every trap of a real export).
        #[arg(long, default_value = "guide")]
        shape: churnkit::generate::Shape,
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
        #[command(flatten)]
        infer: InferArgs,
    },
    /// Validate, clean, split and encode a raw CSV into data/processed/.
    #[command(
        after_help = "Examples:\n  churnkit preprocess                                   (data/sample_data.csv, guide schema)\n  \
churnkit preprocess --data telco.csv --target Churn   (schema inferred and printed)\n  \
churnkit preprocess --data telco.csv --schema telco.toml\n  \
churnkit preprocess --data bank.parquet --target Exited --keep CustomerId\n\n\
Inference keeps row counters, ids, free text and constant columns out of the features and\n\
says why for each. Blank cells and the markers NA, N/A, n/a, #N/A, NaN, nan, -nan, null,\n\
NULL, Null, None, <NA>, ? are missing; impossible values (an age outside 0-120, a negative\n\
tenure) are too. Missing values stay missing: the forest learns where they go at each split.\n\
Steps: drop exact duplicate rows; stratified split (seed); fit standard scaling on the\n\
training rows only; encode categoricals to sorted integer codes. Writes X_train.csv, X_test.csv,\n\
y_train.csv, y_test.csv and preprocessor.json (the fitted state predict reuses). Nothing is\n\
written on error."
    )]
    Preprocess(PreprocessArgs),
    /// Train a model on data/processed/ and write models/.
    #[command(
        after_help = "Examples:\n  churnkit train\n  churnkit train --n-estimators 200 --max-depth 15 --min-samples-split 5\n  \
for depth in 5 10 15 20; do churnkit train --max-depth $depth --experiment-name depth-tuning; done\n\n\
Writes models/churn_model.json (versioned JSON), models/feature_importance.csv and\n\
models/train_run.json (params, metrics, seed and data SHA-256 for tracking). With --final,\n\
churn_model.json is refitted on every row after the held-out evaluation, and the evaluated\n\
model is kept as holdout_model.json."
    )]
    Train(TrainArgs),
    /// Evaluate the saved model on the test split and write charts and reports to metrics/.
    #[command(after_help = "Examples:\n  churnkit evaluate --threshold 0.4\n  \
churnkit evaluate --threshold optimal --offer-cost 20 --retained-value 400 --success-rate 0.25\n\n\
Writes confusion_matrix.png, roc_curve.png, precision_recall_curve.png,\n\
classification_report.json (scikit-learn's layout), business_metrics.json, and what a retention\n\
team decides on: gains_table.csv (deciles: churners, capture, lift), cumulative_gains.png,\n\
lift_chart.png, calibration_curve.png (Brier score, calibration error), profit_curve.png and\n\
decisions.json. An offer costs --offer-cost; a churner who gets one stays with probability\n\
--success-rate and is worth --retained-value. --threshold optimal picks the threshold with the\n\
highest expected profit on the out-of-bag scores of the training rows (never on the test rows\n\
it is reported on).")]
    Evaluate(EvaluateArgs),
    /// Score new customers with the saved preprocessing and model.
    #[command(
        after_help = "Examples:\n  churnkit predict --input new_customers.csv --output scored.csv\n  \
churnkit predict --input new.parquet --output scored.csv --keep-columns --unknown-category error\n  \
churnkit predict --input new.csv --output scored.csv --explain 3\n  \
churnkit predict --input new.csv --output scored.csv --threshold optimal\n\n\
The input needs the training file's feature columns (the target may be absent). The output\n\
has the id column(s) (or a row_number when there is none), the other input columns with\n\
--keep-columns, then churn_probability and churn_prediction. Missing values and categories\n\
never seen in training are scored as missing and counted per column. --explain K adds each\n\
customer's K largest reasons: the feature, the customer's value and its exact TreeSHAP\n\
contribution to the score (the contributions and the base value add up to the score).\n\
--threshold optimal flags with the threshold `churnkit evaluate --threshold optimal` chose for\n\
this model (metrics/decisions.json, checked against the model's SHA-256)."
    )]
    Predict(PredictArgs),
    /// When customers leave and what they are worth: survival curves, log-rank, Cox, lifetime value.
    #[command(
        after_help = "Examples:\n  churnkit survival                                  (sample data, tenure and Churn)\n  \
churnkit survival --data telco.csv --event Churn --by Contract\n  \
churnkit survival --data telco.csv --event Churn --duration tenure --drop TotalCharges --penalizer 0.01\n\n\
Tenure and the churn flag are right-censored time-to-event data: a customer who has not left\n\
is censored at their tenure. Writes metrics/survival/: kaplan_meier.csv (every customer as\n\
group 'all', then one curve per --by value, with 95% log-log bands), logrank.json (with --by),\n\
cox.csv (Cox proportional hazards on the schema's features, Efron ties: coef, hazard ratio,\n\
se, z, p), summary.json (median lifetime per group, S(t) at 12..72, concordance, lifetime\n\
value), survival_curves.png, hazard_ratios.png; and models/survival_model.json, which\n\
`churnkit predict --survival-model` uses for lifetime_value, value_at_risk and expected_gain.\n\
Without --duration, a numeric column named like tenure/months/days that is never negative is\n\
used, and said. Lifetime value: expected months within --horizon from the customer's own\n\
survival curve (given their tenure) x --margin x the --charge column, discounted at\n\
--discount-rate a year (docs/survival.md has the formula and a worked example)."
    )]
    Survival(SurvivalArgs),
    /// Compare a scoring batch with the training data: feature and score drift, and the model's
    /// figures estimated before the labels arrive.
    #[command(after_help = "Examples:\n  churnkit monitor --current batch.csv\n  \
churnkit monitor --current batch.csv --labels Churn --threshold optimal\n  \
churnkit monitor --reference last_month.csv --current batch.csv\n\n\
Both sides are compared as the model sees them (after the fitted preprocessor): numbers by\n\
the two-sample Kolmogorov-Smirnov test, categories by chi-square, and both by the population\n\
stability index (PSI, reference deciles). A feature has drifted when its p-value is below\n\
--alpha divided by the number of features (Bonferroni) and its PSI reaches --psi. With the\n\
model (models/churn_model.json), the score distribution is compared too, and CBPE estimates\n\
accuracy, precision, recall, F1 and ROC AUC from the probabilities (trust it with calibrated\n\
probabilities: train --calibrate isotonic). --labels COL adds the realised figures. Writes\n\
metrics/monitor/drift.json and monitor.html and logs a monitoring run tagged with the model's\n\
SHA-256. Exits 10 when anything drifted, so a scheduler can act on it.")]
    Monitor(MonitorArgs),
    /// List tracked runs (local store, and the server if MLFLOW_TRACKING_URI is set).
    #[command(
        after_help = "Examples:\n  churnkit runs\n  churnkit runs --experiment depth-tuning --sort test_f1 --limit 5\n  \
churnkit runs --experiment depth-tuning --compare 3f2a9c1d0b7e 9e8d7c6b5a41\n\n\
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
    /// The model registry: register a training run's model, point aliases at versions, list.
    #[command(
        subcommand,
        after_help = "Examples:\n  churnkit models register --run 3f2a9c1d0b7e --name churn --alias challenger\n  \
churnkit models promote --name churn --version 3 --alias champion\n  \
churnkit models list\n  \
churnkit predict --model models:/churn@champion --input new.csv --output scored.csv\n\n\
With MLFLOW_TRACKING_URI this is the server's registry (a version points at the run's logged\n\
model, and Python loads it with mlflow.pyfunc.load_model('models:/churn@champion')). Without a\n\
server the local store keeps a registry of the same shape (mlruns/.registry/), which\n\
`churnkit sync` delivers with the runs."
    )]
    Models(ModelsCommand),
    /// preprocess -> train -> evaluate in one process, with a summary table.
    #[command(
        after_help = "Examples:\n  churnkit pipeline\n  churnkit pipeline --data telco.csv --target Churn\n  \
churnkit pipeline --data bank.csv --target Exited --final\n\n\
--seed sets both the split seed and the forest seed. --final refits the model on every row\n\
after the held-out evaluation (the reported metrics stay the held-out model's)."
    )]
    Pipeline(PipelineArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Experiment name (also --experiment-name, as train and evaluate spell it).
    #[arg(long, alias = "experiment-name", default_value = DEFAULT_EXPERIMENT)]
    pub(crate) experiment: String,
    /// Sort by this metric, best (highest) first; default newest first.
    #[arg(long)]
    pub(crate) sort: Option<String>,
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Compare these runs side by side (ids or the prefixes the listing shows, 2 or more):
    /// params with the differing ones marked, metrics with the difference from the first run
    /// and the best value marked.
    #[arg(long, value_name = "RUN", num_args = 2.., conflicts_with_all = ["sort", "limit"])]
    pub(crate) compare: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// Register the model of a training run as the next version of a registered model.
    Register {
        /// The training run (an id, or the prefix `churnkit runs` shows).
        #[arg(long)]
        run: String,
        /// Registered model name (created if new).
        #[arg(long, default_value = "churn")]
        name: String,
        /// Also point this alias at the new version (e.g. challenger).
        #[arg(long)]
        alias: Option<String>,
        /// Experiment to look the run prefix up in.
        #[arg(long, alias = "experiment-name", default_value = DEFAULT_EXPERIMENT)]
        experiment: String,
    },
    /// Point an alias (champion, challenger, ...) at a version, moving it if it pointed elsewhere.
    Promote {
        /// Registered model name.
        #[arg(long, default_value = "churn")]
        name: String,
        /// The version.
        #[arg(long)]
        version: u64,
        /// The alias.
        #[arg(long, default_value = "champion")]
        alias: String,
    },
    /// Remove an alias.
    Unalias {
        /// Registered model name.
        #[arg(long, default_value = "churn")]
        name: String,
        /// The alias.
        #[arg(long)]
        alias: String,
    },
    /// List registered models, their versions and aliases.
    List {
        /// Only this model.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Options of schema inference.
#[derive(Debug, Args)]
pub(crate) struct InferArgs {
    /// With --target: use COLUMN as a feature even if inference would exclude it (repeatable).
    #[arg(long, value_name = "COLUMN", requires = "target")]
    pub(crate) keep: Vec<String>,
    /// With --target: the cell texts that mean "missing", comma-separated, instead of the
    /// default NA,N/A,n/a,#N/A,NaN,nan,-nan,null,NULL,Null,None,<NA>,? (blank cells always are).
    #[arg(long, value_name = "LIST", requires = "target", value_delimiter = ',')]
    pub(crate) na_values: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Raw customer table: CSV, or Parquet (.parquet, .pq).
    #[arg(long, default_value = "data/sample_data.csv")]
    pub(crate) data: PathBuf,
    /// Schema TOML (see `churnkit schema`); default: the guide's schema.
    #[arg(long, conflicts_with = "target")]
    pub(crate) schema: Option<PathBuf>,
    /// Infer the schema from the data with this target column.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// With --target: the value meaning "churned", if not Yes/No, True/False or 1/0.
    #[arg(long, requires = "target")]
    pub(crate) positive: Option<String>,
    /// Fraction of each class held out for testing.
    #[arg(long, default_value_t = 0.2, value_parser = test_size)]
    pub(crate) test_size: f64,
    #[command(flatten)]
    pub(crate) infer: InferArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PreprocessArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Split seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Output directory.
    #[arg(long, default_value = "data/processed")]
    pub(crate) output_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ModelArg {
    RandomForest,
    DecisionTree,
}

#[derive(Debug, Args)]
pub(crate) struct HyperArgs {
    /// Algorithm: churnkit's random forest, or linfa's decision tree as a baseline.
    #[arg(long, value_enum, default_value = "random-forest")]
    pub(crate) model: ModelArg,
    /// Number of trees.
    #[arg(long, default_value_t = 100)]
    pub(crate) n_estimators: usize,
    /// Maximum tree depth, or "none".
    #[arg(long, default_value = "10")]
    pub(crate) max_depth: Depth,
    /// Minimum samples to split a node.
    #[arg(long, default_value_t = 2)]
    pub(crate) min_samples_split: usize,
    /// Minimum samples in a leaf.
    #[arg(long, default_value_t = 1)]
    pub(crate) min_samples_leaf: usize,
    /// Features per split: sqrt, log2, all, a count, or a fraction like 0.5.
    #[arg(long, default_value = "sqrt")]
    pub(crate) max_features: MaxFeatures,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

/// The experiment a run is tracked in, when none is named.
pub(crate) const DEFAULT_EXPERIMENT: &str = "churn-prediction";

/// Where train, evaluate and pipeline track their runs.
#[derive(Debug, Args)]
pub(crate) struct ExperimentArgs {
    /// Experiment name for tracking.
    #[arg(long, default_value = DEFAULT_EXPERIMENT)]
    pub(crate) experiment_name: String,
}

/// Where the workflow's files are: every command that reads or writes them takes these three.
#[derive(Debug, Args)]
pub(crate) struct LayoutArgs {
    /// Processed-data directory (the split and preprocessor.json).
    #[arg(long, default_value = "data/processed")]
    pub(crate) processed_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    pub(crate) models_dir: PathBuf,
    /// Metrics directory: charts, reports, and the decisions.json `--threshold optimal` reads.
    #[arg(long, default_value = "metrics")]
    pub(crate) metrics_dir: PathBuf,
}

/// What to train (train and pipeline): the algorithm and its hyperparameters, calibration, and
/// whether to refit a final model on every row.
#[derive(Debug, Args)]
pub(crate) struct TrainSpecArgs {
    #[command(flatten)]
    pub(crate) hyper: HyperArgs,
    /// After evaluating on the held-out rows, refit on every row: the model to deploy.
    #[arg(long = "final")]
    pub(crate) final_model: bool,
    /// Calibrate the probabilities on the out-of-bag scores (stored in the model).
    #[arg(long, value_enum)]
    pub(crate) calibrate: Option<CalibrationArg>,
}

/// A depth limit: an integer, or "none" for unlimited.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Depth(pub(crate) Option<usize>);

impl std::str::FromStr for Depth {
    type Err = churnkit::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Depth(None));
        }
        s.parse::<usize>().map(|d| Depth(Some(d))).map_err(|_| {
            churnkit::Error::params(format!("'{s}' is not a depth (an integer or \"none\")"))
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    pub(crate) spec: TrainSpecArgs,
    /// Forest seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) experiment: ExperimentArgs,
    #[command(flatten)]
    pub(crate) layout: LayoutArgs,
}

/// The economics of a retention offer (expected profit, `--threshold optimal`).
#[derive(Debug, Args)]
pub(crate) struct EconomicsArgs {
    /// Cost of one retention offer (discount, call time).
    #[arg(long, default_value_t = 50.0, value_parser = non_negative)]
    pub(crate) offer_cost: f64,
    /// What keeping a customer who would have churned is worth.
    #[arg(long, default_value_t = 500.0, value_parser = non_negative)]
    pub(crate) retained_value: f64,
    /// Share of churners offered who accept and stay.
    #[arg(long, default_value_t = 0.3, value_parser = fraction)]
    pub(crate) success_rate: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum CalibrationArg {
    /// Pool-adjacent-violators step map: flexible, for a few thousand rows and more.
    Isotonic,
    /// A logistic curve in the score (two parameters): for small tables.
    Platt,
}

#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// Probability above which a customer is flagged as a churner, or `optimal`: the
    /// profit-optimal threshold on the out-of-bag scores of the training rows.
    #[arg(long, default_value = "0.5")]
    pub(crate) threshold: churnkit::workflow::Threshold,
    #[command(flatten)]
    pub(crate) economics: EconomicsArgs,
    /// A survival model (models/survival_model.json): also compare value-aware targeting (offer
    /// where p x success rate x lifetime value > offer cost) with the threshold, on the same
    /// test rows, in value_targeting.json. Reads the raw file the processed data came from.
    #[arg(long, value_name = "FILE")]
    pub(crate) survival_model: Option<PathBuf>,
    /// With --survival-model: the raw file, if not where preprocessing read it.
    #[arg(long, value_name = "FILE", requires = "survival_model")]
    pub(crate) data: Option<PathBuf>,
    /// With --survival-model: the monthly charge column (proposed from the names when absent).
    #[arg(long, requires = "survival_model")]
    pub(crate) charge: Option<String>,
    #[command(flatten)]
    pub(crate) value: ValueArgs,
    #[command(flatten)]
    pub(crate) experiment: ExperimentArgs,
    #[command(flatten)]
    pub(crate) layout: LayoutArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum UnknownArg {
    /// Score it as a missing value (counted per column).
    Missing,
    /// Fail, naming the file, column, line and value.
    Error,
    /// Use the most frequent training category.
    MostFrequent,
}

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// New customers CSV.
    #[arg(long, short)]
    pub(crate) input: PathBuf,
    /// Scored CSV to write.
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// Probability above which a customer is flagged, or `optimal`: the threshold
    /// `churnkit evaluate --threshold optimal` chose for this model.
    #[arg(long, default_value = "0.5")]
    pub(crate) threshold: churnkit::workflow::Threshold,
    /// What to do with a category never seen in training.
    #[arg(long, value_enum, default_value = "missing")]
    pub(crate) unknown_category: UnknownArg,
    /// Carry every input column to the output, not only the id columns.
    #[arg(long)]
    pub(crate) keep_columns: bool,
    /// Add each customer's K largest reasons (feature, value, contribution; exact TreeSHAP).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub(crate) explain: usize,
    #[command(flatten)]
    pub(crate) layout: LayoutArgs,
    /// Score with a registered model instead of models/ and data/processed/:
    /// models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/latest (downloaded once into
    /// the cache, ~/.cache/churnkit/models or CHURNKIT_MODEL_CACHE).
    #[arg(long, value_name = "URI", conflicts_with_all = ["processed_dir", "models_dir"])]
    pub(crate) model: Option<churnkit::tracking::ModelRef>,
    /// A survival model (`churnkit survival` writes models/survival_model.json): adds
    /// lifetime_value, value_at_risk and expected_gain (the input needs its tenure and charge).
    #[arg(long, value_name = "FILE")]
    pub(crate) survival_model: Option<PathBuf>,
    /// With --survival-model: the monthly charge column (proposed from the names when absent).
    #[arg(long, requires = "survival_model")]
    pub(crate) charge: Option<String>,
    #[command(flatten)]
    pub(crate) value: ValueArgs,
    /// Cost of one retention offer (for expected_gain).
    #[arg(long, default_value_t = 50.0, value_parser = non_negative)]
    pub(crate) offer_cost: f64,
    /// Share of churners offered who accept and stay (for expected_gain).
    #[arg(long, default_value_t = 0.3, value_parser = fraction)]
    pub(crate) success_rate: f64,
    /// Rows scored at a time: memory holds one part of the input, whatever its size (the
    /// output is the same for any value).
    #[arg(long, value_name = "N", default_value_t = churnkit::workflow::CHUNK_ROWS, value_parser = at_least_one)]
    pub(crate) chunk_rows: usize,
}

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) spec: TrainSpecArgs,
    /// Seed of both the split and the forest.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Probability above which a customer is flagged, or `optimal` (profit-optimal on the
    /// out-of-bag scores of the training rows).
    #[arg(long, default_value = "0.5")]
    pub(crate) threshold: churnkit::workflow::Threshold,
    #[command(flatten)]
    pub(crate) economics: EconomicsArgs,
    #[command(flatten)]
    pub(crate) experiment: ExperimentArgs,
    #[command(flatten)]
    pub(crate) layout: LayoutArgs,
}

fn number(s: &str) -> churnkit::Result<f64> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| churnkit::Error::params(format!("'{s}' is not a number")))
}

/// A fraction strictly between 0 and 1.
fn test_size(s: &str) -> churnkit::Result<f64> {
    let v = number(s)?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(churnkit::Error::params(format!(
            "{v} must be between 0 and 1"
        )))
    }
}

/// A non-negative amount.
/// A count of at least 1.
fn at_least_one(s: &str) -> churnkit::Result<usize> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(churnkit::Error::params(format!(
            "'{s}' is not a whole number of at least 1"
        ))),
    }
}

fn non_negative(s: &str) -> churnkit::Result<f64> {
    let v = number(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(churnkit::Error::params(format!("{v} must not be negative")))
    }
}

/// A share in [0, 1].
fn fraction(s: &str) -> churnkit::Result<f64> {
    let v = number(s)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(churnkit::Error::params(format!("{v} must be in [0, 1]")))
    }
}

#[derive(Debug, Args)]
pub(crate) struct SurvivalArgs {
    /// Customer table: CSV, or Parquet (.parquet, .pq).
    #[arg(long, default_value = "data/sample_data.csv")]
    pub(crate) data: PathBuf,
    /// Schema TOML (see `churnkit schema`); default: inferred with --event as the target, or the
    /// guide's schema without it.
    #[arg(long)]
    pub(crate) schema: Option<PathBuf>,
    /// The event column: the churn flag (its "churned" value is the event).
    #[arg(long)]
    pub(crate) event: Option<String>,
    /// With --event: the value meaning "left", if not Yes/No, True/False or 1/0.
    #[arg(long, requires = "event")]
    pub(crate) event_value: Option<String>,
    /// The duration column (tenure); proposed from the column names when absent.
    #[arg(long)]
    pub(crate) duration: Option<String>,
    /// A categorical column: one curve per value and the log-rank test between them.
    #[arg(long)]
    pub(crate) by: Option<String>,
    /// Columns to leave out of the Cox model, comma-separated.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub(crate) drop: Vec<String>,
    /// L2 penalty on the standardised Cox coefficients (lifelines' penalizer).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) penalizer: f64,
    /// The monthly charge column for lifetime value (proposed from the names when absent).
    #[arg(long)]
    pub(crate) charge: Option<String>,
    #[command(flatten)]
    pub(crate) value: ValueArgs,
    #[command(flatten)]
    pub(crate) infer: SurvivalInferArgs,
    /// Metrics directory (the files go to its survival/ folder).
    #[arg(long, default_value = "metrics")]
    pub(crate) metrics_dir: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    pub(crate) models_dir: PathBuf,
    #[command(flatten)]
    pub(crate) experiment: ExperimentArgs,
}

/// Inference options of `survival` (the same as `preprocess`'s, keyed on --event).
#[derive(Debug, Args)]
pub(crate) struct SurvivalInferArgs {
    /// With --event: use COLUMN as a feature even if inference would exclude it (repeatable).
    #[arg(long, value_name = "COLUMN", requires = "event")]
    pub(crate) keep: Vec<String>,
    /// With --event: the cell texts that mean "missing", comma-separated.
    #[arg(long, value_name = "LIST", requires = "event", value_delimiter = ',')]
    pub(crate) na_values: Option<Vec<String>>,
}

/// Lifetime-value settings (`survival` and `predict --survival-model`).
#[derive(Debug, Args)]
pub(crate) struct ValueArgs {
    /// Months of lifetime value to count.
    #[arg(long, default_value_t = 36)]
    pub(crate) horizon: u32,
    /// Share of the monthly charge that is margin (a placeholder: set your own).
    #[arg(long, default_value_t = 0.30)]
    pub(crate) margin: f64,
    /// Yearly discount rate, applied monthly.
    #[arg(long, default_value_t = 0.10)]
    pub(crate) discount_rate: f64,
}

impl ValueArgs {
    pub(crate) fn params(&self) -> churnkit::survival::ValueParams {
        churnkit::survival::ValueParams {
            horizon_months: self.horizon,
            margin: self.margin,
            annual_discount_rate: self.discount_rate,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    /// The batch to check: raw rows as `predict` takes them (CSV or Parquet).
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// The reference: raw rows (CSV or Parquet); default the training rows of the processed data.
    #[arg(long)]
    pub(crate) reference: Option<PathBuf>,
    /// The current batch's label column, for the realised figures beside the estimates.
    #[arg(long)]
    pub(crate) labels: Option<String>,
    /// Decision threshold for the estimated and realised figures, or `optimal` (the one
    /// `evaluate --threshold optimal` chose for this model).
    #[arg(long, default_value = "0.5")]
    pub(crate) threshold: churnkit::workflow::Threshold,
    /// Family-wise significance level, split over the features (Bonferroni).
    #[arg(long, default_value_t = 0.05, value_parser = fraction)]
    pub(crate) alpha: f64,
    /// The PSI a significant feature must also reach to count as drifted.
    #[arg(long, default_value_t = 0.1, value_parser = non_negative)]
    pub(crate) psi: f64,
    #[command(flatten)]
    pub(crate) layout: LayoutArgs,
    #[command(flatten)]
    pub(crate) experiment: ExperimentArgs,
}
