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

use crate::charts::render::Png;
use crate::data::frame::Frame;
use crate::error::Result;
use crate::forest::Tree;
use crate::model::Model;
use crate::{bail, ensure};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// The largest number of distinct features on one root-to-leaf path for which a tree gets
/// per-leaf tables (2^12 sums per leaf at most); deeper trees use the recursive algorithm.
pub const TABLE_MAX_FEATURES: usize = 12;

/// SHAP contributions of every feature for every row of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// The expected score over the training data (the mean of the trees' cover-weighted leaf
    /// values): the score of a row about which nothing is known.
    pub base_value: f64,
    /// Number of features.
    pub n_features: usize,
    /// Row-major, `n_features` per row.
    pub values: Vec<f64>,
}

impl Contributions {
    /// Rows explained.
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_features.max(1)
    }

    /// The contributions of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The `k` largest contributions of row `i` by absolute value: (feature index, value),
    /// largest first, ties by feature index.
    pub fn top(&self, i: usize, k: usize) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self.row(i).iter().copied().enumerate().collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }

    /// Mean absolute contribution per feature (the global importance SHAP summary bars show).
    pub fn mean_abs(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features];
        for r in 0..self.n_rows() {
            for (o, v) in out.iter_mut().zip(self.row(r)) {
                *o += v.abs();
            }
        }
        let n = self.n_rows().max(1) as f64;
        out.iter_mut().for_each(|v| *v /= n);
        out
    }
}

