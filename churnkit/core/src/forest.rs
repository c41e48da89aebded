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

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::prelude::*;
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::rng::Rng;

fn bad_params(message: impl std::fmt::Display) -> Error {
    Error::params(format!("invalid hyperparameter: {message}"))
}

fn bad_data(message: impl std::fmt::Display) -> Error {
    Error::data(format!("invalid training data: {message}"))
}

/// How many features each split considers.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// `floor(sqrt(n_features))`, scikit-learn's default for classifiers.
    Sqrt,
    /// `floor(log2(n_features))`.
    Log2,
    /// All features (bagged trees).
    All,
    /// A fixed number.
    Count(usize),
    /// A fraction of the features (at least one).
    Fraction(f64),
}

impl MaxFeatures {
    /// Resolve against a feature count.
    pub fn resolve(self, n_features: usize) -> usize {
        let k = match self {
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (n_features as f64).log2().floor() as usize,
            MaxFeatures::All => n_features,
            MaxFeatures::Count(c) => c,
            MaxFeatures::Fraction(f) => (f * n_features as f64).floor() as usize,
        };
        k.clamp(1, n_features.max(1))
    }
}

impl std::str::FromStr for MaxFeatures {
    type Err = Error;
    /// `sqrt`, `log2`, `all`, an integer, or a fraction in (0, 1].
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sqrt" => Ok(MaxFeatures::Sqrt),
            "log2" => Ok(MaxFeatures::Log2),
            "all" | "none" => Ok(MaxFeatures::All),
            _ if s.contains('.') => s
                .parse::<f64>()
                .ok()
                .filter(|f| *f > 0.0 && *f <= 1.0)
                .map(MaxFeatures::Fraction)
                .ok_or_else(|| Error::params(format!("'{s}' is not a fraction in (0, 1]"))),
            _ => s
                .parse::<usize>()
                .ok()
                .filter(|c| *c > 0)
                .map(MaxFeatures::Count)
                .ok_or_else(|| {
                    Error::params(format!(
                        "'{s}': expected sqrt, log2, all, a count or a fraction"
                    ))
                }),
        }
    }
}

impl std::fmt::Display for MaxFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxFeatures::Sqrt => f.write_str("sqrt"),
            MaxFeatures::Log2 => f.write_str("log2"),
            MaxFeatures::All => f.write_str("all"),
            MaxFeatures::Count(c) => write!(f, "{c}"),
            MaxFeatures::Fraction(x) => write!(f, "{x}"),
        }
    }
}

/// Checked hyperparameters (see [`RandomForestParams`]): only [`ParamGuard::check`] makes them,
/// and deserialising (e.g. from a model file) runs the same check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ParamsRepr")]
pub struct RandomForestValidParams {
    n_estimators: usize,
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    bootstrap: bool,
    seed: u64,
    max_bins: usize,
    #[serde(skip)]
    n_threads: Option<usize>,
}

/// The serialised form of the params, checked on the way in.
#[derive(Deserialize)]
struct ParamsRepr {
    n_estimators: usize,
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    bootstrap: bool,
    seed: u64,
    max_bins: usize,
}

impl TryFrom<ParamsRepr> for RandomForestValidParams {
    type Error = Error;
    fn try_from(r: ParamsRepr) -> Result<Self> {
        RandomForestParams(RandomForestValidParams {
            n_estimators: r.n_estimators,
            max_depth: r.max_depth,
            min_samples_split: r.min_samples_split,
            min_samples_leaf: r.min_samples_leaf,
            max_features: r.max_features,
            bootstrap: r.bootstrap,
            seed: r.seed,
            max_bins: r.max_bins,
            n_threads: None,
        })
        .check()
    }
}

impl RandomForestValidParams {
    /// Number of trees.
    pub fn n_estimators(&self) -> usize {
        self.n_estimators
    }
    /// Maximum depth (`None`: unlimited).
    pub fn max_depth(&self) -> Option<usize> {
        self.max_depth
    }
    /// A node with fewer samples is not split.
    pub fn min_samples_split(&self) -> usize {
        self.min_samples_split
    }
    /// Each child keeps at least this many samples.
    pub fn min_samples_leaf(&self) -> usize {
        self.min_samples_leaf
    }
    /// Features considered per split.
    pub fn max_features(&self) -> MaxFeatures {
        self.max_features
    }
    /// Whether each tree draws a bootstrap sample.
    pub fn bootstrap(&self) -> bool {
        self.bootstrap
    }
    /// Seed: the same seed and data give the same forest, on any number of threads.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Histogram bins per feature (2..=256).
    pub fn max_bins(&self) -> usize {
        self.max_bins
    }
    /// Worker threads (`None`: all cores). Not part of the result.
    pub fn n_threads(&self) -> Option<usize> {
        self.n_threads
    }
    /// The params of a single tree grown on all rows (the decision-tree baseline's record).
    pub(crate) fn single_tree(&self) -> Self {
        RandomForestValidParams {
            n_estimators: 1,
            bootstrap: false,
            ..self.clone()
        }
    }
}

/// Hyperparameters, checked into [`RandomForestValidParams`] before fitting (linfa's
/// `ParamGuard` pattern). Defaults are the workflow guide's.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestParams(RandomForestValidParams);

impl Default for RandomForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomForestParams {
    /// 100 trees, depth 10, min_samples_split 2, min_samples_leaf 1, sqrt features, seed 42.
    pub fn new() -> Self {
        RandomForestParams(RandomForestValidParams {
            n_estimators: 100,
            max_depth: Some(10),
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            seed: 42,
            max_bins: MAX_VALUE_BINS,
            n_threads: None,
        })
    }
    /// Number of trees.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.0.n_estimators = n;
        self
    }
    /// Maximum depth.
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.0.max_depth = d;
        self
    }
    /// Minimum samples to split a node.
    pub fn min_samples_split(mut self, n: usize) -> Self {
        self.0.min_samples_split = n;
        self
    }
    /// Minimum samples in a leaf.
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.0.min_samples_leaf = n;
        self
    }
    /// Features per split.
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.0.max_features = m;
        self
    }
    /// Bootstrap on or off.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.0.bootstrap = b;
        self
    }
    /// Seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = s;
        self
    }
    /// Histogram bins.
    pub fn max_bins(mut self, b: usize) -> Self {
        self.0.max_bins = b;
        self
    }
    /// Threads (`None`: all cores).
    pub fn n_threads(mut self, t: Option<usize>) -> Self {
        self.0.n_threads = t;
        self
    }
}

impl ParamGuard for RandomForestParams {
    type Checked = RandomForestValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&Self::Checked> {
        let p = &self.0;
        let bad = |m: &str| Err(bad_params(m));
        if p.n_estimators == 0 {
            return bad("n_estimators must be at least 1");
        }
        if p.max_depth == Some(0) {
            return bad("max_depth must be at least 1");
        }
        if p.min_samples_split < 2 {
            return bad("min_samples_split must be at least 2");
        }
        if p.min_samples_leaf < 1 {
            return bad("min_samples_leaf must be at least 1");
        }
        if !(2..=MAX_VALUE_BINS).contains(&p.max_bins) {
            return bad("max_bins must be between 2 and 255");
        }
        if p.n_threads == Some(0) {
            return bad("threads must be at least 1");
        }
        match p.max_features {
            MaxFeatures::Count(0) => return bad("max_features must be at least 1"),
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return bad("max_features fraction must be in (0, 1]")
            }
            _ => {}
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Value bins a feature can have: code 255 is kept for a missing value.
pub const MAX_VALUE_BINS: usize = 255;
const MISSING_CODE: u8 = 255;

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
        if n == 0 {
            return Err(Error::model("a tree has no nodes"));
        }
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
            return Err(Error::model("a tree's node arrays have different lengths"));
        }
        let mut parents = vec![0u8; n];
        for i in 0..n {
            let f = self.feature[i];
            if f >= 0 {
                if f as usize >= n_features {
                    return Err(Error::model(format!(
                        "node {i} splits on feature {f}, but the model has {n_features} features"
                    )));
                }
                if !self.threshold[i].is_finite() {
                    return Err(Error::model(format!("node {i} has a non-finite threshold")));
                }
                for c in [self.left[i] as usize, self.right[i] as usize] {
                    if c <= i || c >= n {
                        return Err(Error::model(format!(
                            "node {i} has an invalid child index {c}"
                        )));
                    }
                    parents[c] += 1;
                }
            } else if f != -1 {
                return Err(Error::model(format!(
                    "node {i} has feature {f} (leaves use -1)"
                )));
            } else if !(0.0..=1.0).contains(&self.value[i]) {
                return Err(Error::model(format!(
                    "leaf {i} has probability {} outside [0, 1]",
                    self.value[i]
                )));
            }
        }
        if parents[1..].iter().any(|&p| p != 1) {
            return Err(Error::model("a tree's nodes do not form a tree"));
        }
        Ok(())
    }
}

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

