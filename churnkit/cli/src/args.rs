//! From flags to library values: the schema source, checked hyperparameters, the file layout.

use crate::flags::{
    CalibrationArg, DataArgs, EconomicsArgs, HyperArgs, InferArgs, LayoutArgs, ModelArg,
    TrainSpecArgs, UnknownArg,
};
use churnkit::calibration::CalibrationMethod;
use churnkit::prelude::*;
use churnkit::profit::Economics;
use churnkit::schema::InferOptions;
use churnkit::workflow::{EvaluateOptions, Threshold, TrainSpec};
use std::path::Path;

impl InferArgs {
    /// Inference options with the target value meaning "churned".
    pub(crate) fn options(&self, positive: Option<&str>) -> InferOptions {
        let o = InferOptions::default()
            .positive_opt(positive)
            .keep(self.keep.clone());
        match &self.na_values {
            Some(v) => o.na_values(v.iter().map(|s| s.trim().to_string())),
            None => o,
        }
    }
}

impl DataArgs {
    /// The schema: from `--schema FILE`, inferred with `--target`, else the guide's.
    pub(crate) fn schema(&self, table: &Table) -> Result<Schema> {
        match (&self.schema, &self.target) {
            (Some(p), _) => Schema::from_toml_file(p),
            (None, Some(t)) => {
                Schema::infer_with(table, t, &self.infer.options(self.positive.as_deref()))
            }
            (None, None) => Ok(Schema::default()),
        }
    }

    /// The split settings with `seed`.
    pub(crate) fn split(&self, seed: u64) -> SplitOptions {
        SplitOptions::new(self.test_size, seed)
    }
}

impl HyperArgs {
    /// The forest's hyperparameters with `seed`, checked.
    pub(crate) fn params(&self, seed: u64) -> Result<churnkit::forest::RandomForestValidParams> {
        RandomForestParams::new()
            .n_estimators(self.n_estimators)
            .max_depth(self.max_depth.0)
            .min_samples_split(self.min_samples_split)
            .min_samples_leaf(self.min_samples_leaf)
            .max_features(self.max_features)
            .seed(seed)
            .n_threads(self.threads)
            .check()
    }

    /// The algorithm.
    pub(crate) fn kind(&self) -> ModelKind {
        match self.model {
            ModelArg::RandomForest => ModelKind::RandomForest,
            ModelArg::DecisionTree => ModelKind::DecisionTree,
        }
    }
}

impl TrainSpecArgs {
    /// What to train with `params` (checked from these flags), telling `on_tree` as each tree
    /// finishes.
    pub(crate) fn spec<'a>(
        &self,
        params: churnkit::forest::RandomForestValidParams,
        on_tree: &'a (dyn Fn() + Sync),
    ) -> TrainSpec<'a> {
        TrainSpec::new(params)
            .model(self.hyper.kind())
            .calibration_opt(self.calibrate.map(CalibrationArg::method))
            .on_tree(on_tree)
    }
}

impl LayoutArgs {
    /// The layout the three directory flags give.
    pub(crate) fn layout(&self) -> Layout {
        layout(&self.processed_dir, &self.models_dir, &self.metrics_dir)
    }
}

impl UnknownArg {
    pub(crate) fn policy(self) -> UnknownCategory {
        match self {
            UnknownArg::Missing => UnknownCategory::Missing,
            UnknownArg::Error => UnknownCategory::Error,
            UnknownArg::MostFrequent => UnknownCategory::MostFrequent,
        }
    }
}

impl CalibrationArg {
    pub(crate) fn method(self) -> CalibrationMethod {
        match self {
            CalibrationArg::Isotonic => CalibrationMethod::Isotonic,
            CalibrationArg::Platt => CalibrationMethod::Platt,
        }
    }
}

impl EconomicsArgs {
    pub(crate) fn economics(&self) -> Economics {
        Economics {
            offer_cost: self.offer_cost,
            retained_value: self.retained_value,
            success_rate: self.success_rate,
        }
    }

    /// Evaluation options with `threshold`.
    pub(crate) fn options(&self, threshold: Threshold) -> EvaluateOptions {
        EvaluateOptions::new()
            .threshold(threshold)
            .economics(self.economics())
    }
}

/// A layout from three directories (any may be unused by a command).
pub(crate) fn layout(processed: &Path, models: &Path, metrics: &Path) -> Layout {
    Layout {
        processed: processed.to_path_buf(),
        models: models.to_path_buf(),
        metrics: metrics.to_path_buf(),
    }
}
