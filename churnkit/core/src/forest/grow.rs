//! Growing one tree: depth-first over an index array partitioned in place, per-node histograms
//! of a fresh random subset of features, Gini gain, and the missing-value direction of each split.

use super::binning::{BinnedFeatures, MISSING_CODE};
use super::params::RandomForestValidParams;
use super::tree::Tree;
use crate::rng::Rng;

#[derive(Clone, Copy)]
pub(super) struct Sample {
    pub(super) row: u32,
    /// Bootstrap count in the low 31 bits, the label in the top bit: 8-byte samples halve the
    /// memory traffic of histogram passes and partitions.
    pub(super) wy: u32,
}

impl Sample {
    #[inline]
    pub(super) fn w(self) -> u32 {
        self.wy & 0x7FFF_FFFF
    }
    #[inline]
    pub(super) fn p(self) -> u32 {
        (self.wy >> 31) * self.w()
    }
}

/// Sample count, weighted count and weighted positives of a node or bin (u32: a fit is
/// limited to 2^31 rows).
#[derive(Clone, Copy, Default)]
pub(super) struct Stats {
    pub(super) n: u32,
    pub(super) w: u32,
    pub(super) p: u32,
}

impl Stats {
    pub(super) fn gini(&self) -> f64 {
        if self.w == 0 {
            return 0.0;
        }
        let q = self.p as f64 / self.w as f64;
        2.0 * q * (1.0 - q)
    }
}

pub(super) struct Split {
    pub(super) feature: usize,
    /// Value bins `..=bin` go left.
    pub(super) bin: usize,
    /// The next bin holding samples of this node: the threshold sits between the two, as
    /// scikit-learn puts it between neighbouring values of the node. `None` for the split of
    /// missing from present values.
    pub(super) next: Option<usize>,
    pub(super) missing_left: bool,
    /// Rows of the node whose value of `feature` is missing.
    pub(super) n_missing: u32,
    pub(super) left: Stats,
    pub(super) right: Stats,
}

impl Stats {
    pub(super) fn add(self, o: Stats) -> Stats {
        Stats {
            n: self.n + o.n,
            w: self.w + o.w,
            p: self.p + o.p,
        }
    }

    pub(super) fn sub(self, o: Stats) -> Stats {
        Stats {
            n: self.n - o.n,
            w: self.w - o.w,
            p: self.p - o.p,
        }
    }
}

/// Tables with at most this many features carry each sample's codes with it (see
/// `Grower::carried`) ...
pub(super) const CARRY_MAX: usize = 16;
/// ... when their codes (a byte per row and feature) outgrow a typical last-level cache share.
/// Measured on 6 features: at 1M rows (4.8 MB, in cache) carrying made the fit 1.75x slower,
/// moving the codes costing more than the jumps it saves; at 10M rows (48 MB) 1.7x faster.
pub(super) const CARRY_FROM_BYTES: usize = 16 << 20;

pub(super) struct Grower<'a> {
    pub(super) x: &'a BinnedFeatures,
    pub(super) p: &'a RandomForestValidParams,
    pub(super) max_features: usize,
    pub(super) rng: Rng,
    pub(super) tree: Tree,
    pub(super) importance: Vec<f64>,
    pub(super) features: Vec<usize>,
    pub(super) hist: Vec<Stats>,
    /// Each sample's codes of every feature, `m` bytes a sample, moved with the sample when a
    /// node is partitioned (empty for wider tables). A histogram pass then reads a node's codes
    /// in order instead of jumping through a column by row: once the columns outgrow the cache
    /// (10M rows: 8 MB a feature), every jump was a trip to memory.
    pub(super) carried: Vec<u8>,
    pub(super) m: usize,
    /// When the training rows are scored as the tree grows: each leaf as (node, start, end) of
    /// its samples.
    pub(super) leaves: Option<Vec<(u32, u32, u32)>>,
}

impl Grower<'_> {
    pub(super) fn new_node(&mut self, s: &Stats) -> usize {
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
    pub(super) fn best_split(
        &mut self,
        samples: &[Sample],
        start: usize,
        total: &Stats,
    ) -> Option<Split> {
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

    pub(super) fn grow(&mut self, samples: &mut [Sample]) {
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

pub(super) fn stats_of(samples: &[Sample]) -> Stats {
    samples.iter().fold(Stats::default(), |mut s, x| {
        s.n += 1;
        s.w += x.w();
        s.p += x.p();
        s
    })
}
