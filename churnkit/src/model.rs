//! Saved models: one versioned JSON format for churnkit's forest and for the linfa decision-tree
//! baseline (converted to the same flat trees), validated on load.

use crate::forest::{predict_proba_trees, RandomForest, RandomForestValidParams, Tree};
use crate::frame::Frame;
use crate::io::IoError;
use linfa::prelude::*;
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` tag of a model file.
pub const FORMAT: &str = "churnkit-model";
/// The model file layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Problems loading or fitting a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The file is not a usable churnkit model.
    #[error("{file}: {problem}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// Fitting failed.
    #[error(transparent)]
    Forest(#[from] crate::forest::ForestError),
    /// The linfa decision tree failed.
    #[error("decision tree: {0}")]
    Linfa(#[from] linfa::Error),
}

/// Which algorithm produced the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// churnkit's histogram random forest.
    #[default]
    RandomForest,
    /// linfa-trees' `DecisionTree` (the simple baseline).
    DecisionTree,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::RandomForest => "random-forest",
            ModelKind::DecisionTree => "decision-tree",
        })
    }
}

/// A model as saved in `models/churn_model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The churnkit version that wrote it.
    pub churnkit_version: String,
    /// The algorithm.
    pub kind: ModelKind,
    /// Input features in column order (the preprocessor's features).
    pub feature_names: Vec<String>,
    /// Hyperparameters, seed included.
    pub params: RandomForestValidParams,
    /// Normalised importances, one per feature.
    pub feature_importances: Vec<f64>,
    /// The trees; the prediction is the mean of their leaf probabilities.
    pub trees: Vec<Tree>,
}

impl SavedModel {
    /// Wrap a fitted forest.
    pub fn from_forest(forest: RandomForest, feature_names: Vec<String>) -> Self {
        SavedModel {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            churnkit_version: env!("CARGO_PKG_VERSION").into(),
            kind: ModelKind::RandomForest,
            feature_names,
            params: forest.params,
            feature_importances: forest.feature_importances,
            trees: forest.trees,
        }
    }

    /// Fit linfa-trees' `DecisionTree` with the same depth and leaf limits, and convert it to a
    /// flat tree whose leaves hold the class-1 share of the training rows that reach them
    /// (linfa's tree itself only votes).
    pub fn fit_decision_tree(
        params: &RandomForestValidParams,
        x: &Frame,
        y: &[u8],
    ) -> Result<Self, ModelError> {
        let records = x.to_array2();
        let targets: Array1<usize> = y.iter().map(|&v| usize::from(v)).collect();
        let data = Dataset::new(records.clone(), targets);
        let dt = linfa_trees::DecisionTree::<f64, usize>::params()
            .max_depth(params.max_depth)
            .min_weight_split(params.min_samples_split as f32)
            .min_weight_leaf(params.min_samples_leaf as f32)
            .fit(&data)?;
        let mut tree = Tree {
            feature: vec![],
            threshold: vec![],
            left: vec![],
            right: vec![],
            value: vec![],
        };
        flatten(dt.root_node(), &mut tree);
        // Leaf probabilities from the training rows.
        let mut pos = vec![0usize; tree.n_nodes()];
        let mut tot = vec![0usize; tree.n_nodes()];
        for (i, row) in records.rows().into_iter().enumerate() {
            let mut n = 0;
            while tree.feature[n] >= 0 {
                n = if row[tree.feature[n] as usize] <= tree.threshold[n] {
                    tree.left[n] as usize
                } else {
                    tree.right[n] as usize
                };
            }
            tot[n] += 1;
            pos[n] += usize::from(y[i]);
        }
        for n in 0..tree.n_nodes() {
            if tree.feature[n] < 0 && tot[n] > 0 {
                tree.value[n] = pos[n] as f64 / tot[n] as f64;
            }
        }
        let mut imp = dt.feature_importance();
        let s: f64 = imp.iter().sum();
        if s > 0.0 {
            imp.iter_mut().for_each(|v| *v /= s);
        }
        let mut p = params.clone();
        p.n_estimators = 1;
        p.bootstrap = false;
        Ok(SavedModel {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            churnkit_version: env!("CARGO_PKG_VERSION").into(),
            kind: ModelKind::DecisionTree,
            feature_names: x.names.clone(),
            params: p,
            feature_importances: imp,
            trees: vec![tree],
        })
    }

    /// Class-1 probability per row.
    pub fn predict_proba(&self, x: &ArrayView2<f64>) -> Vec<f64> {
        predict_proba_trees(&self.trees, x)
    }

    /// Class-1 probability per row of a [`Frame`], checking its columns.
    pub fn predict_frame(&self, x: &Frame) -> Result<Vec<f64>, ModelError> {
        if x.names != self.feature_names {
            return Err(ModelError::Invalid {
                file: "model".into(),
                problem: format!(
                    "the model expects features {:?}, the data has {:?}",
                    self.feature_names, x.names
                ),
            });
        }
        Ok(self.predict_proba(&x.to_array2().view()))
    }

