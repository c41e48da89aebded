//! Fitting a forest: bin the features, grow the trees in parallel (each from its own seeded
//! stream), optionally score the training rows as they grow, and average the importances.

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::prelude::*;
use ndarray::{ArrayBase, ArrayView2, Data, Ix2};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::binning::BinnedFeatures;
use super::fitted::RandomForest;
use super::grow::{Grower, Sample, Stats, CARRY_FROM_BYTES, CARRY_MAX};
use super::oob::{walk_rows, ScoreSums, TrainingScores, TreeRows};
use super::params::{bad_data, bad_params, RandomForestValidParams};
use super::rows::Rows;
use super::tree::Tree;
use crate::error::{Error, Result};

/// A grown tree and its unnormalised Gini importances.
pub(super) type Grown = (Tree, Vec<f64>);

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

    pub(super) fn grow_tree<R: Rows + ?Sized>(
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
    pub(super) fn grow_tree_carrying<R: Rows + ?Sized>(
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
