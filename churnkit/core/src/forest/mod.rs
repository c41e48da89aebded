//! churnkit's random forest: histogram-based, bootstrap by per-row counts, per-split feature
//! sampling, class-1 probabilities in the leaves, reproducible whatever the thread count.
//!
//! Features are binned once (at most 255 value bins, `u8` codes, code 255 for a missing value). Each tree draws a bootstrap as
//! per-row counts (no copy of the data), grows depth-first over an index array that is
//! partitioned in place, and at every node evaluates a fresh random subset of features from
//! per-node histograms. Split thresholds are midpoints between the neighbouring observed values,
//! as in scikit-learn, so a fitted tree predicts from raw values without the binning.
//! Importances are scikit-learn's: weighted Gini decrease per tree, normalised, averaged, and
//! normalised again.
//!
//! Missing values (NaN) are handled natively, as scikit-learn (1.4 and later) and LightGBM do:
//! every split also learns which child the rows with a missing value go to, and considers the
//! split "missing vs present" itself. A node that saw no missing value in training sends one to
//! the child that got more training rows.
//!
//! ```
//! use churnkit_core::forest::{RandomForestParams, RandomForest};
//! use linfa::prelude::*;
//! use ndarray::{array, Array1};
//!
//! let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]];
//! let y: Array1<usize> = array![0, 0, 0, 1, 1, 1];
//! let data = Dataset::new(x.clone(), y);
//! let forest: RandomForest = RandomForestParams::new().n_estimators(20).seed(7).fit(&data).unwrap();
//! let labels = forest.predict(&x);
//! assert_eq!(labels.to_vec(), vec![0, 0, 0, 1, 1, 1]);
//! assert!(forest.predict_proba(&x.view())[5] > 0.5);
//! ```

mod binning;
mod fit;
mod fitted;
mod grow;
mod oob;
mod params;
mod predict;
mod rows;
mod tree;

pub use binning::BinnedFeatures;
pub use fitted::RandomForest;
pub use oob::{oob_proba_trees, predict_rows_with_oob, scored_rows, TrainingScores};
pub use params::{MaxFeatures, RandomForestParams, RandomForestValidParams, MAX_VALUE_BINS};
pub use predict::{predict_proba_trees, predict_rows, predict_rows_by_trees};
pub use rows::{Columns, Rows};
pub use tree::Tree;

#[cfg(test)]
mod tests;
