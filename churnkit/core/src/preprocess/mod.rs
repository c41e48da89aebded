//! Phase 2 of the workflow: validate, clean, split, then fit the transforms on the training rows.
//!
//! Order matters for honest numbers. Duplicates are dropped first, then the stratified split is
//! made, and only then are the scaler (and, when asked for, fill medians and clipping bounds)
//! fitted, on the training rows alone, so nothing about the test rows leaks into the features
//! the model sees. Missing values (blank cells, missing markers, impossible values) stay
//! missing, as NaN, for the forest to handle; a category `predict` has never seen is missing too. The fitted
//! state ([`Preprocessor`]) is a value that serialises to versioned JSON; `predict` applies
//! exactly the same transform to new rows.
//!
//! Each step is a value, and [`Processed::fit`] chains them:
//!
//! ```
//! use churnkit_core::{preprocess::{Preprocessor, Processed, Split, SplitOptions}, schema::Schema, table::Table};
//! let (csv, _) = churnkit_core::generate::generate_rows(200, 1);
//! let table = Table::from_csv_bytes(csv, "sample.csv")?;
//! let schema = Schema::infer(&table, "Churn", None)?;
//! let split = Split::stratified(&table, &schema, SplitOptions::default())?;   // dedup + split
//! let state = Preprocessor::fit(&table, &schema, &split)?;                    // training rows only
//! let data = Processed::from_split(&table, &split, state)?;                    // features, labels
//! assert_eq!(data.x_train.n_rows() + data.x_test.n_rows(), 200 - split.cleaning().duplicates_dropped);
//! assert_eq!(data, Processed::fit(&table, &schema, SplitOptions::default())?);
//! # Ok::<(), churnkit_core::Error>(())
//! ```

mod processed;
mod split;
mod transform;

pub use processed::Processed;
pub use split::{stratified_folds, CleaningReport, Split, SplitInfo, SplitOptions, TargetEncoding};
pub use transform::{
    Clip, FeatureTransform, InputInfo, NumericFill, Preprocessor, TransformReport, UnknownCategory,
    Unseen, FORMAT, FORMAT_VERSION,
};

#[cfg(test)]
mod tests;
