//! Models: churnkit's forest and the linfa decision-tree baseline (converted to the same flat
//! trees), in memory, with one versioned JSON form that is validated when read back.
//!
//! ```
//! use churnkit_core::{forest::RandomForestParams, frame::Frame, model::{Model, ModelKind}};
//! use linfa::ParamGuard;
//! let x = Frame { names: vec!["tenure".into()], columns: vec![(0..40).map(f64::from).collect()] };
//! let y: Vec<u8> = (0..40).map(|i| u8::from(i < 20)).collect();
//! let params = RandomForestParams::new().n_estimators(10).check()?;
//! let model = Model::fit(ModelKind::RandomForest, &params, &x, &y, &|| {})?;
//! let back = Model::from_json(&model.to_json())?;
//! assert_eq!(back, model);
//! assert!(back.predict(&x)?[0] > 0.5);
//! # Ok::<(), churnkit_core::Error>(())
//! ```

use crate::data::frame::Frame;
use crate::decisions::calibration::{CalibrationMethod, Calibrator};
use crate::ensure;
use crate::error::{few, Error, Result};
use crate::forest::{
    predict_proba_trees, predict_rows, predict_rows_by_trees, predict_rows_with_oob, Columns,
    RandomForestValidParams, Rows, TrainingScores, Tree,
};
use linfa::prelude::*;
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

/// The `format` tag of a model file.
pub const FORMAT: &str = "churnkit-model";
/// The model file layout this build reads and writes.
/// Version 2 added `missing_left` to every tree (native missing values); version 3 added each
/// node's `cover` (for TreeSHAP) and an optional `calibration` map. Version 2 files still load.
pub const FORMAT_VERSION: u32 = 3;

/// Which algorithm produced the trees.
#[non_exhaustive]
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

/// Which rows a model was fitted on.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FittedOn {
    /// The training side of the split: its test metrics are honest.
    #[default]
    TrainingRows,
    /// Every kept row, after evaluating a model fitted on the training rows (`--final`): it
    /// has seen the test rows, so it cannot be evaluated on them.
    AllRows,
}

/// A fitted model (saved by the CLI as `models/churn_model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
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
    /// Which rows it was fitted on.
    pub fitted_on: FittedOn,
    /// How many.
    pub fitted_rows: usize,
    /// Normalised importances, one per feature.
    pub feature_importances: Vec<f64>,
    /// The trees; the score is the mean of their leaf probabilities.
    pub trees: Vec<Tree>,
    /// A calibration map from the score to the probability predict reports, fitted on
    /// out-of-bag scores of the training rows (see [`Model::calibrate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibrator>,
}

/// ROC AUC as trees are added: (trees, AUC; `None` when one class only).
pub type AucHistory = Vec<(usize, Option<f64>)>;

