//! One fitted tree in flat arrays: how a row finds its leaf, and the structural checks a tree
//! read from a file must pass.

use crate::{bail, ensure};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One tree in flat arrays. Node 0 is the root; `feature < 0` marks a leaf. An internal node
/// sends `x[feature] <= threshold` to `left`, else to `right`, and a missing value (NaN) to
/// `left` if `missing_left`, else to `right`; children have larger indices.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tree {
    /// Split feature per node, -1 for leaves.
    pub feature: Vec<i32>,
    /// Split threshold per node (0 for leaves).
    pub threshold: Vec<f64>,
    /// Left child per node (0 for leaves).
    pub left: Vec<u32>,
    /// Right child per node (0 for leaves).
    pub right: Vec<u32>,
    /// Class-1 probability per node (meaningful at leaves; internal nodes keep their own).
    pub value: Vec<f64>,
    /// Per node: whether a missing value goes left (false at leaves).
    pub missing_left: Vec<bool>,
    /// Per node: the training weight that reached it (bootstrap counts summed), which
    /// TreeSHAP needs to weigh the paths not taken. Empty in model files before format 3.
    #[serde(default)]
    pub cover: Vec<u32>,
}

impl Tree {
    /// The leaf a row reaches, the row given as a feature accessor. (Batch prediction walks a
    /// packed copy of the tree instead: see [`predict_proba_trees`].)
    pub fn leaf(&self, x: impl Fn(usize) -> f64) -> usize {
        let mut n = 0usize;
        loop {
            let f = self.feature[n];
            if f < 0 {
                return n;
            }
            let v = x(f as usize);
            let right = if v.is_nan() {
                !self.missing_left[n]
            } else {
                v > self.threshold[n]
            };
            n = if right { self.right[n] } else { self.left[n] } as usize;
        }
    }

    /// Class-1 probability for one row, given as a feature accessor.
    pub fn predict_row(&self, x: impl Fn(usize) -> f64) -> f64 {
        self.value[self.leaf(x)]
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.feature.len()
    }

    /// Depth (a lone root leaf has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.n_nodes()];
        let mut max = 0;
        for n in 0..self.n_nodes() {
            if self.feature[n] >= 0 {
                for c in [self.left[n], self.right[n]] {
                    depth[c as usize] = depth[n] + 1;
                    max = max.max(depth[n] + 1);
                }
            }
        }
        max
    }

    /// Structural checks for a tree read from a file.
    pub fn validate(&self, n_features: usize) -> Result<()> {
        let n = self.feature.len();
        ensure!(n != 0, model, "a tree has no nodes");
        if [
            self.threshold.len(),
            self.left.len(),
            self.right.len(),
            self.value.len(),
            self.missing_left.len(),
        ]
        .iter()
        .any(|&l| l != n)
            || !(self.cover.is_empty() || self.cover.len() == n)
        {
            bail!(model, "a tree's node arrays have different lengths");
        }
        let mut parents = vec![0u8; n];
        for i in 0..n {
            let f = self.feature[i];
            if f >= 0 {
                if f as usize >= n_features {
                    bail!(
                        model,
                        "node {i} splits on feature {f}, but the model has {n_features} features"
                    );
                }
                ensure!(
                    self.threshold[i].is_finite(),
                    model,
                    "node {i} has a non-finite threshold"
                );
                for c in [self.left[i] as usize, self.right[i] as usize] {
                    if c <= i || c >= n {
                        bail!(model, "node {i} has an invalid child index {c}");
                    }
                    parents[c] += 1;
                }
            } else if f != -1 {
                bail!(model, "node {i} has feature {f} (leaves use -1)");
            } else if !(0.0..=1.0).contains(&self.value[i]) {
                bail!(
                    model,
                    "leaf {i} has probability {} outside [0, 1]",
                    self.value[i]
                );
            }
        }
        ensure!(
            !parents[1..].iter().any(|&p| p != 1),
            model,
            "a tree's nodes do not form a tree"
        );
        Ok(())
    }
}
