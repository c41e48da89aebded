//! Scoring rows with fitted trees: nodes packed to 8 bytes with 16-bit threshold ranks, rows
//! walked in lockstep groups, blocks of rows in parallel, sums over trees in tree order (the
//! same for any thread count).

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::rows::{Rows, BLOCK};
use super::tree::Tree;

/// A node packed for prediction, 8 bytes: its threshold is the index of the threshold among
/// the forest's thresholds of that feature, and a row's value is replaced by its rank among
/// them (the number of thresholds below it), so `value > threshold` is `rank > index`
/// exactly, on 16-bit integers. A leaf points at itself and has the largest index, so a walk
/// can take a fixed number of steps (the tree's depth) without asking whether it has arrived.
#[derive(Clone, Copy)]
pub(super) struct PackedNode {
    /// Index of the threshold among the feature's ([`NEVER_RIGHT`] at a leaf).
    pub(super) at: u16,
    /// Split feature (0 at a leaf, where it is read but cannot matter).
    pub(super) feature: u16,
    /// Left child (low 31 bits; the right child is stored right after it; a leaf's own index),
    /// and in the top bit whether a missing value goes right.
    pub(super) left: u32,
}

pub(super) const MISSING_RIGHT_BIT: u32 = 1 << 31;
/// The rank of a missing value.
pub(super) const MISSING_RANK: u16 = u16::MAX;
/// A leaf's threshold index: no rank is above it.
pub(super) const NEVER_RIGHT: u16 = u16::MAX;
/// Distinct thresholds a feature may have for ranks to fit in 16 bits beside [`MISSING_RANK`].
pub(super) const MAX_THRESHOLDS: usize = u16::MAX as usize - 1;

/// A tree packed for prediction: nodes in breadth-first pairs, leaf values apart, its depth.
pub(super) struct PackedTree {
    pub(super) nodes: Vec<PackedNode>,
    /// The class-1 probability at each leaf (0 at split nodes).
    pub(super) leaf_value: Vec<f64>,
    pub(super) depth: usize,
}

/// Trees packed together with the sorted distinct thresholds of each feature.
pub(super) struct PackedForest {
    pub(super) trees: Vec<PackedTree>,
    pub(super) thresholds: Vec<Vec<f64>>,
}

impl PackedForest {
    /// `None` when a feature has more distinct thresholds than 16-bit ranks can tell apart (no
    /// forest of histogram trees does: their thresholds are bin edges).
    pub(super) fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
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
    pub(super) fn rank(&self, f: usize, v: f64) -> u16 {
        if v.is_nan() {
            MISSING_RANK
        } else {
            self.thresholds[f].partition_point(|t| *t < v) as u16
        }
    }
}

pub(super) fn pack(t: &Tree, thresholds: &[Vec<f64>]) -> PackedTree {
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

/// Rows walked down a tree in lockstep: their walks are independent chains of loads, which the
/// processor overlaps; one row's walk alone waits on each node's load in turn.
pub(super) const LANES: usize = 8;

/// Walk every tree for every row of `x`: rows go in blocks in parallel; inside a block each
/// tree is walked for every row before the next tree (the tree stays in cache), and `leaf` gets
/// (block state, tree index, row in block, leaf value) in tree order for each row, so sums over
/// trees do not depend on the thread count. Returns the block states in row order.
pub(super) fn walk<R, S, I, L>(trees: &[Tree], x: &R, init: I, leaf: L) -> Vec<S>
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
pub(super) fn walk_unpacked<R, S, I, L>(trees: &[Tree], x: &R, init: I, leaf: L) -> Vec<S>
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
pub(super) fn in_blocks<R, S, B>(x: &R, body: B) -> Vec<S>
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