impl Model {
    /// Fit `kind` on features `x` and 0/1 labels `y`. `on_tree` is called as each tree of a
    /// forest finishes (from worker threads), e.g. to move a progress bar.
    pub fn fit(
        kind: ModelKind,
        params: &RandomForestValidParams,
        x: &Frame,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<Self> {
        Ok(Self::fit_rows(kind, params, x, y, on_tree, false)?.0)
    }

    /// [`Model::fit`], also scoring the rows it was fitted on as the trees grow (a forest's
    /// means and out-of-bag means, as [`Model::fitted_scores`] gives them, for less work; `None`
    /// for a decision tree).
    pub fn fit_scored(
        kind: ModelKind,
        params: &RandomForestValidParams,
        x: &Frame,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<(Self, Option<TrainingScores>)> {
        Self::fit_rows(kind, params, x, y, on_tree, true)
    }

    fn fit_rows(
        kind: ModelKind,
        params: &RandomForestValidParams,
        x: &Frame,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
        score: bool,
    ) -> Result<(Self, Option<TrainingScores>)> {
        let (params, importances, trees, scores) = match kind {
            ModelKind::RandomForest => {
                let (forest, scores) = params.fit_rows(&Columns(&x.columns), y, on_tree, score)?;
                (
                    forest.params,
                    forest.feature_importances,
                    forest.trees,
                    scores,
                )
            }
            ModelKind::DecisionTree => {
                let (tree, importances) = fit_decision_tree(params, x, y)?;
                (params.single_tree(), importances, vec![tree], None)
            }
        };
        let model = Model {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            churnkit_version: crate::VERSION.into(),
            kind,
            feature_names: x.names.clone(),
            params,
            fitted_on: FittedOn::TrainingRows,
            fitted_rows: y.len(),
            feature_importances: importances,
            trees,
            calibration: None,
        };
        Ok((model, scores))
    }

    /// Class-1 probability per row of a row-major matrix in the model's column order.
    pub fn predict_array(&self, x: &ArrayView2<f64>) -> Result<Vec<f64>> {
        let scores = self.score_array(x)?;
        Ok(match &self.calibration {
            Some(c) => c.apply_all(&scores),
            None => scores,
        })
    }

    /// The uncalibrated score (the mean leaf probability) per row of a row-major matrix.
    pub fn score_array(&self, x: &ArrayView2<f64>) -> Result<Vec<f64>> {
        ensure!(
            x.ncols() == self.feature_names.len(),
            model,
            "the model takes {} feature columns, the matrix has {}",
            self.feature_names.len(),
            x.ncols()
        );
        Ok(predict_proba_trees(&self.trees, x))
    }

    /// Out-of-bag scores (uncalibrated) of the rows the model was fitted on: `x` must be those
    /// rows in the same order (`Processed::x_train` for a model fitted by training). NaN for a
    /// row every tree drew. Errors for a model without bootstrap (a decision tree).
    pub fn oob_scores(&self, x: &Frame) -> Result<Vec<f64>> {
        self.check_features(&x.names)?;
        ensure!(
            self.kind == ModelKind::RandomForest,
            model,
            "a {} has no out-of-bag rows",
            self.kind
        );
        ensure!(
            x.n_rows() == self.fitted_rows,
            model,
            "out-of-bag scores need the {} rows the model was fitted on, got {}",
            self.fitted_rows,
            x.n_rows()
        );
        // The columns in place, no row-major copy.
        Ok(predict_rows_with_oob(&self.params, &self.trees, &Columns(&x.columns))?.1)
    }

    /// Fit a calibration map on the out-of-bag scores of the training rows `x`, `y` (the rows
    /// the model was fitted on), and keep it: from then on predict reports calibrated
    /// probabilities. Rows without an out-of-bag score are skipped.
    pub fn calibrate(&mut self, method: CalibrationMethod, x: &Frame, y: &[u8]) -> Result<()> {
        let oob = self.oob_scores(x)?;
        self.calibrate_on(method, &oob, y)
    }

    /// [`Model::calibrate`] from out-of-bag scores already computed ([`Model::oob_scores`]).
    pub fn calibrate_on(&mut self, method: CalibrationMethod, oob: &[f64], y: &[u8]) -> Result<()> {
        ensure!(
            oob.len() == y.len(),
            data,
            "calibration: {} out-of-bag scores for {} labels",
            oob.len(),
            y.len()
        );
        let (s, t) = crate::forest::scored_rows(oob, y);
        self.calibration = Some(Calibrator::fit(method, &s, &t)?);
        Ok(())
    }

    /// Class-1 probability per row of `x`, whose columns must be the model's features.
    pub fn predict(&self, x: &Frame) -> Result<Vec<f64>> {
        self.check_features(&x.names)?;
        self.predict_array(&x.to_array2().view())
    }

    /// Class-1 probability per row of a frame (its columns read in place, no row-major copy).
    pub fn predict_frame(&self, x: &Frame) -> Result<Vec<f64>> {
        self.check_features(&x.names)?;
        Ok(self.calibrated(predict_rows(&self.trees, &Columns(&x.columns))))
    }

    fn calibrated(&self, scores: Vec<f64>) -> Vec<f64> {
        match &self.calibration {
            Some(c) => c.apply_all(&scores),
            None => scores,
        }
    }

    /// The training rows' probabilities and out-of-bag scores (uncalibrated; `None` for a model
    /// without bootstrap) from one walk of the trees: what [`Model::predict`] and
    /// [`Model::oob_scores`] give, for half the work.
    pub fn fitted_scores(&self, x: &Frame) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
        self.check_features(&x.names)?;
        if self.kind != ModelKind::RandomForest || !self.params.bootstrap() {
            return Ok((self.predict_frame(x)?, None));
        }
        ensure!(
            x.n_rows() == self.fitted_rows,
            model,
            "out-of-bag scores need the {} rows the model was fitted on, got {}",
            self.fitted_rows,
            x.n_rows()
        );
        let (all, oob) = predict_rows_with_oob(&self.params, &self.trees, &Columns(&x.columns))?;
        Ok((self.calibrated(all), Some(oob)))
    }

    /// Probabilities per row of `x` and ROC AUC on `(x, y)` as trees are added (at about ten
    /// tree counts: (trees, AUC)), from one walk of the trees. The AUCs are of the uncalibrated
    /// means; the probabilities are calibrated if the model is.
    pub fn predict_with_auc_history(&self, x: &Frame, y: &[u8]) -> Result<(Vec<f64>, AucHistory)> {
        self.check_features(&x.names)?;
        let (last, history) = self.means_and_auc_history(&Columns(&x.columns), y);
        Ok((self.calibrated(last), history))
    }

    /// ROC AUC on `(x, y)` as trees are added, at about ten tree counts: (trees, AUC), from one
    /// walk of the trees.
    pub fn auc_by_trees(&self, x: &ArrayView2<f64>, y: &[u8]) -> AucHistory {
        debug_assert_eq!(x.ncols(), self.feature_names.len());
        self.means_and_auc_history(x, y).1
    }

    /// The uncalibrated mean over all trees per row, and the AUC history.
    fn means_and_auc_history<R: Rows + ?Sized>(&self, x: &R, y: &[u8]) -> (Vec<f64>, AucHistory) {
        let n = self.trees.len();
        let step = n.div_ceil(10).max(1);
        let counts: Vec<usize> = (1..=n.div_ceil(step)).map(|i| (i * step).min(n)).collect();
        let mut means = predict_rows_by_trees(&self.trees, x, &counts);
        let history = counts
            .iter()
            .zip(&means)
            .map(|(&c, m)| (c, crate::metrics::classification::roc_auc(y, m)))
            .collect();
        (means.pop().unwrap_or_default(), history)
    }

    /// An error unless `names` are the model's features, in order.
    pub fn check_features(&self, names: &[String]) -> Result<()> {
        if names == self.feature_names.as_slice() {
            return Ok(());
        }
        Err(Error::model(format!(
            "the model was trained on {} features [{}], but the data has {} features [{}]; retrain after preprocessing",
            self.feature_names.len(),
            few(&self.feature_names, 8),
            names.len(),
            few(names, 8)
        )))
    }

    /// (feature, importance) pairs, largest first (ties by name).
    pub fn importances(&self) -> Vec<(&str, f64)> {
        let mut imp: Vec<(&str, f64)> = self
            .feature_names
            .iter()
            .map(String::as_str)
            .zip(self.feature_importances.iter().copied())
            .collect();
        imp.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        imp
    }

    /// The importance table as CSV (`feature,importance`, largest first).
    pub fn importance_csv(&self) -> String {
        let mut csv = String::from("feature,importance\n");
        for (n, v) in self.importances() {
            csv.push_str(&format!("{n},{v}\n"));
        }
        csv
    }

    /// Compact JSON bytes (deterministic: the same model gives the same bytes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("model serializes")
    }

