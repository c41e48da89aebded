//! Scores of the rows a forest was fitted on: each row's mean over all trees and over the trees
//! whose bootstrap left it out (out-of-bag), from one walk after the fit or as the trees grow.

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::binning::{BinnedFeatures, MISSING_CODE};
use super::params::{bad_data, bad_params, RandomForestValidParams};
use super::predict::{walk, LANES};
use super::rows::Rows;
use super::tree::Tree;
use crate::error::Result;

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
pub(super) fn in_bag_bits(
    params: &RandomForestValidParams,
    n_trees: usize,
    n: usize,
) -> Vec<Vec<u64>> {
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
pub(super) struct TreeRows {
    pub(super) value: Vec<f64>,
    pub(super) in_bag: Option<Vec<u64>>,
}

/// Sums of the trees' leaf values per training row, added in tree order (trees arriving early
/// wait in `pending`), as [`predict_rows_with_oob`] adds them, so the means are the same bit
/// for bit and the same for any thread count.
pub(super) struct ScoreSums {
    pub(super) next: usize,
    pub(super) pending: std::collections::BTreeMap<usize, TreeRows>,
    pub(super) all: Vec<f64>,
    pub(super) oob: Option<(Vec<f64>, Vec<u32>)>,
}

impl ScoreSums {
    pub(super) fn new(n: usize, bootstrap: bool) -> Self {
        ScoreSums {
            next: 0,
            pending: Default::default(),
            all: vec![0.0; n],
            oob: bootstrap.then(|| (vec![0.0; n], vec![0; n])),
        }
    }

    /// Add tree `tree` (now or once the trees before it are in); returns the buffers of the
    /// trees added.
    pub(super) fn add(&mut self, tree: usize, rows: TreeRows) -> Vec<Vec<f64>> {
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

    pub(super) fn finish(self, n_trees: usize) -> TrainingScores {
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
pub(super) struct CodeNode {
    /// Codes from here up go right (256 at a leaf; the missing code is above every value code).
    pub(super) first_right: u16,
    /// [`MISSING_CODE`] when a missing value goes left (it would go right by `first_right`),
    /// else 256 (no code).
    pub(super) stays_left: u16,
    /// The straddling bin's code, 256 for none.
    pub(super) straddle: u16,
    pub(super) feature: u16,
    /// Left child; the right one follows it.
    pub(super) left: u32,
}

/// `value[row]` = the leaf value `tree` gives each row in `rows`, walking the rows' codes (in
/// `x.by_row`) in lockstep groups without a branch per step (as [`walk`] does), and reading
/// `raw` only for a straddling bin. Equal to walking the raw values: see [`CodeNode`].
pub(super) fn walk_rows<R: Rows + ?Sized>(
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
