//! The names of the workflow's directories and files, in one leaf module: the workflow lists
//! its artifacts by these names, the [`crate::layout`] writes them, and neither needs the other
//! for it. (Re-exported from `layout`, where they were first defined.)

/// Processed data, relative to the project root.
pub const PROCESSED_DIR: &str = "data/processed";
/// Models, relative to the project root.
pub const MODELS_DIR: &str = "models";
/// Reports and charts, relative to the project root.
pub const METRICS_DIR: &str = "metrics";

/// Training features (in `data/processed/`).
pub const X_TRAIN: &str = "X_train.csv";
/// Test features.
pub const X_TEST: &str = "X_test.csv";
/// Training labels.
pub const Y_TRAIN: &str = "y_train.csv";
/// Test labels.
pub const Y_TEST: &str = "y_test.csv";
/// The fitted preprocessor.
pub const PREPROCESSOR: &str = "preprocessor.json";
/// The four split files as one binary columnar file ([`churnkit_core::columnar`]), read in
/// their place while they are unchanged.
pub const SPLIT_CACHE: &str = "split.bin";
/// The model (in `models/`).
pub const MODEL: &str = "churn_model.json";
/// With `--final`: the model fitted on the training rows, the one the metrics describe
/// (`churn_model.json` is then the final model, fitted on every kept row).
pub const HOLDOUT_MODEL: &str = "holdout_model.json";
/// The importance table.
pub const IMPORTANCE: &str = "feature_importance.csv";
/// The training run record.
pub const TRAIN_RUN: &str = "train_run.json";
/// Confusion-matrix chart (in `metrics/`).
pub const CONFUSION_MATRIX: &str = "confusion_matrix.png";
/// ROC chart.
pub const ROC_CURVE: &str = "roc_curve.png";
/// Precision-recall chart.
pub const PR_CURVE: &str = "precision_recall_curve.png";
/// scikit-learn-shaped classification report.
pub const CLASSIFICATION_REPORT: &str = "classification_report.json";
/// The guide's business figures.
pub const BUSINESS_METRICS: &str = "business_metrics.json";
/// Cumulative gains chart (metrics/).
pub const GAINS_CHART: &str = "cumulative_gains.png";
/// Lift per score decile (metrics/).
pub const LIFT_CHART: &str = "lift_chart.png";
/// Reliability curve (metrics/).
pub const CALIBRATION_CHART: &str = "calibration_curve.png";
/// Expected campaign profit over thresholds (metrics/).
pub const PROFIT_CHART: &str = "profit_curve.png";
/// Permutation importance: test ROC AUC drop per shuffled feature, mean and sd (metrics/).
pub const PERMUTATION_TABLE: &str = "permutation_importance.csv";
/// Its chart (metrics/).
pub const PERMUTATION_CHART: &str = "permutation_importance.png";
/// The decile table (metrics/).
pub const GAINS_TABLE: &str = "gains_table.csv";
/// Threshold choice, economics, profits, calibration figures and the gains table (metrics/).
pub const DECISIONS: &str = "decisions.json";
/// Value-aware targeting against the single threshold, with values (metrics/).
pub const VALUE_TARGETING: &str = "value_targeting.json";
/// The evaluation's run record.
pub const EVALUATE_RUN: &str = "evaluate_run.json";

/// Every file an evaluation may write into `metrics/`: saving one removes those of the set it
/// did not write this time, so no output of an earlier run sits beside the new ones.
pub const EVALUATION_FILES: [&str; 15] = [
    CONFUSION_MATRIX,
    ROC_CURVE,
    PR_CURVE,
    CLASSIFICATION_REPORT,
    BUSINESS_METRICS,
    GAINS_CHART,
    LIFT_CHART,
    CALIBRATION_CHART,
    PROFIT_CHART,
    GAINS_TABLE,
    DECISIONS,
    PERMUTATION_TABLE,
    PERMUTATION_CHART,
    VALUE_TARGETING,
    EVALUATE_RUN,
];

/// Every file training may write into `models/` (the held-out model only with a final model).
pub const TRAINING_FILES: [&str; 4] = [MODEL, HOLDOUT_MODEL, IMPORTANCE, TRAIN_RUN];

/// The survival step's directory under the metrics directory.
pub const SURVIVAL_DIR: &str = "survival";
/// The Kaplan-Meier curves, every customer then each group.
pub const SURVIVAL_KAPLAN_MEIER: &str = "kaplan_meier.csv";
/// The log-rank test between the groups.
pub const SURVIVAL_LOGRANK: &str = "logrank.json";
/// The Cox model's coefficients, hazard ratios, standard errors and p-values.
pub const SURVIVAL_COX: &str = "cox.csv";
/// Sizes, medians, S(t) at report times, the Cox fit and lifetime values.
pub const SURVIVAL_SUMMARY: &str = "summary.json";
/// The survival curves chart.
pub const SURVIVAL_CURVES_CHART: &str = "survival_curves.png";
/// The hazard ratios chart.
pub const SURVIVAL_HAZARD_CHART: &str = "hazard_ratios.png";
/// The survival step's run record.
pub const SURVIVAL_RUN: &str = "survival_run.json";
/// Every file the survival step may write under `metrics/survival/`.
pub const SURVIVAL_FILES: [&str; 7] = [
    SURVIVAL_KAPLAN_MEIER,
    SURVIVAL_LOGRANK,
    SURVIVAL_COX,
    SURVIVAL_SUMMARY,
    SURVIVAL_CURVES_CHART,
    SURVIVAL_HAZARD_CHART,
    SURVIVAL_RUN,
];
/// The Cox model with its design, in the models directory.
pub const SURVIVAL_MODEL: &str = "survival_model.json";

/// The monitoring step's directory under the metrics directory.
pub const MONITOR_DIR: &str = "monitor";
/// Drift per feature, score drift, estimated and realised figures.
pub const MONITOR_DRIFT: &str = "drift.json";
/// The same as one self-contained HTML page.
pub const MONITOR_REPORT: &str = "monitor.html";
/// The monitoring step's run record.
pub const MONITOR_RUN: &str = "monitor_run.json";
/// Every file the monitoring step writes under `metrics/monitor/`.
pub const MONITOR_FILES: [&str; 3] = [MONITOR_DRIFT, MONITOR_REPORT, MONITOR_RUN];