    /// Parse and validate model JSON. Errors are of kind [`Model`](crate::ErrorKind::Model).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let (v, _) = crate::data::format::parse_versioned(
            bytes,
            FORMAT,
            &[2, FORMAT_VERSION],
            "model",
            "retrain with `churnkit train`",
        )?;
        let m: Model =
            serde_json::from_value(v).map_err(|e| Error::model(format!("invalid model: {e}")))?;
        let nf = m.feature_names.len();
        ensure!(!m.trees.is_empty(), model, "the model has no trees");
        ensure!(
            m.feature_importances.len() == nf,
            model,
            "{} importances for {nf} features",
            m.feature_importances.len()
        );
        for (i, t) in m.trees.iter().enumerate() {
            t.validate(nf)
                .map_err(|e| e.prefixed(format_args!("tree {i}")))?;
        }
        if let Some(c) = &m.calibration {
            c.validate()?;
        }
        Ok(m)
    }
}

/// Fit linfa-trees' `DecisionTree` with the same depth and leaf limits and convert it to a flat
/// tree whose leaves hold the class-1 share of the training rows that reach them (linfa's tree
/// itself only votes). Returns the tree and normalised importances.
fn fit_decision_tree(
    params: &RandomForestValidParams,
    x: &Frame,
    y: &[u8],
) -> Result<(Tree, Vec<f64>)> {
    let records = x.to_array2();
    let targets: Array1<usize> = y.iter().map(|&v| usize::from(v)).collect();
    // linfa's tree has no notion of a missing value: it sees one as the smallest number, and
    // the flattened tree sends it left at every node, which is the same thing.
    let data = Dataset::new(
        records.mapv(|v| if v.is_nan() { f64::MIN } else { v }),
        targets,
    );
    let dt = linfa_trees::DecisionTree::<f64, usize>::params()
        .max_depth(params.max_depth())
        .min_weight_split(params.min_samples_split() as f32)
        .min_weight_leaf(params.min_samples_leaf() as f32)
        .fit(&data)?;
    let mut tree = Tree::default();
    flatten(dt.root_node(), &mut tree);
    // Leaf probabilities from the training rows.
    let mut pos = vec![0usize; tree.n_nodes()];
    let mut tot = vec![0usize; tree.n_nodes()];
    for (i, row) in records.rows().into_iter().enumerate() {
        // Walk the path, counting every node on it (the cover), then the leaf's outcome.
        let mut n = 0usize;
        loop {
            tree.cover[n] += 1;
            let f = tree.feature[n];
            if f < 0 {
                break;
            }
            let v = row[f as usize];
            n = if v.is_nan() || v <= tree.threshold[n] {
                tree.left[n]
            } else {
                tree.right[n]
            } as usize;
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
    Ok((tree, imp))
}

fn flatten(node: &linfa_trees::TreeNode<f64, usize>, tree: &mut Tree) -> usize {
    let id = tree.feature.len();
    tree.feature.push(-1);
    tree.threshold.push(0.0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(node.prediction().map_or(0.0, |c| c as f64));
    tree.missing_left.push(false);
    tree.cover.push(0);
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
        tree.missing_left[id] = true;
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
        let m = Model::fit(ModelKind::RandomForest, &p, &x, &y, &|| {}).unwrap();
        let bytes = m.to_json();
        let back = Model::from_json(&bytes).unwrap();
        assert!(
            back == m,
            "a loaded model must equal the saved one, floats included"
        );
        assert_eq!(back.to_json(), bytes);

        let wrong = vec!["a".to_string()];
        let e = back.check_features(&wrong).unwrap_err();
        assert!(e.to_string().contains("trained on 2 features"), "{e}");
        let truncated = &bytes[..bytes.len() / 2];
        let e = Model::from_json(truncated).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let text = String::from_utf8(bytes.clone()).unwrap();
        let v2 = text.replacen(
            &format!("\"format_version\":{FORMAT_VERSION}"),
            "\"format_version\":99",
            1,
        );
        let e = Model::from_json(v2.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("format_version 99"), "{e}");
        let other = text.replacen("churnkit-model", "something-else", 1);
        let e = Model::from_json(other.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("not a churnkit model"), "{e}");
        // Params in a file go through the same check as params built in code.
        let zero = text.replacen("\"n_estimators\":5", "\"n_estimators\":0", 1);
        let e = Model::from_json(zero.as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("n_estimators must be at least 1"),
            "{e}"
        );
        let bad_tree = text.replacen("\"feature\":[", "\"feature\":[7,", 1);
        assert!(Model::from_json(bad_tree.as_bytes()).is_err());
    }

    #[test]
    fn decision_tree_baseline_matches_linfa_and_has_probabilities() {
        let (x, y) = toy();
        let p = RandomForestParams::new().check().unwrap();
        let m = Model::fit(ModelKind::DecisionTree, &p, &x, &y, &|| {}).unwrap();
        assert_eq!(m.kind, ModelKind::DecisionTree);
        assert_eq!((m.params.n_estimators(), m.params.bootstrap()), (1, false));
        m.trees[0].validate(2).unwrap();
        let proba = m.predict(&x).unwrap();
        assert!(proba.iter().zip(&y).all(|(p, &y)| (*p > 0.5) == (y == 1)));
        assert!(m.importance_csv().starts_with("feature,importance\nx,"));
    }
}