/// The rows that have an out-of-bag score (NaN marks one every tree drew): their scores and
/// labels, in order.
pub fn scored_rows(oob: &[f64], y: &[u8]) -> (Vec<f64>, Vec<u8>) {
    oob.iter()
        .zip(y)
        .filter(|(p, _)| p.is_finite())
        .map(|(p, y)| (*p, *y))
        .unzip()
}

/// [`RandomForest::oob_proba`] for trees kept apart from their forest (a saved model).
pub fn oob_proba_trees(
    params: &RandomForestValidParams,
    trees: &[Tree],
    n_features: usize,
    x: &ArrayView2<f64>,
) -> Result<Vec<f64>> {
    if !params.bootstrap {
        return Err(bad_params(
            "out-of-bag scores need a forest fitted with bootstrap",
        ));
    }
    if x.ncols() != n_features {
        return Err(bad_data(format!(
            "out-of-bag scores: {} features, but the forest has {n_features}",
            x.ncols(),
        )));
    }
    Ok(predict_rows_with_oob(params, trees, x)?.1)
}

/// A node packed for prediction, 8 bytes: its threshold is the index of the threshold among
/// the forest's thresholds of that feature, and a row's value is replaced by its rank among
/// them (the number of thresholds below it), so `value > threshold` is `rank > index`
/// exactly, on 16-bit integers. A leaf points at itself and has the largest index, so a walk
/// can take a fixed number of steps (the tree's depth) without asking whether it has arrived.
#[derive(Clone, Copy)]
struct PackedNode {
    /// Index of the threshold among the feature's ([`NEVER_RIGHT`] at a leaf).
    at: u16,
    /// Split feature (0 at a leaf, where it is read but cannot matter).
    feature: u16,
    /// Left child (low 31 bits; the right child is stored right after it; a leaf's own index),
    /// and in the top bit whether a missing value goes right.
    left: u32,
}

const MISSING_RIGHT_BIT: u32 = 1 << 31;
/// The rank of a missing value.
const MISSING_RANK: u16 = u16::MAX;
/// A leaf's threshold index: no rank is above it.
const NEVER_RIGHT: u16 = u16::MAX;
/// Distinct thresholds a feature may have for ranks to fit in 16 bits beside [`MISSING_RANK`].
const MAX_THRESHOLDS: usize = u16::MAX as usize - 1;

/// A tree packed for prediction: nodes in breadth-first pairs, leaf values apart, its depth.
struct PackedTree {
    nodes: Vec<PackedNode>,
    /// The class-1 probability at each leaf (0 at split nodes).
    leaf_value: Vec<f64>,
    depth: usize,
}

/// Trees packed together with the sorted distinct thresholds of each feature.
struct PackedForest {
    trees: Vec<PackedTree>,
    thresholds: Vec<Vec<f64>>,
}

impl PackedForest {
    /// `None` when a feature has more distinct thresholds than 16-bit ranks can tell apart (no
    /// forest of histogram trees does: their thresholds are bin edges).
    fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
        let mut thresholds = vec![Vec::new(); n_features];
        for t in trees {
            for (f, th) in t.feature.iter().zip(&t.threshold) {
                if *f >= 0 {
                    thresholds.get_mut(*f as usize)?.push(*th);
                }
            }
        }
        for th in &mut thresholds {
            th.sort_by(f64::total_cmp);
            th.dedup();
            if th.len() > MAX_THRESHOLDS {
                return None;
            }
        }
        let trees = trees.iter().map(|t| pack(t, &thresholds)).collect();
        Some(PackedForest { trees, thresholds })
    }

    /// Rank of `v` among feature `f`'s thresholds: how many are below it.
    #[inline]
    fn rank(&self, f: usize, v: f64) -> u16 {
        if v.is_nan() {
            MISSING_RANK
        } else {
            self.thresholds[f].partition_point(|t| *t < v) as u16
        }
    }
}

fn pack(t: &Tree, thresholds: &[Vec<f64>]) -> PackedTree {
    let mut nodes = vec![PackedNode {
        at: NEVER_RIGHT,
        feature: 0,
        left: 0,
    }];
    let mut leaf_value = vec![0.0];
    let mut depth = 0;
    // (source node, packed slot, depth)
    let mut queue = std::collections::VecDeque::from([(0usize, 0usize, 0usize)]);
    while let Some((src, dst, d)) = queue.pop_front() {
        if t.feature[src] < 0 {
            nodes[dst] = PackedNode {
                at: NEVER_RIGHT,
                feature: 0,
                left: dst as u32,
            };
            leaf_value[dst] = t.value[src];
            depth = depth.max(d);
            continue;
        }
        let f = t.feature[src] as usize;
        let at = thresholds[f].partition_point(|x| *x < t.threshold[src]) as u16;
        let l = nodes.len();
        nodes.extend([nodes[dst], nodes[dst]]);
        leaf_value.extend([0.0, 0.0]);
        nodes[dst] = PackedNode {
            at,
            feature: f as u16,
            left: l as u32
                | if t.missing_left[src] {
                    0
                } else {
                    MISSING_RIGHT_BIT
                },
        };
        queue.push_back((t.left[src] as usize, l, d + 1));
        queue.push_back((t.right[src] as usize, l + 1, d + 1));
    }
    PackedTree {
        nodes,
        leaf_value,
        depth,
    }
}

/// A matrix the tree walkers read rows from: a row-major ndarray, or columns (a [`Frame`]'s
/// layout, read without a row-major copy).
///
/// [`Frame`]: crate::frame::Frame
pub trait Rows: Sync {
    /// Rows.
    fn n_rows(&self) -> usize;
    /// Columns.
    fn n_cols(&self) -> usize;
    /// Append rows `first..first + len`, row after row, to `out`.
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>);
    /// The value at `row` of column `col` (through [`Rows::copy_rows`] unless overridden).
    fn value(&self, row: usize, col: usize) -> f64 {
        let mut v = Vec::with_capacity(self.n_cols());
        self.copy_rows(row, 1, &mut v);
        v[col]
    }
}

impl Rows for ArrayView2<'_, f64> {
    fn n_rows(&self) -> usize {
        self.nrows()
    }
    fn n_cols(&self) -> usize {
        self.ncols()
    }
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>) {
        for k in first..first + len {
            out.extend(self.row(k).iter().copied());
        }
    }
    fn value(&self, row: usize, col: usize) -> f64 {
        self[[row, col]]
    }
}

/// Columns of equal length, as a [`Frame`](crate::frame::Frame) holds them.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a>(pub &'a [Vec<f64>]);

impl Rows for Columns<'_> {
    fn n_rows(&self) -> usize {
        self.0.first().map_or(0, Vec::len)
    }
    fn n_cols(&self) -> usize {
        self.0.len()
    }
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>) {
        let m = self.0.len();
        let at = out.len();
        out.resize(at + len * m, 0.0);
        for (j, c) in self.0.iter().enumerate() {
            for (k, v) in c[first..first + len].iter().enumerate() {
                out[at + k * m + j] = *v;
            }
        }
    }
    fn value(&self, row: usize, col: usize) -> f64 {
        self.0[col][row]
    }
}

const BLOCK: usize = 512;
/// Rows walked down a tree in lockstep: their walks are independent chains of loads, which the
/// processor overlaps; one row's walk alone waits on each node's load in turn.
const LANES: usize = 8;

/// Walk every tree for every row of `x`: rows go in blocks in parallel; inside a block each
/// tree is walked for every row before the next tree (the tree stays in cache), and `leaf` gets
/// (block state, tree index, row in block, leaf value) in tree order for each row, so sums over
/// trees do not depend on the thread count. Returns the block states in row order.
fn walk<R, S, I, L>(trees: &[Tree], x: &R, init: I, leaf: L) -> Vec<S>
where
    R: Rows + ?Sized,
    S: Send,
    I: Fn(usize, usize) -> S + Sync,
    L: Fn(&mut S, usize, usize, f64) + Sync,
{
    let m = x.n_cols();
    let Some(forest) = PackedForest::new(trees, m) else {
        return walk_unpacked(trees, x, init, leaf);
    };
    in_blocks(x, |first, len, values| {
        // Padded to whole groups of LANES rows (the padding is walked and ignored), so the
        // lane loop has a constant trip count the compiler unrolls.
        let mut ranks: Vec<u16> = values
            .iter()
            .enumerate()
            .map(|(i, v)| forest.rank(i % m, *v))
            .collect();
        ranks.resize(len.div_ceil(LANES) * LANES * m, 0);
        let mut state = init(first, len);
        for (ti, t) in forest.trees.iter().enumerate() {
            let nodes = &t.nodes[..];
            for g in (0..len).step_by(LANES) {
                let lanes = LANES.min(len - g);
                let group = &ranks[g * m..(g + LANES) * m];
                let mut at = [0u32; LANES];
                for _ in 0..t.depth {
                    for (k, a) in at.iter_mut().enumerate() {
                        let node = nodes[*a as usize];
                        let r = u32::from(group[k * m + node.feature as usize]);
                        // Right when above the threshold, or missing and sent right; in
                        // arithmetic, as a comparison here compiles to a branch the
                        // processor cannot predict. (at - r) wraps below 0 iff r > at;
                        // r + 1 reaches 2^16 iff r is the missing rank.
                        let above = u32::from(node.at).wrapping_sub(r) >> 31;
                        let missing = (r + 1) >> 16;
                        let right = (above & (missing ^ 1)) | (missing & (node.left >> 31));
                        *a = (node.left & !MISSING_RIGHT_BIT) + right;
                    }
                }
                for (k, a) in at.iter().enumerate().take(lanes) {
                    leaf(&mut state, ti, g + k, t.leaf_value[*a as usize]);
                }
            }
        }
        state
    })
}