    /// Compact JSON bytes (deterministic: the same model gives the same bytes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("model serializes")
    }

    /// Read and validate a model file. `expected_features`, when given, must match the model's.
    pub fn load(
        path: impl AsRef<Path>,
        expected_features: Option<&[String]>,
    ) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| IoError::new(path, e))?;
        Self::from_json(&bytes, expected_features).map_err(|problem| ModelError::Invalid {
            file: path.display().to_string(),
            problem,
        })
    }

    /// Parse and validate model JSON.
    pub fn from_json(bytes: &[u8], expected_features: Option<&[String]>) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("not valid JSON (corrupt or truncated file?): {e}"))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(format!(
                "not a churnkit model file (format is not '{FORMAT}')"
            ));
        }
        let version = v.get("format_version").and_then(|f| f.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(format!(
                "model format_version {} is not supported by this churnkit (reads {FORMAT_VERSION}); retrain with `churnkit train`",
                version.map_or("missing".into(), |v| v.to_string())
            ));
        }
        let m: SavedModel = serde_json::from_value(v).map_err(|e| format!("invalid model: {e}"))?;
        let nf = m.feature_names.len();
        if m.trees.is_empty() {
            return Err("the model has no trees".into());
        }
        if m.feature_importances.len() != nf {
            return Err(format!(
                "{} importances for {nf} features",
                m.feature_importances.len()
            ));
        }
        for (i, t) in m.trees.iter().enumerate() {
            t.validate(nf).map_err(|e| format!("tree {i}: {e}"))?;
        }
        if let Some(exp) = expected_features {
            if exp != m.feature_names.as_slice() {
                return Err(format!(
                    "the model was trained on {nf} features {:?}, but the data has {} features {:?}; retrain after preprocessing",
                    m.feature_names,
                    exp.len(),
                    exp
                ));
            }
        }
        Ok(m)
    }
}

fn flatten(node: &linfa_trees::TreeNode<f64, usize>, tree: &mut Tree) -> usize {
    let id = tree.feature.len();
    tree.feature.push(-1);
    tree.threshold.push(0.0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(node.prediction().map_or(0.0, |c| c as f64));
    let children = node.children();
    if let (false, Some(Some(l)), Some(Some(r))) = (
        node.is_leaf(),
        children.first().copied(),
        children.get(1).copied(),
    ) {
        let (f, split, _) = node.split();
        let li = flatten(l, tree);
        let ri = flatten(r, tree);
        tree.feature[id] = f as i32;
        // linfa sends x < split left; ours sends x <= threshold left.
        tree.threshold[id] = split.next_down();
        tree.left[id] = li as u32;
        tree.right[id] = ri as u32;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::RandomForestParams;
    use linfa::ParamGuard;

    fn toy() -> (Frame, Vec<u8>) {
        let xs: Vec<f64> = (0..200).map(|i| (i % 20) as f64).collect();
        let zs: Vec<f64> = (0..200).map(|i| ((i * 7) % 13) as f64).collect();
        let y = xs.iter().map(|&v| u8::from(v >= 10.0)).collect();
        (
            Frame {
                names: vec!["x".into(), "z".into()],
                columns: vec![xs, zs],
            },
            y,
        )
    }

    #[test]
    fn forest_round_trips_and_rejects_bad_files() {
        let (x, y) = toy();
        let p = RandomForestParams::new().n_estimators(5).check().unwrap();
        let f = p.fit_observed(&x.to_array2().view(), &y, &|| {}).unwrap();
        let m = SavedModel::from_forest(f, x.names.clone());
        let bytes = m.to_json();
        let back = SavedModel::from_json(&bytes, Some(&x.names)).unwrap();
        assert!(
            back == m,
            "a loaded model must equal the saved one, floats included"
        );
        assert_eq!(back.to_json(), bytes);

        let wrong = vec!["a".to_string()];
        assert!(SavedModel::from_json(&bytes, Some(&wrong))
            .unwrap_err()
            .contains("trained on 2 features"));
        let truncated = &bytes[..bytes.len() / 2];
        assert!(SavedModel::from_json(truncated, None)
            .unwrap_err()
            .contains("not valid JSON"));
        let text = String::from_utf8(bytes.clone()).unwrap();
        let v2 = text.replacen("\"format_version\":1", "\"format_version\":99", 1);
        assert!(SavedModel::from_json(v2.as_bytes(), None)
            .unwrap_err()
            .contains("format_version 99"));
        let other = text.replacen("churnkit-model", "something-else", 1);
        assert!(SavedModel::from_json(other.as_bytes(), None)
            .unwrap_err()
            .contains("not a churnkit model"));
    }

    #[test]
    fn decision_tree_baseline_matches_linfa_and_has_probabilities() {
        let (x, y) = toy();
        let p = RandomForestParams::new().check().unwrap();
        let m = SavedModel::fit_decision_tree(&p, &x, &y).unwrap();
        assert_eq!(m.kind, ModelKind::DecisionTree);
        m.trees[0].validate(2).unwrap();
        let proba = m.predict_frame(&x).unwrap();
        assert!(proba.iter().zip(&y).all(|(p, &y)| (*p > 0.5) == (y == 1)));
    }
}
