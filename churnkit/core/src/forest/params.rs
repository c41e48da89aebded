//! Hyperparameters: what a user sets ([`RandomForestParams`]), checked once into the values a
//! fit trusts ([`RandomForestValidParams`]), and the bootstrap each tree draws from them.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Value bins a feature can have: code 255 is kept for a missing value.
pub const MAX_VALUE_BINS: usize = 255;

pub(super) fn bad_params(message: impl std::fmt::Display) -> Error {
    Error::params(format!("invalid hyperparameter: {message}"))
}

pub(super) fn bad_data(message: impl std::fmt::Display) -> Error {
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
    pub(super) n_estimators: usize,
    pub(super) max_depth: Option<usize>,
    pub(super) min_samples_split: usize,
    pub(super) min_samples_leaf: usize,
    pub(super) max_features: MaxFeatures,
    pub(super) bootstrap: bool,
    pub(super) seed: u64,
    pub(super) max_bins: usize,
    #[serde(skip)]
    pub(super) n_threads: Option<usize>,
}

/// The serialised form of the params, checked on the way in.
#[derive(Deserialize)]
pub(super) struct ParamsRepr {
    pub(super) n_estimators: usize,
    pub(super) max_depth: Option<usize>,
    pub(super) min_samples_split: usize,
    pub(super) min_samples_leaf: usize,
    pub(super) max_features: MaxFeatures,
    pub(super) bootstrap: bool,
    pub(super) seed: u64,
    pub(super) max_bins: usize,
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

impl RandomForestValidParams {
    /// Tree `index`'s bootstrap over `n` rows as per-row counts, and its random stream after the
    /// draws (the same stream then picks the features). Out-of-bag scoring redraws it.
    pub(super) fn bootstrap_counts(&self, n: usize, index: u64) -> (Vec<u8>, Rng) {
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
}