/// [`walk`] on the trees as they are, node by node, for a forest whose thresholds do not fit
/// 16-bit ranks.
fn walk_unpacked<R, S, I, L>(trees: &[Tree], x: &R, init: I, leaf: L) -> Vec<S>
where
    R: Rows + ?Sized,
    S: Send,
    I: Fn(usize, usize) -> S + Sync,
    L: Fn(&mut S, usize, usize, f64) + Sync,
{
    let m = x.n_cols();
    in_blocks(x, |first, len, rows| {
        let mut state = init(first, len);
        for (ti, t) in trees.iter().enumerate() {
            for k in 0..len {
                let r = &rows[k * m..(k + 1) * m];
                leaf(&mut state, ti, k, t.predict_row(|f| r[f]));
            }
        }
        state
    })
}

/// `body(first row, rows, their values row after row)` for each block of [`BLOCK`] rows of `x`,
/// in parallel; the results in row order.
fn in_blocks<R, S, B>(x: &R, body: B) -> Vec<S>
where
    R: Rows + ?Sized,
    S: Send,
    B: Fn(usize, usize, &[f64]) -> S + Sync,
{
    let (n, m) = (x.n_rows(), x.n_cols());
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|c| {
            let first = c * BLOCK;
            let len = BLOCK.min(n - first);
            let mut values = Vec::with_capacity(len * m);
            x.copy_rows(first, len, &mut values);
            body(first, len, &values)
        })
        .collect()
}

/// Mean class-1 probability of `trees` per row of `x` (the sum over trees in tree order,
/// divided by their number).
pub fn predict_proba_trees(trees: &[Tree], x: &ArrayView2<f64>) -> Vec<f64> {
    predict_rows(trees, x)
}

/// [`predict_proba_trees`] for any [`Rows`].
pub fn predict_rows<R: Rows + ?Sized>(trees: &[Tree], x: &R) -> Vec<f64> {
    let k = trees.len() as f64;
    walk(trees, x, |_, len| vec![0.0; len], |s, _, i, v| s[i] += v)
        .into_iter()
        .flat_map(|b| b.into_iter().map(move |v| v / k))
        .collect()
}

/// The means of the first `counts[i]` trees per row of `x`, for every `i` (ascending counts, the
/// last at most `trees.len()`), from one walk: the score as trees are added. The mean at
/// `trees.len()` equals [`predict_rows`] bit for bit.
pub fn predict_rows_by_trees<R: Rows + ?Sized>(
    trees: &[Tree],
    x: &R,
    counts: &[usize],
) -> Vec<Vec<f64>> {
    let trees_used = counts.last().copied().unwrap_or(0).min(trees.len());
    // After tree t (0-based), the row's running sum is copied to checkpoint c when t + 1 ==
    // counts[c].
    let at: Vec<Option<usize>> = (0..trees_used)
        .map(|t| counts.iter().position(|&c| c == t + 1))
        .collect();
    let blocks = walk(
        &trees[..trees_used],
        x,
        |_, len| (vec![0.0; len], vec![vec![0.0; len]; counts.len()]),
        |(sum, snaps), t, i, v| {
            sum[i] += v;
            if let Some(c) = at[t] {
                snaps[c][i] = sum[i];
            }
        },
    );
    (0..counts.len())
        .map(|c| {
            let k = counts[c] as f64;
            blocks
                .iter()
                .flat_map(|(_, snaps)| snaps[c].iter().map(|v| v / k))
                .collect()
        })
        .collect()
}

/// Scores of the rows the forest was fitted on, from one walk: each row's mean over all trees
/// (what [`predict_rows`] gives) and its out-of-bag mean (over the trees whose bootstrap left it
/// out; NaN for a row every tree drew, as [`oob_proba_trees`]).
pub fn predict_rows_with_oob<R: Rows + ?Sized>(
    params: &RandomForestValidParams,
    trees: &[Tree],
    x: &R,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if !params.bootstrap {
        return Err(bad_params(
            "out-of-bag scores need a forest fitted with bootstrap",
        ));
    }
    let n = x.n_rows();
    let in_bag = in_bag_bits(params, trees.len(), n);
    let blocks = walk(
        trees,
        x,
        |first, len| (first, vec![0.0; len], vec![0.0; len], vec![0u32; len]),
        |(first, all, oob, k), t, i, v| {
            all[i] += v;
            let row = *first + i;
            // In arithmetic: whether a row is out of bag is a coin flip the processor cannot
            // predict. (Adding 0.0 leaves a sum of probabilities as it is.)
            let out = ((in_bag[t][row / 64] >> (row % 64)) & 1) ^ 1;
            oob[i] += v * out as f64;
            k[i] += out as u32;
        },
    );
    let kt = trees.len() as f64;
    let mut all = Vec::with_capacity(n);
    let mut oob = Vec::with_capacity(n);
    for (_, a, o, k) in blocks {
        all.extend(a.iter().map(|v| v / kt));
        oob.extend(
            o.iter()
                .zip(&k)
                .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN }),
        );
    }
    Ok((all, oob))
}

/// One bit per (tree, row): whether tree `t`'s bootstrap drew the row. 100 trees x 1M rows =
/// 12.5 MB.
fn in_bag_bits(params: &RandomForestValidParams, n_trees: usize, n: usize) -> Vec<Vec<u64>> {
    let words = n.div_ceil(64);
    (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let (counts, _) = params.bootstrap_counts(n, t as u64);
            let mut bits = vec![0u64; words];
            for (i, &c) in counts.iter().enumerate() {
                if c > 0 {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            bits
        })
        .collect()
}

/// A grown tree and its unnormalised Gini importances.
type Grown = (Tree, Vec<f64>);

/// The rows a forest was fitted on, scored as it grew (see [`RandomForestValidParams::fit_scored`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingScores {
    /// Each row's mean over all trees: what [`predict_rows`] gives.
    pub all: Vec<f64>,
    /// Each row's mean over the trees whose bootstrap left it out, NaN for a row every tree
    /// drew; `None` without bootstrap.
    pub oob: Option<Vec<f64>>,
}

/// One tree's mark on the training rows: each row's leaf value, and (with bootstrap) one bit
/// per row for whether the tree drew it.
struct TreeRows {
    value: Vec<f64>,
    in_bag: Option<Vec<u64>>,
}

/// Sums of the trees' leaf values per training row, added in tree order (trees arriving early
/// wait in `pending`), as [`predict_rows_with_oob`] adds them, so the means are the same bit
/// for bit and the same for any thread count.
struct ScoreSums {
    next: usize,
    pending: std::collections::BTreeMap<usize, TreeRows>,
    all: Vec<f64>,
    oob: Option<(Vec<f64>, Vec<u32>)>,
}

impl ScoreSums {
    fn new(n: usize, bootstrap: bool) -> Self {
        ScoreSums {
            next: 0,
            pending: Default::default(),
            all: vec![0.0; n],
            oob: bootstrap.then(|| (vec![0.0; n], vec![0; n])),
        }
    }

    /// Add tree `tree` (now or once the trees before it are in); returns the buffers of the
    /// trees added.
    fn add(&mut self, tree: usize, rows: TreeRows) -> Vec<Vec<f64>> {
        let mut done = Vec::new();
        self.pending.insert(tree, rows);
        while let Some(r) = self.pending.remove(&self.next) {
            for (a, v) in self.all.iter_mut().zip(&r.value) {
                *a += v;
            }
            if let (Some((sum, k)), Some(bits)) = (&mut self.oob, &r.in_bag) {
                for (row, ((s, c), v)) in sum.iter_mut().zip(k.iter_mut()).zip(&r.value).enumerate()
                {
                    let out = ((bits[row / 64] >> (row % 64)) & 1) ^ 1;
                    *s += v * out as f64;
                    *c += out as u32;
                }
            }
            self.next += 1;
            done.push(r.value);
        }
        done
    }

