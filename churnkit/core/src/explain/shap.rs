//! Reasons per customer: exact SHAP contributions of each feature to a forest's score.
//!
//! The contributions are path-dependent TreeSHAP's (Lundberg et al., "From local explanations
//! to global understanding with explainable AI for trees", Nature MI 2020), the values the
//! `shap` package's `TreeExplainer` computes with `feature_perturbation="tree_path_dependent"`:
//! the expectation of a tree given a set of known features follows the row at splits on known
//! features and weighs both children by their training cover at the others. For every row, the
//! base value plus the contributions equals the score exactly (up to rounding).
//!
//! Two exact algorithms compute them:
//! - per-leaf tables (Fast TreeSHAP v2, Yang 2021): for a leaf whose path has `d` distinct
//!   features, the Shapley sum only depends on which of them the row satisfies, so a table of
//!   `2^d` sums per leaf, built once per tree, makes a row cost O(leaves x d) instead of
//!   O(leaves x depth²);
//! - the recursive algorithm of the paper (as in `shap`'s C++), for trees with a path of more
//!   than [`TABLE_MAX_FEATURES`] distinct features, where the tables would be too large.
//!
//! Both run over rows in parallel; a row's sum is taken over trees in order, so the result does
//! not depend on the thread count.

use super::contributions::Contributions;
use crate::data::frame::Frame;
use crate::ensure;
use crate::error::Result;
use crate::forest::Tree;
use crate::model::Model;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// The largest number of distinct features on one root-to-leaf path for which a tree gets
/// per-leaf tables (2^12 sums per leaf at most); deeper trees use the recursive algorithm.
pub const TABLE_MAX_FEATURES: usize = 12;

/// Exact path-dependent TreeSHAP of the mean of `trees` for every row of `x`.
///
/// ```
/// use churnkit_core::{explain::tree_shap, forest::RandomForestParams};
/// use linfa::ParamGuard;
/// let x = ndarray::Array2::from_shape_fn((200, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
/// let y: Vec<u8> = (0..200).map(|i| u8::from(i % 17 > 8)).collect();
/// let forest = RandomForestParams::new().n_estimators(10).check()?.fit_observed(&x.view(), &y, &|| {})?;
/// let c = tree_shap(&forest.trees, 3, &x.view())?;
/// let p = forest.predict_proba(&x.view());
/// for i in 0..200 {
///     let total: f64 = c.base_value + c.row(i).iter().sum::<f64>();
///     assert!((total - p[i]).abs() < 1e-9);
/// }
/// # Ok::<(), churnkit_core::Error>(())
/// ```
pub fn tree_shap(trees: &[Tree], n_features: usize, x: &ArrayView2<f64>) -> Result<Contributions> {
    ensure!(
        x.ncols() == n_features,
        model,
        "explain: {} feature columns, but the model has {n_features}",
        x.ncols()
    );
    ensure!(!trees.is_empty(), model, "explain: the model has no trees");
    for (t, tree) in trees.iter().enumerate() {
        ensure!(tree.cover.len() == tree.n_nodes(), model, "explain: tree {t} has no node covers (a model file before format 3); retrain to explain");
        ensure!(
            !(0..tree.n_nodes()).any(|n| tree.feature[n] >= 0 && tree.cover[n] == 0),
            model,
            "explain: tree {t} has a split that no training row reached"
        );
    }
    let n = x.nrows();
    let m = n_features;
    let scale = 1.0 / trees.len() as f64;
    let mut values = vec![0.0; n * m];
    let mut base = 0.0;
    // A few trees at a time: their tables are built in parallel, then every row adds their
    // contributions in tree order.
    const BATCH: usize = 8;
    const BLOCK: usize = 128;
    for batch in trees.chunks(BATCH) {
        let prepared: Vec<Prepared> = batch.par_iter().map(Prepared::new).collect();
        for p in &prepared {
            base += p.expected() * scale;
        }
        // Rows go in blocks: a tree's per-leaf tables are then read for every row of the block
        // in turn, from cache, instead of once per row.
        values.par_chunks_mut(m * BLOCK).enumerate().for_each_init(
            Scratch::default,
            |scratch, (b, phi)| {
                let first = b * BLOCK;
                let rows = phi.len() / m;
                scratch.rows.clear();
                for r in 0..rows {
                    scratch.rows.extend(x.row(first + r).iter().copied());
                }
                for p in &prepared {
                    p.add_block(phi, m, scale, scratch);
                }
            },
        );
    }
    Ok(Contributions {
        base_value: base,
        n_features: m,
        values,
    })
}

