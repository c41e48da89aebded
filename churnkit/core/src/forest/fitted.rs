//! A fitted forest as a value: its trees, importances and params, with linfa's `Predict`.

use linfa::prelude::*;
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
use serde::{Deserialize, Serialize};

use super::oob::oob_proba_trees;
use super::params::RandomForestValidParams;
use super::predict::predict_proba_trees;
use super::tree::Tree;
use crate::error::Result;

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    /// Number of input features.
    pub n_features: usize,
    /// The hyperparameters it was fitted with.
    pub params: RandomForestValidParams,
    /// Normalised Gini importances (sum 1, or all 0 if no tree split).
    pub feature_importances: Vec<f64>,
    /// The trees.
    pub trees: Vec<Tree>,
}

impl RandomForest {
    /// Mean class-1 probability over trees, per row.
    pub fn predict_proba(&self, x: &ArrayView2<f64>) -> Vec<f64> {
        predict_proba_trees(&self.trees, x)
    }

    /// Out-of-bag class-1 probabilities of the rows the forest was fitted on (`x` must be that
    /// very matrix, same rows in the same order): each row's mean over the trees whose
    /// bootstrap left it out, NaN for a row that every tree drew. These are honest scores for
    /// the training rows, as scikit-learn's `oob_decision_function_`, for choosing a threshold
    /// or fitting a calibration without touching the test rows. Errors when the forest was
    /// fitted without bootstrap (no row is out of bag) or `x` has the wrong shape.
    pub fn oob_proba(&self, x: &ArrayView2<f64>) -> Result<Vec<f64>> {
        oob_proba_trees(&self.params, &self.trees, self.n_features, x)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for RandomForest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        let p = self.predict_proba(&x.view());
        for (t, p) in y.iter_mut().zip(p) {
            *t = usize::from(p > 0.5);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