    fn finish(self, n_trees: usize) -> TrainingScores {
        let kt = n_trees as f64;
        TrainingScores {
            all: self.all.iter().map(|v| v / kt).collect(),
            oob: self.oob.map(|(sum, k)| {
                sum.iter()
                    .zip(&k)
                    .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
                    .collect()
            }),
        }
    }
}

/// A node packed for walking binned rows: a row's code decides, except in the one bin whose
/// observed values straddle the threshold (a bin no sample of the node fell in), where the raw
/// value does. Children side by side; a leaf points at itself and sends no code right, so a
/// walk takes a fixed number of steps.
#[derive(Clone, Copy)]
struct CodeNode {
    /// Codes from here up go right (256 at a leaf; the missing code is above every value code).
    first_right: u16,
    /// [`MISSING_CODE`] when a missing value goes left (it would go right by `first_right`),
    /// else 256 (no code).
    stays_left: u16,
    /// The straddling bin's code, 256 for none.
    straddle: u16,
    feature: u16,
    /// Left child; the right one follows it.
    left: u32,
}

/// `value[row]` = the leaf value `tree` gives each row in `rows`, walking the rows' codes (in
/// `x.by_row`) in lockstep groups without a branch per step (as [`walk`] does), and reading
/// `raw` only for a straddling bin. Equal to walking the raw values: see [`CodeNode`].
fn walk_rows<R: Rows + ?Sized>(
    tree: &Tree,
    x: &BinnedFeatures,
    raw: &R,
    rows: &[u32],
    value: &mut [f64],
) {
    let leaf = CodeNode {
        first_right: 256,
        stays_left: 256,
        straddle: 256,
        feature: 0,
        left: 0,
    };
    let mut nodes = vec![leaf];
    let mut threshold = vec![0.0];
    let mut leaf_value = vec![0.0];
    let mut depth = 0;
    let mut queue = std::collections::VecDeque::from([(0usize, 0usize, 0usize)]);
    while let Some((src, dst, d)) = queue.pop_front() {
        if tree.feature[src] < 0 {
            nodes[dst].left = dst as u32;
            leaf_value[dst] = tree.value[src];
            depth = depth.max(d);
            continue;
        }
        let (f, t) = (tree.feature[src] as usize, tree.threshold[src]);
        // Bins wholly at or below the threshold go left (`value > threshold` goes right).
        let first_right = x.upper[f].partition_point(|&u| u <= t);
        let straddle = match x.lower[f].get(first_right) {
            Some(&lo) if lo <= t => first_right as u16,
            _ => 256,
        };
        let l = nodes.len();
        nodes.extend([leaf, leaf]);
        threshold.extend([0.0, 0.0]);
        leaf_value.extend([0.0, 0.0]);
        nodes[dst] = CodeNode {
            first_right: first_right as u16,
            stays_left: if tree.missing_left[src] {
                u16::from(MISSING_CODE)
            } else {
                256
            },
            straddle,
            feature: f as u16,
            left: l as u32,
        };
        threshold[dst] = t;
        queue.push_back((tree.left[src] as usize, l, d + 1));
        queue.push_back((tree.right[src] as usize, l + 1, d + 1));
    }
    let m = x.n_features;
    let codes = &x.by_row;
    for rs in rows.chunks(LANES) {
        // A short last group walks its first row again in the spare lanes.
        let mut base = [rs[0] as usize * m; LANES];
        for (b, &r) in base.iter_mut().zip(rs) {
            *b = r as usize * m;
        }
        let mut at = [0u32; LANES];
        for _ in 0..depth {
            for k in 0..LANES {
                let node = nodes[at[k] as usize];
                let code = u16::from(codes[base[k] + node.feature as usize]);
                let right = if code == node.straddle {
                    raw.value(base[k] / m, node.feature as usize) > threshold[at[k] as usize]
                } else {
                    (code >= node.first_right) & (code != node.stays_left)
                };
                at[k] = node.left + u32::from(right);
            }
        }
        for (&r, a) in rs.iter().zip(at) {
            value[r as usize] = leaf_value[a as usize];
        }
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

/// Binned features: one `u8` code per value (255 for a missing one), plus the observed value
/// range of each bin.
#[derive(Debug, Clone)]
pub struct BinnedFeatures {
    /// Column-major codes (`codes[f * n_rows + row]`): a histogram pass over one feature reads
    /// one column (row-major measured 9% slower at 1M rows, 6 features).
    codes: Vec<u8>,
    n_rows: usize,
    n_features: usize,
    /// Smallest observed value per bin, per feature.
    lower: Vec<Vec<f64>>,
    /// Largest observed value per bin, per feature.
    upper: Vec<Vec<f64>>,
    /// Row-major codes (`by_row[row * n_features + f]`) when the fit scores its rows (walking
    /// a row down a tree reads its codes together), else empty.
    by_row: Vec<u8>,
}

impl BinnedFeatures {
    /// Bin each column of `x` into at most `max_bins` (up to 255) quantile bins of its present
    /// values. Columns with no more distinct values than bins get one bin per value, so splits
    /// are exact. NaN is missing; an infinite value is an error.
    pub fn new(x: &ArrayView2<f64>, max_bins: usize) -> Result<Self> {
        Self::of_rows(x, max_bins)
    }

    /// [`BinnedFeatures::new`] for any [`Rows`].
    pub fn of_rows<R: Rows + ?Sized>(x: &R, max_bins: usize) -> Result<Self> {
        let n = x.n_rows();
        let cols: Vec<_> = (0..x.n_cols())
            .into_par_iter()
            .map(|j| bin_column((0..n).map(|i| x.value(i, j)), n, max_bins, j))
            .collect::<Result<_, _>>()?;
        let m = cols.len();
        let mut b = BinnedFeatures {
            codes: Vec::with_capacity(n * m),
            n_rows: n,
            n_features: m,
            lower: Vec::new(),
            upper: Vec::new(),
            by_row: Vec::new(),
        };
        for (c, l, u) in cols {
            b.codes.extend_from_slice(&c);
            b.lower.push(l);
            b.upper.push(u);
        }
        Ok(b)
    }

    fn fill_by_row(&mut self) {
        let (n, m) = (self.n_rows, self.n_features);
        let mut by_row = vec![0u8; n * m];
        by_row
            .par_chunks_mut(BLOCK * m)
            .enumerate()
            .for_each(|(b, out)| {
                let first = b * BLOCK;
                for f in 0..m {
                    let col = &self.codes[f * n + first..];
                    for (k, o) in out.chunks_exact_mut(m).enumerate() {
                        o[f] = col[k];
                    }
                }
            });
        self.by_row = by_row;
    }

    /// All codes of feature `f`.
    #[inline]
    fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Number of value bins of feature `f` (the missing code is not counted).
    pub fn n_bins(&self, f: usize) -> usize {
        self.upper[f].len()
    }

    /// The threshold that separates bins `..=b` from `next..` of feature `f`.
    fn threshold(&self, f: usize, b: usize, next: usize) -> f64 {
        let (lo, hi) = (self.upper[f][b], self.lower[f][next]);
        let mid = lo / 2.0 + hi / 2.0;
        // As scikit-learn: if rounding lands on the upper value, use the lower one.
        if mid >= hi || !mid.is_finite() {
            lo
        } else {
            mid
        }
    }
}

type BinnedColumn = (Vec<u8>, Vec<f64>, Vec<f64>);

fn bin_column(
    values: impl Iterator<Item = f64> + Clone,
    n: usize,
    max_bins: usize,
    j: usize,
) -> Result<BinnedColumn> {
    let mut all: Vec<f64> = Vec::with_capacity(n);
    for (i, v) in values.clone().enumerate() {
        if v.is_nan() {
            continue;
        }
        if v.is_infinite() {
            return Err(bad_data(format!(
                "row {i}, feature {j}: value {v} is not finite"
            )));
        }
        all.push(v);
    }
    let max_bins = max_bins.min(MAX_VALUE_BINS);
    all.sort_unstable_by(f64::total_cmp);
    let mut distinct = all.clone();
    distinct.dedup();
    // Upper edges are observed values: bin b holds (edge[b-1], edge[b]].
    let edges: Vec<f64> = if distinct.len() <= max_bins {
        distinct
    } else {
        // Quantiles over the full column (with repeats), so heavy values get their own bins.
        let mut e: Vec<f64> = (1..max_bins)
            .map(|k| all[(k * all.len()) / max_bins - 1])
            .collect();
        e.push(*all.last().expect("more distinct values than bins"));
        e.dedup();
        e
    };
    drop(all);
    let mut lower = vec![f64::INFINITY; edges.len()];
    let upper = edges.clone();
    let codes: Vec<u8> = values
        .map(|v| {
            if v.is_nan() {
                return MISSING_CODE;
            }
            let b = edges.partition_point(|&e| e < v);
            if v < lower[b] {
                lower[b] = v;
            }
            b as u8
        })
        .collect();
    Ok((codes, lower, upper))
}

#[derive(Clone, Copy)]
struct Sample {
    row: u32,
    /// Bootstrap count in the low 31 bits, the label in the top bit: 8-byte samples halve the
    /// memory traffic of histogram passes and partitions.
    wy: u32,
}

impl Sample {
    #[inline]
    fn w(self) -> u32 {
        self.wy & 0x7FFF_FFFF
    }
    #[inline]
    fn p(self) -> u32 {
        (self.wy >> 31) * self.w()
    }
}

/// Sample count, weighted count and weighted positives of a node or bin (u32: a fit is
/// limited to 2^31 rows).
#[derive(Clone, Copy, Default)]
struct Stats {
    n: u32,
    w: u32,
    p: u32,
}

impl Stats {
    fn gini(&self) -> f64 {
        if self.w == 0 {
            return 0.0;
        }
        let q = self.p as f64 / self.w as f64;
        2.0 * q * (1.0 - q)
    }
}

struct Split {
    feature: usize,
    /// Value bins `..=bin` go left.
    bin: usize,
    /// The next bin holding samples of this node: the threshold sits between the two, as
    /// scikit-learn puts it between neighbouring values of the node. `None` for the split of
    /// missing from present values.
    next: Option<usize>,
    missing_left: bool,
    /// Rows of the node whose value of `feature` is missing.
    n_missing: u32,
    left: Stats,
    right: Stats,
}

impl Stats {
    fn add(self, o: Stats) -> Stats {
        Stats {
            n: self.n + o.n,
            w: self.w + o.w,
            p: self.p + o.p,
        }
    }

    fn sub(self, o: Stats) -> Stats {
        Stats {
            n: self.n - o.n,
            w: self.w - o.w,
            p: self.p - o.p,
        }
    }
}

/// Tables with at most this many features carry each sample's codes with it (see
/// `Grower::carried`) ...
const CARRY_MAX: usize = 16;
/// ... when their codes (a byte per row and feature) outgrow a typical last-level cache share.
/// Measured on 6 features: at 1M rows (4.8 MB, in cache) carrying made the fit 1.75x slower,
/// moving the codes costing more than the jumps it saves; at 10M rows (48 MB) 1.7x faster.
const CARRY_FROM_BYTES: usize = 16 << 20;

struct Grower<'a> {
    x: &'a BinnedFeatures,
    p: &'a RandomForestValidParams,
    max_features: usize,
    rng: Rng,
    tree: Tree,
    importance: Vec<f64>,
    features: Vec<usize>,
    hist: Vec<Stats>,
    /// Each sample's codes of every feature, `m` bytes a sample, moved with the sample when a
    /// node is partitioned (empty for wider tables). A histogram pass then reads a node's codes
    /// in order instead of jumping through a column by row: once the columns outgrow the cache
    /// (10M rows: 8 MB a feature), every jump was a trip to memory.
    carried: Vec<u8>,
    m: usize,
    /// When the training rows are scored as the tree grows: each leaf as (node, start, end) of
    /// its samples.
    leaves: Option<Vec<(u32, u32, u32)>>,
}

impl Grower<'_> {
    fn new_node(&mut self, s: &Stats) -> usize {
        self.tree.feature.push(-1);
        self.tree.threshold.push(0.0);
        self.tree.left.push(0);
        self.tree.right.push(0);
        self.tree.missing_left.push(false);
        self.tree.cover.push(s.w);
        self.tree.value.push(if s.w > 0 {
            s.p as f64 / s.w as f64
        } else {
            0.0
        });
        self.tree.feature.len() - 1
    }

    /// The best split of the node holding `samples`, which sit at `start..` of the tree's
    /// samples (where their carried codes are).
    fn best_split(&mut self, samples: &[Sample], start: usize, total: &Stats) -> Option<Split> {
        let n_features = self.features.len();
        let msl = self.p.min_samples_leaf as u32;
        let mut best: Option<(f64, Split)> = None;
        let mut visited = 0;
        let mut i = 0;
        // Draw features without replacement; constant ones do not count towards max_features.
        while i < n_features && visited < self.max_features {
            let j = i + self.rng.below(n_features - i);
            self.features.swap(i, j);
            let f = self.features[i];
            i += 1;
            let nb = self.x.n_bins(f);
            // Four interleaved histograms: consecutive samples in the same bin (common with
            // few categories) would otherwise wait on each other's store. A small node takes
            // one: clearing and merging the other three cost more than its samples (at 10k
            // rows most nodes are small). Only the feature's bins and the missing one are
            // cleared and merged.
            let n_lanes = if samples.len() >= 1024 { 4 } else { 1 };
            let lanes = &mut self.hist[..4 * 256];
            for lane in lanes.chunks_exact_mut(256).take(n_lanes) {
                lane[..nb].fill(Stats::default());
                lane[MISSING_CODE as usize] = Stats::default();
            }
            let mut add = |lane: usize, code: u8, s: &Sample| {
                let h = &mut lanes[lane * 256 + code as usize];
                h.n += 1;
                h.w += s.w();
                h.p += s.p();
            };
            if n_lanes == 1 {
                if self.carried.is_empty() {
                    let col = self.x.column(f);
                    for s in samples {
                        add(0, col[s.row as usize], s);
                    }
                } else {
                    let m = self.m;
                    let codes = &self.carried[start * m..(start + samples.len()) * m];
                    for (s, r) in samples.iter().zip(codes.chunks_exact(m)) {
                        add(0, r[f], s);
                    }
                }
            } else if self.carried.is_empty() {
                let col = self.x.column(f);
                let mut chunks = samples.chunks_exact(4);
                for c in &mut chunks {
                    for (lane, s) in c.iter().enumerate() {
                        add(lane, col[s.row as usize], s);
                    }
                }
                for s in chunks.remainder() {
                    add(0, col[s.row as usize], s);
                }
            } else {
                let m = self.m;
                let codes = &self.carried[start * m..(start + samples.len()) * m];
                let mut chunks = samples.chunks_exact(4);
                let mut rows = codes.chunks_exact(4 * m);
                for (c, r) in (&mut chunks).zip(&mut rows) {
                    for (lane, s) in c.iter().enumerate() {
                        add(lane, r[lane * m + f], s);
                    }
                }
                let rest = codes.len() - chunks.remainder().len() * m;
                for (k, s) in chunks.remainder().iter().enumerate() {
                    add(0, codes[rest + k * m + f], s);
                }
            }
            let (hist, rest) = lanes.split_at_mut(256);
            for lane in rest.chunks_exact(256).take(n_lanes - 1) {
                for (h, o) in hist[..nb].iter_mut().zip(&lane[..nb]) {
                    *h = h.add(*o);
                }
                let m = MISSING_CODE as usize;
                hist[m] = hist[m].add(lane[m]);
            }
            let missing = hist[MISSING_CODE as usize];
            let hist = &hist[..nb];
            let present_bins = hist.iter().filter(|h| h.n > 0).count();
            if present_bins + usize::from(missing.n > 0) < 2 {
                continue;
            }
            visited += 1;
            // Maximising sum(p^2 + (w-p)^2)/w over the children minimises weighted Gini.
            let score = |s: &Stats| {
                let (w, p) = (s.w as f64, s.p as f64);
                (p * p + (w - p) * (w - p)) / w
            };
            let mut consider = |left: Stats, bin: usize, next: Option<usize>, missing_left| {
                let right = total.sub(left);
                if left.n < msl || right.n < msl {
                    return;
                }
                let proxy = score(&left) + score(&right);
                if best.as_ref().is_none_or(|(bp, _)| proxy > *bp) {
                    best = Some((
                        proxy,
                        Split {
                            feature: f,
                            bin,
                            next,
                            missing_left,
                            n_missing: missing.n,
                            left,
                            right,
                        },
                    ));
                }
            };
            let mut left = Stats::default();
            let mut last_present = 0;
            for (b, h) in hist.iter().enumerate() {
                if h.n == 0 {
                    continue;
                }
                if left.n > 0 {
                    // A threshold between the previous present bin and this one.
                    consider(left, last_present, Some(b), false);
                    if missing.n > 0 {
                        consider(left.add(missing), last_present, Some(b), true);
                    }
                }
                left = left.add(*h);
                last_present = b;
            }
            if missing.n > 0 && left.n > 0 {
                consider(left, last_present, None, false);
            }
        }
        best.map(|(_, s)| s)
    }

    fn grow(&mut self, samples: &mut [Sample]) {
        let root = stats_of(samples);
        self.new_node(&root);
        // (node, start, end, depth, stats)
        let mut stack = vec![(0usize, 0usize, samples.len(), 0usize, root)];
        while let Some((node, start, end, depth, st)) = stack.pop() {
            let n = st.n as usize;
            let leaf = self.p.max_depth.is_some_and(|d| depth >= d)
                || n < self.p.min_samples_split
                || n < 2 * self.p.min_samples_leaf
                || st.p == 0
                || st.p == st.w;
            let split = if leaf {
                None
            } else {
                self.best_split(&samples[start..end], start, &st)
            };
            let Some(split) = split else {
                if let Some(leaves) = &mut self.leaves {
                    leaves.push((node as u32, start as u32, end as u32));
                }
                continue;
            };
            let part = &mut samples[start..end];
            let bin = split.bin as u8;
            let missing_left = split.missing_left;
            // In-place partition, left rows first, without a branch: which side a row takes is
            // a coin flip the processor cannot predict, and mispredicting it half the time cost
            // more than the histograms. Every row is swapped to `lo`, which only advances for a
            // left row; the right rows end up in another order, which no later step depends on
            // (histograms are sums). (A stable partition through a scratch buffer measured 9%
            // slower.)
            // MISSING_CODE is above every value bin, so `code <= bin` is false for it.
            let goes_left = |code: u8| (code <= bin) | (code == MISSING_CODE && missing_left);
            let mut lo = 0;
            if self.carried.is_empty() {
                let col = self.x.column(split.feature);
                for k in 0..part.len() {
                    let s = part[k];
                    let left = goes_left(col[s.row as usize]);
                    part[k] = part[lo];
                    part[lo] = s;
                    lo += usize::from(left);
                }
            } else {
                // The codes move with their samples.
                let (m, f) = (self.m, split.feature);
                let codes = &mut self.carried[start * m..end * m];
                let mut row = [0u8; CARRY_MAX];
                for k in 0..part.len() {
                    let s = part[k];
                    let left = goes_left(codes[k * m + f]);
                    part[k] = part[lo];
                    part[lo] = s;
                    row[..m].copy_from_slice(&codes[k * m..(k + 1) * m]);
                    codes.copy_within(lo * m..(lo + 1) * m, k * m);
                    codes[lo * m..(lo + 1) * m].copy_from_slice(&row[..m]);
                    lo += usize::from(left);
                }
            }
            let mid = start + lo;
            let w = st.w as f64;
            let decrease = w * st.gini()
                - split.left.w as f64 * split.left.gini()
                - split.right.w as f64 * split.right.gini();
            self.importance[split.feature] += decrease;
            let l = self.new_node(&split.left);
            let r = self.new_node(&split.right);
            self.tree.feature[node] = split.feature as i32;
            self.tree.threshold[node] = match split.next {
                Some(next) => self.x.threshold(split.feature, split.bin, next),
                // Missing vs present: every present value goes left.
                None => f64::MAX,
            };
            // A node that saw no missing value sends one where most training rows went, as
            // scikit-learn does.
            self.tree.missing_left[node] = if split.n_missing > 0 {
                split.missing_left
            } else {
                split.left.w >= split.right.w
            };
            self.tree.left[node] = l as u32;
            self.tree.right[node] = r as u32;
            stack.push((r, mid, end, depth + 1, split.right));
            stack.push((l, start, mid, depth + 1, split.left));
        }
    }
}