/// Per-thread working memory, reused across blocks of rows.
#[derive(Default)]
struct Scratch {
    /// The block's rows, row-major.
    rows: Vec<f64>,
    /// Per node of a tree: the path features a row has agreed with so far.
    mask: Vec<u32>,
    /// Per leaf, per row of the block: the leaf's satisfied mask (leaf-major).
    leaf_masks: Vec<u32>,
    path: Vec<PathElement>,
}

/// One tree, ready to explain rows.
enum Prepared<'a> {
    Tables(Tables<'a>),
    Recursive(&'a Tree, f64),
}

impl<'a> Prepared<'a> {
    fn new(tree: &'a Tree) -> Prepared<'a> {
        match Tables::new(tree) {
            Some(t) => Prepared::Tables(t),
            None => Prepared::Recursive(tree, expected_value(tree)),
        }
    }

    /// Add this tree's contributions to the block's rows (`s.rows`) into `phi` (row-major,
    /// `m` per row).
    fn add_block(&self, phi: &mut [f64], m: usize, scale: f64, s: &mut Scratch) {
        match self {
            Prepared::Tables(t) => t.add_block(phi, m, scale, s),
            Prepared::Recursive(tree, _) => {
                for (row, out) in s.rows.chunks(m).zip(phi.chunks_mut(m)) {
                    recursive(tree, row, out, scale, &mut s.path);
                }
            }
        }
    }
}

impl Prepared<'_> {
    fn expected(&self) -> f64 {
        match self {
            Prepared::Tables(t) => t.expected,
            Prepared::Recursive(_, e) => *e,
        }
    }
}

/// The cover-weighted mean of the leaf values.
fn expected_value(tree: &Tree) -> f64 {
    let root = f64::from(tree.cover[0]);
    (0..tree.n_nodes())
        .filter(|&n| tree.feature[n] < 0)
        .map(|n| tree.value[n] * f64::from(tree.cover[n]) / root)
        .sum()
}

/// The per-leaf tables of one tree.
struct Tables<'a> {
    tree: &'a Tree,
    expected: f64,
    /// Parent of each node (0 for the root).
    parent: Vec<u32>,
    /// Whether each node is its parent's right child.
    is_right: Vec<bool>,
    /// For each internal node, the index of its feature in the distinct features of the path
    /// from the root to it.
    local: Vec<u8>,
    /// Leaves, in node order.
    leaves: Vec<Leaf>,
    /// `2^d` sums per leaf, concatenated (`Leaf::offset`).
    sums: Vec<f64>,
}

struct Leaf {
    node: u32,
    /// The distinct features of its path, in order of first appearance.
    features: Vec<u32>,
    /// Per path feature: the product of the cover fractions of its splits on the path.
    zero: Vec<f64>,
    /// Per path feature: `value / z`. A row's factor for the feature is `(o - z) / z * value`
    /// = `o * value / z - value`, with `o` 1 if it satisfies the feature's splits, else 0.
    over_zero: Vec<f64>,
    value: f64,
    offset: usize,
}

/// Shapley weights `s! (d-1-s)! / d!` for `s` in `0..d`.
fn shapley_weights(d: usize) -> Vec<f64> {
    // w(0) = 1/d; w(s+1) = w(s) * (s+1) / (d-1-s).
    let mut w = vec![0.0; d];
    if d == 0 {
        return w;
    }
    w[0] = 1.0 / d as f64;
    for s in 0..d - 1 {
        w[s + 1] = w[s] * (s + 1) as f64 / (d - 1 - s) as f64;
    }
    w
}

