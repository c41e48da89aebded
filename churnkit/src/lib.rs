//! churnkit: churn modelling in Rust, on values in memory.
//!
//! A customer table (a polars DataFrame or a CSV) becomes a [`table::Table`]; a
//! [`schema::Schema`] says what its columns mean (inferred or given); [`preprocess::Processed`]
//! splits it (stratified) and fits the preprocessing on the training rows; [`workflow::train`]
//! fits churnkit's random forest, [`workflow::evaluate`] scores the test rows with charts;
//! each result turns into a [`tracking::RunRecord`] that a [`tracking::Tracker`] logs to
//! `mlruns/` and MLflow. Saving files is a separate step ([`layout`]).
//!
//! ```
//! use churnkit::prelude::*;
//! let (csv, _) = churnkit::generate::generate_rows(500, 7);   // or Table::read_csv(path)
//! let table = Table::from_csv_bytes(csv, "customers.csv")?;
//! let schema = Schema::infer(&table, "Churn", None)?;
//! let data = Processed::fit(&table, &schema, SplitOptions::default())?;
//! let params = RandomForestParams::new().n_estimators(50).check()?;
//! let trained = train(&data, params)?;                      // or TrainSpec::new(params).model(..)
//! let evaluated = trained.evaluate(&data, 0.5)?;
//! assert!(evaluated.evaluation.metrics.roc_auc.unwrap() > 0.7);
//! # Ok::<(), churnkit::Error>(())
//! ```
//!
//! The layers, each its own crate, depend one way: `churnkit-core` (tables, schema,
//! preprocessing, forest, model, evaluation, charts; no files layout, network, terminal or
//! processes) <- `churnkit-tracking` (run records, MLflow client, local run store) <- `churnkit`
//! (this facade: the workflow on values, the file layout, the notebook layer) <- `churnkit-cli`.
#![doc(html_root_url = "https://docs.rs/churnkit")]

pub use churnkit_core::{bail, ensure};
pub use churnkit_core::{
    calibration, chart, decisions, error, evaluate, explain, forest, format, frame, gains,
    generate, importance, io, model, monitor, plots, polars, preprocess, profit, rng, schema,
    significance, stats, survival, table, Error, ErrorKind, Result, Transience, VERSION,
};
pub use churnkit_tracking as tracking;

pub mod artifacts;
pub mod layout;
#[cfg(feature = "notebook")]
pub mod notebook;
pub mod workflow;

/// What a program using churnkit usually needs, in one `use`.
pub mod prelude {
    pub use crate::layout::Layout;
    pub use crate::tracking::{RunRecord, RunSource, Tracker};
    pub use crate::workflow::{
        evaluate, predict, train, train_grid, EvaluateOptions, Evaluated, Grid, PredictOptions,
        Scores, Threshold, TrainSpec, Trained,
    };
    pub use churnkit_core::evaluate::Evaluation;
    pub use churnkit_core::forest::{MaxFeatures, RandomForestParams};
    pub use churnkit_core::linfa::ParamGuard;
    pub use churnkit_core::model::{Model, ModelKind};
    pub use churnkit_core::preprocess::{
        Preprocessor, Processed, Split, SplitOptions, UnknownCategory,
    };
    pub use churnkit_core::schema::{InferOptions, Schema};
    pub use churnkit_core::table::Table;
    pub use churnkit_core::{Error, ErrorKind, Result};
}