fn stats_of(samples: &[Sample]) -> Stats {
    samples.iter().fold(Stats::default(), |mut s, x| {
        s.n += 1;
        s.w += x.w();
        s.p += x.p();
        s
    })
}

impl RandomForestValidParams {
    /// Fit on a row-major matrix and 0/1 labels, calling `on_tree` as each tree finishes
    /// (for progress bars). The result is the same for any thread count.
    pub fn fit_observed(
        &self,
        x: &ArrayView2<f64>,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<RandomForest> {
        Ok(self.fit_rows(x, y, on_tree, false)?.0)
    }

    /// [`Self::fit_observed`] on any [`Rows`], also scoring the rows it was fitted on as the
    /// trees grow: each row's mean over all trees and its out-of-bag mean, equal bit for bit to
    /// what [`predict_rows_with_oob`] gives afterwards, for a fraction of the work. A row's leaf
    /// in a tree that drew it is known from the partition that grew the tree; only the rows it
    /// left out (about 37%) are walked down it.
    pub fn fit_scored<R: Rows + ?Sized>(
        &self,
        x: &R,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<(RandomForest, TrainingScores)> {
        let (forest, scores) = self.fit_rows(x, y, on_tree, true)?;
        Ok((forest, scores.expect("scored")))
    }

    pub(crate) fn fit_rows<R: Rows + ?Sized>(
        &self,
        x: &R,
        y: &[u8],
        on_tree: &(dyn Fn() + Sync),
        score: bool,
    ) -> Result<(RandomForest, Option<TrainingScores>)> {
        let (n, m) = (x.n_rows(), x.n_cols());
        if n == 0 || m == 0 {
            return Err(bad_data("no rows or no features"));
        }
        if y.len() != n {
            return Err(bad_data(format!("{n} rows but {} labels", y.len())));
        }
        if let Some(i) = y.iter().position(|&v| v > 1) {
            return Err(bad_data(format!(
                "label {} at row {i}: the forest is a binary classifier (0/1)",
                y[i]
            )));
        }
        if n > u32::MAX as usize / 2 {
            return Err(bad_data("too many rows"));
        }
        // Packed trees index features with 16 bits.
        if m > u16::MAX as usize {
            return Err(bad_data(format!(
                "{m} features: the forest takes at most {}",
                u16::MAX
            )));
        }
        let run = || -> Result<(RandomForest, Option<TrainingScores>)> {
            let mut binned = BinnedFeatures::of_rows(x, self.max_bins)?;
            // Only the rows a bootstrap left out are walked on their codes.
            if score && self.bootstrap {
                binned.fill_by_row();
            }
            let n_trees = self.n_estimators;
            let results: Mutex<Vec<Option<Grown>>> = Mutex::new(vec![None; n_trees]);
            let scores = score.then(|| Mutex::new(ScoreSums::new(n, self.bootstrap)));
            // Consumed trees' buffers, for the next trees (fresh ones cost page faults); apart
            // from the sums' lock, which is held while a tree is added.
            let spare: Mutex<Vec<Vec<f64>>> = Mutex::new(Vec::new());
            // Trees are handed out in index order, so they finish nearly in order and the
            // scores (summed in tree order, whatever the thread count) wait on few of them.
            let next = AtomicUsize::new(0);
            let worker = || loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= n_trees {
                    break;
                }
                let raw = scores.as_ref().map(|_| {
                    let spare = spare.lock().expect("no panic while scoring").pop();
                    (x, spare.unwrap_or_default())
                });
                let (tree, imp, rows) = self.grow_tree(&binned, y, t as u64, raw);
                on_tree();
                if let (Some(s), Some(r)) = (&scores, rows) {
                    let done = s.lock().expect("no panic while scoring").add(t, r);
                    spare.lock().expect("no panic while scoring").extend(done);
                }
                results.lock().expect("no panic while growing")[t] = Some((tree, imp));
            };
            rayon::scope(|s| {
                for _ in 0..rayon::current_num_threads().min(n_trees) {
                    s.spawn(|_| worker());
                }
            });
            let results: Vec<Grown> = results
                .into_inner()
                .expect("no panic while growing")
                .into_iter()
                .map(|r| r.expect("every tree grown"))
                .collect();
            let mut importances = vec![0.0; m];
            let mut counted = 0;
            for (_, imp) in &results {
                let s: f64 = imp.iter().sum();
                if s > 0.0 {
                    counted += 1;
                    for (a, v) in importances.iter_mut().zip(imp) {
                        *a += v / s;
                    }
                }
            }
            if counted > 0 {
                let s: f64 = importances.iter().sum();
                importances.iter_mut().for_each(|v| *v /= s);
            }
            let forest = RandomForest {
                n_features: m,
                params: self.clone(),
                feature_importances: importances,
                trees: results.into_iter().map(|(t, _)| t).collect(),
            };
            let scores = scores.map(|s| {
                s.into_inner()
                    .expect("no panic while scoring")
                    .finish(n_trees)
            });
            Ok((forest, scores))
        };
        match self.n_threads {
            Some(k) => rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .build()
                .map_err(|e| bad_params(format!("thread pool: {e}")))?
                .install(run),
            None => run(),
        }
    }

    /// Tree `index`'s bootstrap over `n` rows as per-row counts, and its random stream after the
    /// draws (the same stream then picks the features). Out-of-bag scoring redraws it.
    fn bootstrap_counts(&self, n: usize, index: u64) -> (Vec<u8>, Rng) {
        let mut rng = Rng::for_stream(self.seed, index);
        // u8 counts keep the array in cache; a count above 255 (probability ~1/255!) saturates.
        let mut counts = vec![0u8; n];
        if self.bootstrap {
            for _ in 0..n {
                let c = &mut counts[rng.below(n)];
                *c = c.saturating_add(1);
            }
        } else {
            counts.fill(1);
        }
        (counts, rng)
    }

    fn grow_tree<R: Rows + ?Sized>(
        &self,
        x: &BinnedFeatures,
        y: &[u8],
        index: u64,
        raw: Option<(&R, Vec<f64>)>,
    ) -> (Tree, Vec<f64>, Option<TreeRows>) {
        let carry = x.n_features <= CARRY_MAX && x.n_rows * x.n_features >= CARRY_FROM_BYTES;
        self.grow_tree_carrying(x, y, index, carry, raw)
    }

    /// [`Self::grow_tree`], carrying the samples' codes with them or not: the same tree either
    /// way, only the speed differs. With `raw` (the rows `x` was binned from, and a buffer to
    /// reuse), also each row's leaf value in the tree and whether its bootstrap drew the row.
    fn grow_tree_carrying<R: Rows + ?Sized>(
        &self,
        x: &BinnedFeatures,
        y: &[u8],
        index: u64,
        carry: bool,
        raw: Option<(&R, Vec<f64>)>,
    ) -> (Tree, Vec<f64>, Option<TreeRows>) {
        let (counts, rng) = self.bootstrap_counts(y.len(), index);
        let drawn = counts.iter().filter(|&&c| c > 0).count();
        // Drawn rows become samples, the others (when scoring) are listed to be walked; without
        // a branch, as whether a row was drawn is a coin flip.
        let mut samples = vec![Sample { row: 0, wy: 0 }; drawn + 1];
        let score_left_out = raw.is_some() && self.bootstrap;
        let mut left_out = vec![
            0u32;
            if score_left_out {
                y.len() - drawn + 1
            } else {
                0
            }
        ];
        let (mut a, mut b) = (0, 0);
        for (i, &c) in counts.iter().enumerate() {
            samples[a] = Sample {
                row: i as u32,
                wy: u32::from(c) | (u32::from(y[i]) << 31),
            };
            a += usize::from(c > 0);
            if score_left_out {
                left_out[b] = i as u32;
                b += usize::from(c == 0);
            }
        }
        samples.truncate(drawn);
        left_out.truncate(b);
        drop(counts);
        let m = x.n_features;
        let carried = if carry {
            let mut c = vec![0u8; samples.len() * m];
            for f in 0..m {
                let col = x.column(f);
                for (k, s) in samples.iter().enumerate() {
                    c[k * m + f] = col[s.row as usize];
                }
            }
            c
        } else {
            Vec::new()
        };
        let mut g = Grower {
            x,
            p: self,
            max_features: self.max_features.resolve(m),
            rng,
            tree: Tree::default(),
            importance: vec![0.0; m],
            features: (0..m).collect(),
            hist: vec![Stats::default(); 4 * 256],
            carried,
            m,
            leaves: raw.as_ref().map(|_| Vec::new()),
        };
        g.grow(&mut samples);
        let rows = raw.map(|(raw, mut value)| {
            // Every row is written below: it was drawn (and sits in a leaf) or left out.
            value.resize(y.len(), 0.0);
            for &(node, start, end) in g.leaves.as_deref().unwrap_or_default() {
                let v = g.tree.value[node as usize];
                for s in &samples[start as usize..end as usize] {
                    value[s.row as usize] = v;
                }
            }
            drop(samples);
            walk_rows(&g.tree, x, raw, &left_out, &mut value);
            let in_bag = self.bootstrap.then(|| {
                let mut bits = vec![u64::MAX; y.len().div_ceil(64)];
                for &r in &left_out {
                    bits[r as usize / 64] &= !(1 << (r % 64));
                }
                bits
            });
            TreeRows { value, in_bag }
        });
        (g.tree, g.importance, rows)
    }
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, Error> for RandomForestValidParams
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = RandomForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<RandomForest> {
        let targets = dataset.as_single_targets();
        let y: Vec<u8> = targets
            .iter()
            .map(|&v| u8::try_from(v).unwrap_or(u8::MAX))
            .collect();
        self.fit_observed(&dataset.records().view(), &y, &|| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn carrying_the_codes_grows_the_same_trees() {
        let (x, y) = data(3000, 11);
        let mut xm = x.clone();
        xm[[5, 1]] = f64::NAN;
        xm[[9, 2]] = f64::NAN;
        let p = RandomForestParams::new().n_estimators(4).check().unwrap();
        let mut binned = BinnedFeatures::new(&xm.view(), p.max_bins).unwrap();
        binned.fill_by_row();
        let view = xm.view();
        let raw = || Some((&view, Vec::new()));
        for t in 0..4 {
            let (a, ia, ra) = p.grow_tree_carrying(&binned, &y, t, false, raw());
            let (b, ib, rb) = p.grow_tree_carrying(&binned, &y, t, true, raw());
            assert!(a.n_nodes() > 3);
            assert_eq!((a, ia), (b, ib), "tree {t}");
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert_eq!((ra.value, ra.in_bag), (rb.value, rb.in_bag), "tree {t}");
        }
    }

    #[test]
    fn walking_codes_reads_the_raw_value_in_a_straddling_bin() {
        // 1000 distinct values in 4 bins of 250: a threshold inside a bin cannot be decided by
        // the code alone.
        let x = Array2::from_shape_fn((1000, 1), |(i, _)| i as f64);
        let mut binned = BinnedFeatures::new(&x.view(), 4).unwrap();
        binned.fill_by_row();
        for t in [-1.0, 100.5, 249.0, 249.5, 250.0, 600.25, 999.0, f64::MAX] {
            let tree = Tree {
                feature: vec![0, -1, -1],
                threshold: vec![t, 0.0, 0.0],
                left: vec![1, 0, 0],
                right: vec![2, 0, 0],
                value: vec![0.5, 0.0, 1.0],
                missing_left: vec![false; 3],
                cover: vec![],
            };
            let rows: Vec<u32> = (0..1000).collect();
            let mut value = vec![f64::NAN; 1000];
            walk_rows(&tree, &binned, &x.view(), &rows, &mut value);
            for (i, v) in value.iter().enumerate() {
                assert_eq!(*v, tree.predict_row(|_| i as f64), "row {i}, threshold {t}");
            }
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn scores_from_the_fit_equal_a_walk_afterwards_bit_for_bit() {
        let (mut x, y) = data(4000, 5);
        for i in (0..4000).step_by(7) {
            x[[i, i % 3]] = f64::NAN;
        }
        for bootstrap in [true, false] {
            let mut seen = Vec::new();
            for threads in [1, 2] {
                let p = RandomForestParams::new()
                    .n_estimators(12)
                    .max_depth(Some(6))
                    .bootstrap(bootstrap)
                    .n_threads(Some(threads))
                    .check()
                    .unwrap();
                let (forest, scores) = p.fit_scored(&x.view(), &y, &|| {}).unwrap();
                assert_eq!(forest, p.fit_observed(&x.view(), &y, &|| {}).unwrap());
                assert_eq!(
                    bits(&scores.all),
                    bits(&predict_rows(&forest.trees, &x.view()))
                );
                match predict_rows_with_oob(&p, &forest.trees, &x.view()) {
                    Ok((_, oob)) => {
                        let got = scores.oob.as_deref().expect("out-of-bag scores");
                        assert_eq!(bits(got), bits(&oob));
                        assert!(got.iter().filter(|v| v.is_finite()).count() > 3900);
                    }
                    Err(_) => assert!(!bootstrap && scores.oob.is_none()),
                }
                // The same from the columns a frame holds.
                let cols: Vec<Vec<f64>> = (0..x.ncols()).map(|j| x.column(j).to_vec()).collect();
                let (f2, s2) = p.fit_scored(&Columns(&cols), &y, &|| {}).unwrap();
                assert_eq!((&f2, &bits(&s2.all)), (&forest, &bits(&scores.all)));
                seen.push((bits(&scores.all), scores.oob.as_deref().map(bits)));
            }
            assert_eq!(seen[0], seen[1], "1 and 2 threads");
        }
    }

    fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<u8>) {
        let mut r = Rng::new(seed);
        let x = Array2::from_shape_fn((n, 4), |_| r.normal());
        let y = (0..n)
            .map(|i| {
                let z = 1.5 * x[[i, 0]] - x[[i, 1]] + 0.5 * r.normal();
                u8::from(z > 0.0)
            })
            .collect();
        (x, y)
    }

    #[test]
    fn params_are_checked() {
        let e = RandomForestParams::new()
            .n_estimators(0)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("n_estimators"));
        assert!(RandomForestParams::new()
            .min_samples_split(1)
            .check()
            .is_err());
        assert!(RandomForestParams::new()
            .max_depth(Some(0))
            .check()
            .is_err());
        assert!(RandomForestParams::new()
            .max_features(MaxFeatures::Fraction(1.5))
            .check()
            .is_err());
        assert_eq!("sqrt".parse::<MaxFeatures>().unwrap(), MaxFeatures::Sqrt);
        assert_eq!(
            "0.5".parse::<MaxFeatures>().unwrap(),
            MaxFeatures::Fraction(0.5)
        );
        assert!("0".parse::<MaxFeatures>().is_err());
        assert_eq!(MaxFeatures::Sqrt.resolve(19), 4);
    }

    #[test]
    fn same_result_for_any_thread_count() {
        let (x, y) = data(2_000, 1);
        let fit = |t| {
            RandomForestParams::new()
                .n_estimators(16)
                .n_threads(Some(t))
                .check()
                .unwrap()
                .fit_observed(&x.view(), &y, &|| {})
                .unwrap()
        };
        let (a, b) = (fit(1), fit(2));
        assert!(a.trees == b.trees, "trees differ between 1 and 2 threads");
        assert_eq!(a.feature_importances, b.feature_importances);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }

    #[test]
    fn learns_the_signal_and_ranks_importances() {
        let (x, y) = data(4_000, 2);
        let (xt, yt) = data(2_000, 3);
        let f = RandomForestParams::new()
            .n_estimators(50)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let p = f.predict_proba(&xt.view());
        let acc = p
            .iter()
            .zip(&yt)
            .filter(|(p, &y)| u8::from(**p > 0.5) == y)
            .count() as f64
            / yt.len() as f64;
        assert!(acc > 0.85, "accuracy {acc}");
        let imp = &f.feature_importances;
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            imp[0] > imp[1] && imp[1] > imp[2] && imp[1] > imp[3],
            "{imp:?}"
        );
        for t in &f.trees {
            t.validate(4).unwrap();
            assert!(t.depth() <= 10);
        }
    }

    #[test]
    fn thresholds_reproduce_the_binned_partition() {
        // Few distinct values: every split must separate exactly the same rows in raw space.
        let x = Array2::from_shape_fn((300, 1), |(i, _)| (i % 7) as f64 * 0.1);
        let y: Vec<u8> = (0..300).map(|i| u8::from(i % 7 >= 4)).collect();
        let f = RandomForestParams::new()
            .n_estimators(3)
            .max_features(MaxFeatures::All)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let p = f.predict_proba(&x.view());
        assert!(p.iter().zip(&y).all(|(p, &y)| (*p > 0.5) == (y == 1)));
    }

    #[test]
    fn many_distinct_values_are_binned_to_255_and_nan_gets_its_own_code() {
        let mut x = Array2::from_shape_fn((10_000, 1), |(i, _)| i as f64);
        x[[5, 0]] = f64::NAN;
        let b = BinnedFeatures::new(&x.view(), 255).unwrap();
        assert_eq!(b.n_bins(0), 255);
        assert_eq!(*b.codes.last().unwrap(), 254);
        assert_eq!(b.codes[5], MISSING_CODE);
        let all_missing = Array2::from_elem((3, 1), f64::NAN);
        assert_eq!(
            BinnedFeatures::new(&all_missing.view(), 255)
                .unwrap()
                .n_bins(0),
            0
        );
        let bad = Array2::from_elem((3, 1), f64::INFINITY);
        assert!(BinnedFeatures::new(&bad.view(), 255).is_err());
    }

    /// Labels follow x0; a share of x0 is missing, and missing rows churn more than others.
    fn data_with_missing(n: usize, seed: u64) -> (Array2<f64>, Vec<u8>) {
        let (mut x, mut y) = data(n, seed);
        let mut r = Rng::new(seed ^ 0xABCD);
        for i in 0..n {
            if r.uniform() < 0.3 {
                x[[i, 0]] = f64::NAN;
                y[i] = u8::from(r.uniform() < 0.8);
            }
        }
        (x, y)
    }

    fn auc(p: &[f64], y: &[u8]) -> f64 {
        crate::evaluate::roc_auc(y, p).unwrap()
    }

    #[test]
    fn missing_values_are_learned_not_guessed() {
        let (x, y) = data_with_missing(4_000, 5);
        let (xt, yt) = data_with_missing(2_000, 6);
        let fit = |x: &Array2<f64>| {
            RandomForestParams::new()
                .n_estimators(40)
                .check()
                .unwrap()
                .fit_observed(&x.view(), &y, &|| {})
                .unwrap()
        };
        let native = fit(&x);
        let p_native = native.predict_proba(&xt.view());
        // The single-row walk and the packed batch walk agree, NaN rows included.
        for (i, p) in p_native.iter().enumerate().take(300) {
            let row = xt.row(i);
            let mean = native
                .trees
                .iter()
                .map(|t| t.predict_row(|f| row[f]))
                .sum::<f64>()
                / native.trees.len() as f64;
            assert!((mean - p).abs() < 1e-12, "row {i}: {mean} vs {p}");
        }
        // Filling with the median hides what missingness says; the native forest sees it.
        let median = {
            let mut v: Vec<f64> = x
                .column(0)
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let fill = |x: &Array2<f64>| x.mapv(|v| if v.is_nan() { median } else { v });
        let p_filled = fit(&fill(&x)).predict_proba(&fill(&xt).view());
        let (a_native, a_filled) = (auc(&p_native, &yt), auc(&p_filled, &yt));
        assert!(
            a_native > a_filled + 0.002,
            "native {a_native} filled {a_filled}"
        );
        // Rows with x0 missing churn 80% of the time, and the forest says about that.
        let nan_rows: Vec<usize> = (0..yt.len()).filter(|&i| xt[[i, 0]].is_nan()).collect();
        let mean = nan_rows.iter().map(|&i| p_native[i]).sum::<f64>() / nan_rows.len() as f64;
        assert!(
            (mean - 0.8).abs() < 0.08,
            "mean score of missing rows {mean}"
        );
        assert!(native
            .trees
            .iter()
            .any(|t| t.missing_left.iter().any(|&m| m)));
        for t in &native.trees {
            t.validate(4).unwrap();
        }
    }

    #[test]
    fn a_node_without_missing_training_values_sends_them_to_the_bigger_child() {
        // x0 < 3 (30% of rows) is class 1; no value is missing in training.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| (i % 10) as f64);
        let y: Vec<u8> = (0..100).map(|i| u8::from(i % 10 < 3)).collect();
        let f = RandomForestParams::new()
            .n_estimators(1)
            .bootstrap(false)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let t = &f.trees[0];
        assert_eq!(t.n_nodes(), 3);
        assert!(!t.missing_left[0], "7 of 10 rows went right");
        let nan = ndarray::array![[f64::NAN]];
        assert_eq!(f.predict_proba(&nan.view()), vec![0.0]);
    }

    #[test]
    fn out_of_bag_scores_use_only_trees_that_did_not_draw_the_row() {
        // Pure-noise labels: deep trees memorise the training rows, so scores that leaked the
        // row's own label would be far better than chance; out-of-bag ones are not.
        let mut r = Rng::new(11);
        let x = Array2::from_shape_fn((2000, 5), |_| r.uniform());
        let y: Vec<u8> = (0..2000).map(|_| u8::from(r.uniform() < 0.5)).collect();
        let f = RandomForestParams::new()
            .n_estimators(30)
            .max_depth(None)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let acc = |p: &[f64]| {
            let ok = p
                .iter()
                .zip(&y)
                .filter(|(p, y)| p.is_finite() && u8::from(**p > 0.5) == **y)
                .count();
            ok as f64 / p.iter().filter(|p| p.is_finite()).count() as f64
        };
        assert!(
            acc(&f.predict_proba(&x.view())) > 0.9,
            "in-bag scores memorise"
        );
        let oob = f.oob_proba(&x.view()).unwrap();
        assert!((acc(&oob) - 0.5).abs() < 0.05, "oob accuracy {}", acc(&oob));
        assert!(
            oob.iter().all(|p| p.is_finite()),
            "30 trees leave every row out somewhere"
        );
        // One tree: its out-of-bag rows get its prediction; the rows it drew get NaN.
        let one = RandomForestParams::new()
            .n_estimators(1)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let oob = one.oob_proba(&x.view()).unwrap();
        let missing = oob.iter().filter(|p| p.is_nan()).count() as f64 / 2000.0;
        assert!((missing - 0.632).abs() < 0.03, "share drawn {missing}");
        let p = one.predict_proba(&x.view());
        assert!(oob.iter().zip(&p).all(|(o, p)| o.is_nan() || o == p));
        let no_bag = RandomForestParams::new()
            .bootstrap(false)
            .n_estimators(2)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        assert!(no_bag.oob_proba(&x.view()).is_err());
    }

    #[test]
    fn validate_catches_corrupt_trees() {
        let t = Tree {
            feature: vec![0, -1, -1],
            threshold: vec![0.5, 0.0, 0.0],
            left: vec![1, 0, 0],
            right: vec![2, 0, 0],
            value: vec![0.5, 0.0, 1.0],
            missing_left: vec![true, false, false],
            cover: vec![4, 1, 3],
        };
        t.validate(1).unwrap();
        assert!(t.validate(0).is_err());
        let mut cyc = t.clone();
        cyc.left[0] = 0;
        assert!(cyc.validate(1).is_err());
        let mut p = t.clone();
        p.value[2] = 1.5;
        assert!(p.validate(1).is_err());
    }
}