impl<'a> Tables<'a> {
    /// The tables, or `None` when a path has more than [`TABLE_MAX_FEATURES`] distinct features.
    fn new(tree: &'a Tree) -> Option<Tables<'a>> {
        let n = tree.n_nodes();
        let mut parent = vec![0u32; n];
        let mut local = vec![0u8; n];
        let mut is_right = vec![false; n];
        // Per node: the distinct features on the path to it and their zero fractions.
        let mut paths: Vec<Option<(Vec<u32>, Vec<f64>)>> = vec![None; n];
        paths[0] = Some((vec![], vec![]));
        let mut leaves = Vec::new();
        let mut total = 0usize;
        for node in 0..n {
            let (feats, zero) = paths[node].take().expect("parents come before children");
            let f = tree.feature[node];
            if f < 0 {
                if feats.len() > TABLE_MAX_FEATURES {
                    return None;
                }
                let d = feats.len();
                let v = tree.value[node];
                leaves.push(Leaf {
                    node: node as u32,
                    value: v,
                    offset: total,
                    over_zero: zero.iter().map(|z| v / z).collect(),
                    features: feats,
                    zero,
                });
                total += 1 << d;
                continue;
            }
            let k = feats
                .iter()
                .position(|&g| g == f as u32)
                .unwrap_or(feats.len());
            if k > TABLE_MAX_FEATURES {
                return None;
            }
            local[node] = k as u8;
            let w = f64::from(tree.cover[node]);
            is_right[tree.right[node] as usize] = true;
            for child in [tree.left[node], tree.right[node]] {
                let c = child as usize;
                parent[c] = node as u32;
                let frac = f64::from(tree.cover[c]) / w;
                let (mut cf, mut cz) = (feats.clone(), zero.clone());
                if k == cf.len() {
                    cf.push(f as u32);
                    cz.push(frac);
                } else {
                    cz[k] *= frac;
                }
                paths[c] = Some((cf, cz));
            }
        }
        let mut sums = vec![0.0; total];
        let mut expected = 0.0;
        let mut poly: Vec<Vec<f64>> = Vec::new();
        for leaf in &leaves {
            let d = leaf.features.len();
            expected += leaf.value * leaf.zero.iter().product::<f64>();
            let w = shapley_weights(d);
            let full = (1usize << d) - 1;
            // Q_U(t) = prod over j in U of (1 + t z_j), built from U without its lowest bit.
            poly.clear();
            poly.resize(1 << d, Vec::new());
            poly[0] = vec![1.0];
            for u in 1..=full {
                let low = u.trailing_zeros() as usize;
                let prev = &poly[u & (u - 1)];
                let mut q = vec![0.0; prev.len() + 1];
                for (k, c) in prev.iter().enumerate() {
                    q[k] += c;
                    q[k + 1] += c * leaf.zero[low];
                }
                poly[u] = q;
            }
            // F(U) = prod_{j not in U} z_j * sum_k w(|U| - k) e_k(z_U), for |U| < d.
            for u in 0..=full {
                let size = u.count_ones() as usize;
                if size >= d {
                    continue;
                }
                let outside: f64 = (0..d)
                    .filter(|j| u & (1 << j) == 0)
                    .map(|j| leaf.zero[j])
                    .product();
                let s: f64 = poly[u]
                    .iter()
                    .enumerate()
                    .map(|(k, e)| w[size - k] * e)
                    .sum();
                sums[leaf.offset + u] = outside * s;
            }
        }
        Some(Tables {
            tree,
            expected,
            parent,
            is_right,
            local,
            leaves,
            sums,
        })
    }

    /// The satisfied-mask of every node for one row: bit k set while the row agrees with every
    /// split on path feature k so far.
    fn masks(&self, row: &[f64], mask: &mut Vec<u32>) {
        let t = self.tree;
        let n = t.n_nodes();
        mask.clear();
        mask.resize(n, 0);
        mask[0] = u32::MAX;
        for node in 1..n {
            let p = self.parent[node] as usize;
            let v = row[t.feature[p] as usize];
            // Missing values are rare, so that branch predicts well; the comparison does not,
            // so the rest is arithmetic.
            let goes_right = if v.is_nan() {
                !t.missing_left[p]
            } else {
                v > t.threshold[p]
            };
            let cold = u32::from(goes_right != self.is_right[node]);
            mask[node] = mask[p] & !(cold << self.local[p]);
        }
    }

    /// One row (the tests' reference for [`Tables::add_block`]).
    #[cfg(test)]
    fn add(&self, row: &[f64], phi: &mut [f64], scale: f64, mask: &mut Vec<u32>) {
        self.masks(row, mask);
        for leaf in &self.leaves {
            let d = leaf.features.len();
            let satisfied = mask[leaf.node as usize] & ((1u32 << d) - 1);
            let table = &self.sums[leaf.offset..leaf.offset + (1 << d)];
            for k in 0..d {
                let o = f64::from((satisfied >> k) & 1);
                let u = (satisfied & !(1u32 << k)) as usize;
                phi[leaf.features[k] as usize] +=
                    scale * (o * leaf.over_zero[k] - leaf.value) * table[u];
            }
        }
    }

    fn add_block(&self, phi: &mut [f64], m: usize, scale: f64, s: &mut Scratch) {
        let rows = phi.len() / m;
        let nl = self.leaves.len();
        s.leaf_masks.clear();
        s.leaf_masks.resize(nl * rows, 0);
        for r in 0..rows {
            self.masks(&s.rows[r * m..(r + 1) * m], &mut s.mask);
            for (l, leaf) in self.leaves.iter().enumerate() {
                s.leaf_masks[l * rows + r] = s.mask[leaf.node as usize];
            }
        }
        // Leaf by leaf, so that its table stays in cache across the block's rows.
        for (l, leaf) in self.leaves.iter().enumerate() {
            let d = leaf.features.len();
            if d == 0 {
                continue;
            }
            let table = &self.sums[leaf.offset..leaf.offset + (1 << d)];
            let full = (1u32 << d) - 1;
            let value = leaf.value;
            for (r, out) in phi.chunks_exact_mut(m).enumerate() {
                let satisfied = s.leaf_masks[l * rows + r] & full;
                // Branch-free: whether a row satisfies a feature is a coin flip to the predictor.
                for (k, (&f, &over_zero)) in leaf.features.iter().zip(&leaf.over_zero).enumerate() {
                    let o = f64::from((satisfied >> k) & 1);
                    let u = (satisfied & !(1u32 << k) & full) as usize;
                    out[f as usize] += scale * (o * over_zero - value) * table[u];
                }
            }
        }
    }
}

/// One element of the unique path of the recursive algorithm.
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero: f64,
    one: f64,
    weight: f64,
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (depth + 1) as f64;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / (depth + 1) as f64;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (path[index].one, path[index].zero);
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next * (depth + 1) as f64 / ((i + 1) as f64 * one);
            next = tmp - path[i].weight * zero * (depth - i) as f64 / (depth + 1) as f64;
        } else {
            path[i].weight = path[i].weight * (depth + 1) as f64 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (path[index].one, path[index].zero);
    let mut next = path[depth].weight;
    let mut total = 0.0;
    if one != 0.0 {
        for i in (0..depth).rev() {
            let tmp = next / ((i + 1) as f64 * one);
            total += tmp;
            next = path[i].weight - tmp * zero * (depth - i) as f64;
        }
    } else {
        for i in (0..depth).rev() {
            total += path[i].weight / (zero * (depth - i) as f64);
        }
    }
    total * (depth + 1) as f64
}

