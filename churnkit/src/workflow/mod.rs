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

mod cross_validate;
mod evaluate;
mod grid;
mod monitor;
mod predict;
mod records;
mod stream;
mod survival;
mod train;

pub use cross_validate::{
    cross_validate, cross_validate_rows, log_loss, CrossValidation, Fold, FoldScores,
};
pub use evaluate::{evaluate, test_row_values, EvaluateOptions, Evaluated, Threshold};
pub use grid::{train_grid, Grid};
pub use monitor::{monitor, Monitored, Realised, ScoreDrift};
pub use predict::{
    predict, CustomerValue, PredictOptions, Reason, Scores, SCORE_COLUMNS, VALUE_COLUMNS,
};
pub use records::dataset_inputs;
pub use stream::{predict_file, Streamed, CHUNK_ROWS};
pub use survival::{survival, Survival, SurvivalSpec, MAX_GROUPS, REPORT_TIMES};
pub use train::{cpu_seconds, train, OutOfBag, TrainSpec, Trained};
