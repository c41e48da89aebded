//! Sweeps: a grid of hyperparameters expanded into checked params, trained in parallel.

use super::train::{train, TrainSpec, Trained};
use churnkit_core::ensure;
use churnkit_core::forest::RandomForestValidParams;
use churnkit_core::model::ModelKind;
use churnkit_core::preprocess::Processed;
use churnkit_core::Result;

/// A grid of forest hyperparameters: every combination of the values given (one default value
/// for each hyperparameter not given).
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{train_grid, Grid};
/// let grid = Grid::new().max_depth([Some(4), Some(8), None]).min_samples_leaf([1, 5]);
/// assert_eq!(grid.params()?.len(), 6);
/// let (csv, _) = churnkit::generate::generate_rows(400, 1);
/// let table = Table::from_csv_bytes(csv, "g.csv")?;
/// let data = Processed::fit(&table, &Schema::infer(&table, "Churn", None)?, SplitOptions::default())?;
/// let small = Grid::new().n_estimators([10]).max_depth([Some(3), Some(6)]);
/// let results = train_grid(&data, ModelKind::RandomForest, &small.params()?)?; // in parallel
/// assert_eq!(results[1].model().params.max_depth(), Some(6));
/// # Ok::<(), churnkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    n_estimators: Vec<usize>,
    max_depth: Vec<Option<usize>>,
    min_samples_split: Vec<usize>,
    min_samples_leaf: Vec<usize>,
    max_features: Vec<churnkit_core::forest::MaxFeatures>,
    bootstrap: Vec<bool>,
    seed: u64,
}

impl Default for Grid {
    fn default() -> Self {
        Grid::new()
    }
}

impl Grid {
    /// One combination: the defaults of [`churnkit_core::forest::RandomForestParams`].
    pub fn new() -> Grid {
        use churnkit_core::linfa::ParamGuard;
        let d = churnkit_core::forest::RandomForestParams::new()
            .check()
            .expect("defaults are valid");
        Grid {
            n_estimators: vec![d.n_estimators()],
            max_depth: vec![d.max_depth()],
            min_samples_split: vec![d.min_samples_split()],
            min_samples_leaf: vec![d.min_samples_leaf()],
            max_features: vec![d.max_features()],
            bootstrap: vec![d.bootstrap()],
            seed: d.seed(),
        }
    }

    /// Values of `n_estimators` to try.
    pub fn n_estimators(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.n_estimators = v.into_iter().collect();
        self
    }

    /// Values of `max_depth` to try (`None`: unlimited).
    pub fn max_depth(mut self, v: impl IntoIterator<Item = Option<usize>>) -> Grid {
        self.max_depth = v.into_iter().collect();
        self
    }

    /// Values of `min_samples_split` to try.
    pub fn min_samples_split(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.min_samples_split = v.into_iter().collect();
        self
    }

    /// Values of `min_samples_leaf` to try.
    pub fn min_samples_leaf(mut self, v: impl IntoIterator<Item = usize>) -> Grid {
        self.min_samples_leaf = v.into_iter().collect();
        self
    }

    /// Values of `max_features` to try.
    pub fn max_features(
        mut self,
        v: impl IntoIterator<Item = churnkit_core::forest::MaxFeatures>,
    ) -> Grid {
        self.max_features = v.into_iter().collect();
        self
    }

    /// Values of `bootstrap` to try (`false`: every tree sees every training row; no
    /// out-of-bag scores then).
    pub fn bootstrap(mut self, v: impl IntoIterator<Item = bool>) -> Grid {
        self.bootstrap = v.into_iter().collect();
        self
    }

    /// The forest seed of every combination.
    pub fn seed(mut self, s: u64) -> Grid {
        self.seed = s;
        self
    }

    /// Every combination, checked, in a fixed order (the last hyperparameter varies fastest).
    pub fn params(&self) -> Result<Vec<RandomForestValidParams>> {
        use churnkit_core::linfa::ParamGuard;
        let mut out = Vec::new();
        for &n in &self.n_estimators {
            for &d in &self.max_depth {
                for &s in &self.min_samples_split {
                    for &l in &self.min_samples_leaf {
                        for &f in &self.max_features {
                            for &b in &self.bootstrap {
                                out.push(
                                    churnkit_core::forest::RandomForestParams::new()
                                        .n_estimators(n)
                                        .max_depth(d)
                                        .min_samples_split(s)
                                        .min_samples_leaf(l)
                                        .max_features(f)
                                        .bootstrap(b)
                                        .seed(self.seed)
                                        .check()?,
                                );
                            }
                        }
                    }
                }
            }
        }
        ensure!(
            !out.is_empty(),
            params,
            "the grid is empty: every hyperparameter needs at least one value",
        );
        Ok(out)
    }
}

/// Train one model per hyperparameter set, in parallel (each result is the same as a lone
/// [`train`] with those parameters, whatever the thread count), in the order given.
pub fn train_grid(
    data: &Processed,
    kind: ModelKind,
    params: &[RandomForestValidParams],
) -> Result<Vec<Trained>> {
    use rayon::prelude::*;
    params
        .par_iter()
        .map(|p| train(data, TrainSpec::new(p.clone()).model(kind)))
        .collect()
}