/// The recursive algorithm (Algorithm 2 of the paper, as `shap`'s `tree_shap_recursive` lays it
/// out: each level's unique path is a copy stacked after its parent's).
fn recursive(tree: &Tree, row: &[f64], phi: &mut [f64], scale: f64, buf: &mut Vec<PathElement>) {
    let depth = tree.depth();
    let need = (depth + 2) * (depth + 3) / 2;
    buf.clear();
    buf.resize(need, PathElement::default());
    let mut args = Recurse {
        tree,
        row,
        phi,
        scale,
    };
    args.go(buf, 0, 0, 0, 1.0, 1.0, -1);
}

struct Recurse<'a> {
    tree: &'a Tree,
    row: &'a [f64],
    phi: &'a mut [f64],
    scale: f64,
}

impl Recurse<'_> {
    #[allow(clippy::too_many_arguments)]
    fn go(
        &mut self,
        buf: &mut [PathElement],
        start: usize,
        node: usize,
        depth: usize,
        zero: f64,
        one: f64,
        feature: i64,
    ) {
        // This level's path starts after the parent's (which holds depth + 1 elements).
        let (parent, rest) = buf.split_at_mut(start + depth + 1);
        let path = &mut rest[..depth + 1];
        path[..depth + 1].copy_from_slice(&parent[start..start + depth + 1]);
        let own = start + depth + 1;
        extend(path, depth, zero, one, feature);
        let t = self.tree;
        if t.feature[node] < 0 {
            for i in 1..=depth {
                let w = unwound_sum(path, depth, i);
                let el = path[i];
                self.phi[el.feature as usize] +=
                    self.scale * w * (el.one - el.zero) * t.value[node];
            }
            return;
        }
        let f = t.feature[node] as usize;
        let v = self.row[f];
        let goes_right = if v.is_nan() {
            !t.missing_left[node]
        } else {
            v > t.threshold[node]
        };
        let (hot, cold) = if goes_right {
            (t.right[node], t.left[node])
        } else {
            (t.left[node], t.right[node])
        };
        let w = f64::from(t.cover[node]);
        let hot_zero = f64::from(t.cover[hot as usize]) / w;
        let cold_zero = f64::from(t.cover[cold as usize]) / w;
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        let mut depth = depth;
        if let Some(k) = (0..=depth).find(|&k| path[k].feature == f as i64) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, depth, k);
            depth -= 1;
        }
        self.go(
            buf,
            own,
            hot as usize,
            depth + 1,
            hot_zero * in_zero,
            in_one,
            f as i64,
        );
        self.go(
            buf,
            own,
            cold as usize,
            depth + 1,
            cold_zero * in_zero,
            0.0,
            f as i64,
        );
    }
}