/// A waterfall chart of one row's contributions, as `shap.plots.waterfall` draws it: from the
/// base value at the bottom, each of the `k` largest contributions moves the score (red up,
/// blue down), the rest summed in one bar, ending at the row's score at the top. `labels` name
/// each feature with the row's value (e.g. `Contract = Month-to-month`).
pub fn waterfall_chart(
    title: &str,
    labels: &[String],
    contributions: &[f64],
    base: f64,
    k: usize,
) -> Result<Png> {
    use crate::charts::render::{render, CLASS_COLOURS, FAMILY};
    use plotters::prelude::*;
    let mut order: Vec<usize> = (0..contributions.len()).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .abs()
            .total_cmp(&contributions[a].abs())
            .then(a.cmp(&b))
    });
    let shown = k.min(order.len());
    let mut bars: Vec<(String, f64)> = order[..shown]
        .iter()
        .map(|&i| (labels[i].clone(), contributions[i]))
        .collect();
    if order.len() > shown {
        let rest: f64 = order[shown..].iter().map(|&i| contributions[i]).sum();
        bars.push((format!("{} other features", order.len() - shown), rest));
    }
    // Bottom to top: the smallest effect first, so the largest sits just under the score.
    bars.reverse();
    let score = base + contributions.iter().sum::<f64>();
    let mut at = base;
    let mut spans = Vec::with_capacity(bars.len());
    for (_, v) in &bars {
        spans.push((at, at + v));
        at += v;
    }
    let lo = spans
        .iter()
        .map(|s| s.0.min(s.1))
        .fold(base.min(score), f64::min);
    let hi = spans
        .iter()
        .map(|s| s.0.max(s.1))
        .fold(base.max(score), f64::max);
    let pad = ((hi - lo) * 0.25).max(0.02);
    let n = bars.len() as i32;
    let height = (150 + 40 * bars.len() as u32).min(1600);
    render(820, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(250)
            .build_cartesian_2d(lo - pad..hi + pad, (0..n - 1).into_segmented())?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => {
                bars.get(*i as usize).map_or(String::new(), |b| b.0.clone())
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&label)
            .x_desc(format!(
                "Score (base value {base:.3} -> this customer {score:.3})"
            ))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        for (i, ((_, v), (a, b))) in bars.iter().zip(&spans).enumerate() {
            let colour = if *v >= 0.0 {
                CLASS_COLOURS[1]
            } else {
                CLASS_COLOURS[0]
            };
            let mut bar = Rectangle::new(
                [
                    (*a, SegmentValue::Exact(i as i32)),
                    (*b, SegmentValue::Exact(i as i32 + 1)),
                ],
                colour.mix(0.85).filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            chart.draw_series(std::iter::once(bar))?;
            chart.draw_series(std::iter::once(Text::new(
                format!(" {v:+.3}"),
                (a.max(*b), SegmentValue::CenterOf(i as i32)),
                (FAMILY, 13).into_font(),
            )))?;
        }
        for (x, style) in [(base, BLACK.mix(0.5)), (score, BLACK.mix(0.9))] {
            chart.draw_series(DashedLineSeries::new(
                [(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(n))],
                6,
                4,
                style.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

/// Rows a beeswarm draws at most: more dots only blacken the chart, and a stride over the rows
/// keeps its shape.
pub const BEESWARM_MAX_ROWS: usize = 2000;

/// The rows of `n` a beeswarm draws: all of them, or [`BEESWARM_MAX_ROWS`] by an even stride.
pub fn beeswarm_rows(n: usize) -> Vec<usize> {
    if n > BEESWARM_MAX_ROWS {
        (0..BEESWARM_MAX_ROWS)
            .map(|i| i * n / BEESWARM_MAX_ROWS)
            .collect()
    } else {
        (0..n).collect()
    }
}

/// Vertical offsets (within ±0.45 of a feature's line) that stack the dots of equal-ish values
/// as `shap.plots.beeswarm` does: values are cut into `bins` bins of the x range and the dots of
/// a bin alternate above and below the line, so a dense bin grows into a wide swarm.
/// Deterministic: ties in a bin are taken in row order.
pub fn beeswarm_offsets(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let width = (hi - lo).max(1e-12);
    let quant: Vec<usize> = values
        .iter()
        .map(|v| {
            (((v - lo) / width) * bins as f64)
                .round()
                .clamp(0.0, bins as f64) as usize
        })
        .collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| (quant[i], i));
    let mut ys = vec![0.0; values.len()];
    let (mut layer, mut last) = (0usize, usize::MAX);
    for &i in &order {
        if quant[i] != last {
            layer = 0;
            last = quant[i];
        }
        let side = if layer % 2 == 1 { 1.0 } else { -1.0 };
        ys[i] = layer.div_ceil(2) as f64 * side;
        layer += 1;
    }
    let widest = ys.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    if widest > 0.0 {
        ys.iter_mut().for_each(|y| *y *= 0.45 / widest);
    }
    ys
}

/// Blue (low) through purple to red (high), the ramp `shap` colours feature values with.
fn low_high(t: f64) -> plotters::style::RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    plotters::style::RGBColor(lerp(0.0, 255.0), lerp(139.0, 0.0), lerp(251.0, 81.0))
}

/// The 5th and 95th percentiles of the finite values (min and max when those are equal): the
/// range a feature's colour ramp spans, so one outlier does not wash out the rest.
fn colour_range(v: &[f64]) -> Option<(f64, f64)> {
    let mut f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        return None;
    }
    f.sort_by(f64::total_cmp);
    let at = |q: f64| f[((f.len() - 1) as f64 * q).round() as usize];
    let (a, b) = (at(0.05), at(0.95));
    Some(if b > a {
        (a, b)
    } else {
        (f[0], f[f.len() - 1])
    })
}

/// A beeswarm of the contributions (`shap.plots.beeswarm`): one line per feature, the `k`
/// features with the largest mean |contribution| from the top, a dot per row at its
/// contribution, coloured by the row's feature value from low (blue) to high (red); grey where
/// the value is missing. It shows what the mean |SHAP| bars hide: the direction, and whether a
/// feature matters for a few customers a lot or for many a little. `x` holds the rows' feature
/// values (the model's encoded matrix); more than [`BEESWARM_MAX_ROWS`] rows are thinned by a
/// stride.
pub fn beeswarm_chart(
    title: &str,
    names: &[String],
    c: &Contributions,
    x: &ArrayView2<f64>,
    k: usize,
) -> Result<Png> {
    use crate::charts::render::{render, FAMILY};
    use plotters::prelude::*;
    if names.len() != c.n_features || x.ncols() != c.n_features || x.nrows() != c.n_rows() {
        bail!(
            data,
            "beeswarm: {} names, {} contributions per row over {} rows, but a {}x{} matrix",
            names.len(),
            c.n_features,
            c.n_rows(),
            x.nrows(),
            x.ncols()
        );
    }
    ensure!(c.n_rows() != 0, data, "beeswarm: no rows to draw");
    let rows = beeswarm_rows(c.n_rows());
    let mean_abs = c.mean_abs();
    let mut order: Vec<usize> = (0..c.n_features).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]).then(a.cmp(&b)));
    order.truncate(k.max(1));
    // Bottom to top, so the most important feature is drawn on the top line.
    order.reverse();
    let values = |f: usize| -> Vec<f64> { rows.iter().map(|&r| c.row(r)[f]).collect() };
    let (lo, hi) = order.iter().fold((0.0f64, 0.0f64), |(lo, hi), &f| {
        values(f)
            .iter()
            .fold((lo, hi), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
    });
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let lines = order.len() as i32;
    let height = (140 + 46 * order.len() as u32).min(1600);
    render(860, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(190)
            .build_cartesian_2d(lo - pad..hi + pad, -0.5f64..lines as f64 - 0.5)?;
        let label = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < order.len() {
                names[order[i as usize]].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(order.len() + 1)
            .y_label_formatter(&label)
            .x_desc("Contribution to the churn score (dot colour: the feature's value, blue low, red high)")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, -0.5), (0.0, lines as f64 - 0.5)],
            BLACK.mix(0.4),
        )))?;
        for (line, &f) in order.iter().enumerate() {
            let v = values(f);
            let ys = beeswarm_offsets(&v, lo, hi, 100);
            let fx: Vec<f64> = rows.iter().map(|&r| x[[r, f]]).collect();
            let range = colour_range(&fx);
            chart.draw_series(v.iter().zip(&ys).zip(&fx).map(|((&s, &dy), &xv)| {
                let colour = match range {
                    Some((a, b)) if xv.is_finite() => {
                        low_high(if b > a { (xv - a) / (b - a) } else { 0.5 })
                    }
                    _ => RGBColor(170, 170, 170),
                };
                Circle::new((s, line as f64 + dy), 2, colour.mix(0.8).filled())
            }))?;
        }
        Ok(())
    })
}

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