impl Model {
    /// Exact TreeSHAP contributions of each feature to each row's score (before any
    /// calibration): the base value plus a row's contributions is its uncalibrated score.
    /// See [`crate::explain`].
    pub fn explain(&self, x: &Frame) -> Result<Contributions> {
        self.check_features(&x.names)?;
        tree_shap(&self.trees, self.feature_names.len(), &x.to_array2().view())
    }
}

#[cfg(test)]
mod tests {
    use super::super::contributions::{beeswarm_chart, beeswarm_offsets, colour_range};
    use super::*;
    use crate::forest::RandomForestParams;
    use crate::rng::Rng;
    use linfa::ParamGuard;
    use ndarray::Array2;

    #[test]
    fn beeswarm_offsets_stack_ties_and_stay_on_their_line() {
        // Five equal values and one apart: the five fan out symmetrically, the lone one sits on
        // the line.
        let v = [0.1, 0.1, 0.1, 0.1, 0.1, 0.9];
        let y = beeswarm_offsets(&v, 0.0, 1.0, 100);
        assert_eq!(y[5], 0.0);
        let mut fan: Vec<f64> = y[..5].to_vec();
        fan.sort_by(f64::total_cmp);
        assert_eq!(fan, vec![-0.45, -0.225, 0.0, 0.225, 0.45]);
        assert!(y.iter().all(|d| d.abs() <= 0.45));
        // Row order decides ties, so the layout is the same on every call.
        assert_eq!(y, beeswarm_offsets(&v, 0.0, 1.0, 100));
        assert_eq!(colour_range(&[f64::NAN, 3.0, 3.0]), Some((3.0, 3.0)));
        assert_eq!(colour_range(&[f64::NAN]), None);
    }

    #[test]
    fn beeswarm_draws_the_top_features_and_checks_shapes() {
        let mut rng = Rng::new(5);
        let x = Array2::from_shape_fn((3000, 4), |_| rng.uniform());
        let y: Vec<u8> = (0..3000)
            .map(|i| u8::from(x[[i, 0]] + 0.2 * x[[i, 1]] > 0.6))
            .collect();
        let forest = RandomForestParams::new()
            .n_estimators(5)
            .max_depth(Some(4))
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        let c = tree_shap(&forest.trees, 4, &x.view()).unwrap();
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let png = beeswarm_chart("t", &names, &c, &x.view(), 3).unwrap();
        assert_eq!(&png.bytes[1..4], b"PNG");
        assert_eq!(png.height, 140 + 46 * 3);
        let err = beeswarm_chart("t", &names[..3], &c, &x.view(), 3).unwrap_err();
        assert!(err.to_string().contains("3 names"), "{err}");
    }

    /// Shapley values by brute force over all feature subsets, from the tree's conditional
    /// expectation (known features follow the row, unknown ones weigh children by cover).
    fn brute_force(tree: &Tree, row: &[f64], m: usize) -> Vec<f64> {
        fn expect(t: &Tree, row: &[f64], known: u32, node: usize) -> f64 {
            let f = t.feature[node];
            if f < 0 {
                return t.value[node];
            }
            let (l, r) = (t.left[node] as usize, t.right[node] as usize);
            if known & (1 << f) != 0 {
                let v = row[f as usize];
                let right = if v.is_nan() {
                    !t.missing_left[node]
                } else {
                    v > t.threshold[node]
                };
                expect(t, row, known, if right { r } else { l })
            } else {
                let w = f64::from(t.cover[node]);
                (f64::from(t.cover[l]) * expect(t, row, known, l)
                    + f64::from(t.cover[r]) * expect(t, row, known, r))
                    / w
            }
        }
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; m];
        for (i, p) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << m) {
                if s & (1 << i) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(m - k - 1) / fact(m);
                *p += w * (expect(tree, row, s | (1 << i), 0) - expect(tree, row, s, 0));
            }
        }
        phi
    }

    fn forest(n: usize, m: usize, depth: Option<usize>, seed: u64) -> (Array2<f64>, Vec<Tree>) {
        let mut r = Rng::new(seed);
        let mut x = Array2::from_shape_fn((n, m), |_| (r.uniform() * 10.0).floor());
        for i in (0..n).step_by(7) {
            x[[i, 1]] = f64::NAN;
        }
        let y: Vec<u8> = (0..n)
            .map(|i| u8::from(x[[i, 0]] + x[[i, 2]] * 0.5 + r.uniform() * 4.0 > 7.0))
            .collect();
        let f = RandomForestParams::new()
            .n_estimators(6)
            .max_depth(depth)
            .max_features(crate::forest::MaxFeatures::All)
            .seed(seed)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap();
        (x, f.trees)
    }

    #[test]
    fn both_algorithms_match_brute_force_shapley_values() {
        let (x, trees) = forest(400, 5, Some(6), 3);
        for tree in &trees {
            let tables = Tables::new(tree).expect("shallow trees get tables");
            for i in [0usize, 7, 13, 101, 399] {
                let row = x.row(i).to_vec();
                let want = brute_force(tree, &row, 5);
                let mut a = vec![0.0; 5];
                tables.add(&row, &mut a, 1.0, &mut Vec::new());
                let mut b = vec![0.0; 5];
                recursive(tree, &row, &mut b, 1.0, &mut Vec::new());
                for j in 0..5 {
                    assert!(
                        (a[j] - want[j]).abs() < 1e-12,
                        "tables row {i} f{j}: {} vs {}",
                        a[j],
                        want[j]
                    );
                    assert!(
                        (b[j] - want[j]).abs() < 1e-12,
                        "recursive row {i} f{j}: {} vs {}",
                        b[j],
                        want[j]
                    );
                }
            }
        }
    }

    #[test]
    fn contributions_add_up_to_the_score_and_do_not_depend_on_threads() {
        let (x, trees) = forest(3000, 6, None, 5);
        let forest_score = crate::forest::predict_proba_trees(&trees, &x.view());
        let c = tree_shap(&trees, 6, &x.view()).unwrap();
        for (i, p) in forest_score.iter().enumerate() {
            let total = c.base_value + c.row(i).iter().sum::<f64>();
            assert!((total - p).abs() < 1e-9, "row {i}: {total} vs {p}");
        }
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| tree_shap(&trees, 6, &x.view()).unwrap());
        assert_eq!(one, c, "byte-identical on one thread");
        assert_eq!(c.top(0, 2).len(), 2);
    }

    #[test]
    fn models_without_covers_are_refused() {
        let (x, mut trees) = forest(100, 3, Some(3), 1);
        trees[0].cover.clear();
        let err = tree_shap(&trees, 3, &x.view()).unwrap_err();
        assert!(err.to_string().contains("retrain"), "{err}");
        assert!(tree_shap(&trees, 4, &x.view()).is_err());
    }
}
