//! Permutation importance: how much a model's test ROC AUC drops when one feature's values are
//! shuffled across the rows, breaking its link with churn (scikit-learn's
//! `permutation_importance`, with ROC AUC as the score). Unlike the Gini importance it is measured
//! on rows the model did not train on, and it does not favour features with many split points.

use crate::charts::render::Png;
use crate::charts::summary::ranked_bars;
use crate::data::frame::Frame;
use crate::ensure;
use crate::error::{Error, Result};
use crate::metrics::classification::roc_auc;
use crate::model::Model;
use crate::rng::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Permutation importances of every feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermutationImportance {
    /// Feature names, in the model's order.
    pub features: Vec<String>,
    /// Mean drop of ROC AUC over the repeats, per feature.
    pub mean: Vec<f64>,
    /// Standard deviation of the drop over the repeats (population, as scikit-learn's
    /// `importances_std`).
    pub sd: Vec<f64>,
    /// Shuffles per feature.
    pub repeats: usize,
    /// ROC AUC with nothing shuffled.
    pub baseline: f64,
    /// Rows it was measured on (at most [`MAX_ROWS`] of those given).
    #[serde(default)]
    pub rows: usize,
}

/// Rows permutation importance is measured on at most: a seeded sample of the test rows beyond
/// that. Each feature costs `repeats` predictions of every row; at 2M test rows (10M-row data)
/// that was most of the whole job, and 50,000 rows pin an AUC drop down to about 0.002 (the sd
/// over repeats says how well).
pub const MAX_ROWS: usize = 50_000;

impl PermutationImportance {
    /// Shuffle each feature of `x` `repeats` times (seeded: the same seed gives the same
    /// shuffles on any thread count) and measure the drop of `model`'s ROC AUC on labels `y`.
    pub fn compute(model: &Model, x: &Frame, y: &[u8], repeats: usize, seed: u64) -> Result<Self> {
        model.check_features(&x.names)?;
        ensure!(
            repeats != 0,
            params,
            "permutation importance needs at least one repeat",
        );
        let sampled;
        let (x, y) = if x.n_rows() > MAX_ROWS {
            let mut rows: Vec<usize> = (0..x.n_rows()).collect();
            Rng::for_stream(seed, u64::MAX).shuffle(&mut rows);
            rows.truncate(MAX_ROWS);
            rows.sort_unstable();
            sampled = (
                x.take(&rows),
                rows.iter().map(|&i| y[i]).collect::<Vec<u8>>(),
            );
            (&sampled.0, &sampled.1[..])
        } else {
            (x, y)
        };
        let base_scores = model.predict(x)?;
        let baseline = roc_auc(y, &base_scores).ok_or_else(|| {
            Error::data("permutation importance needs both churners and non-churners")
        })?;
        let m = x.n_cols();
        let drops: Vec<f64> = (0..m * repeats)
            .into_par_iter()
            .map(|job| {
                let f = job / repeats;
                let mut rng = Rng::for_stream(seed, job as u64);
                let mut shuffled = x.clone();
                rng.shuffle(&mut shuffled.columns[f]);
                let p = model.predict(&shuffled).expect("same features as checked");
                baseline - roc_auc(y, &p).unwrap_or(0.5)
            })
            .collect();
        let mut mean = vec![0.0; m];
        let mut sd = vec![0.0; m];
        for f in 0..m {
            let d = &drops[f * repeats..(f + 1) * repeats];
            let mu = d.iter().sum::<f64>() / repeats as f64;
            mean[f] = mu;
            sd[f] = (d.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / repeats as f64).sqrt();
        }
        Ok(PermutationImportance {
            features: x.names.clone(),
            mean,
            sd,
            repeats,
            baseline,
            rows: y.len(),
        })
    }

    /// `feature,mean,sd` rows, largest mean first.
    pub fn to_csv(&self) -> String {
        let mut order: Vec<usize> = (0..self.features.len()).collect();
        order.sort_by(|&a, &b| self.mean[b].total_cmp(&self.mean[a]).then(a.cmp(&b)));
        let mut out = String::from("feature,auc_drop_mean,auc_drop_sd\n");
        for i in order {
            out.push_str(&format!(
                "{},{},{}\n",
                self.features[i], self.mean[i], self.sd[i]
            ));
        }
        out
    }

    /// Bars of the mean drop, largest first.
    pub fn chart(&self) -> Result<Png> {
        ranked_bars(
            &format!(
                "Permutation importance (test ROC AUC drop, {} shuffles, {} rows)",
                self.repeats, self.rows
            ),
            "Drop of ROC AUC when the feature is shuffled",
            &self.features,
            &self.mean,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::RandomForestParams;
    use crate::model::ModelKind;
    use linfa::ParamGuard;

    #[test]
    fn a_feature_that_decides_churn_matters_and_noise_does_not() {
        let mut r = Rng::new(4);
        let n = 3000;
        let signal: Vec<f64> = (0..n).map(|_| r.uniform()).collect();
        let noise: Vec<f64> = (0..n).map(|_| r.uniform()).collect();
        let y: Vec<u8> = signal
            .iter()
            .map(|&s| u8::from(s + 0.3 * r.uniform() > 0.65))
            .collect();
        let x = Frame {
            names: vec!["signal".into(), "noise".into()],
            columns: vec![signal, noise],
        };
        let params = RandomForestParams::new().n_estimators(30).check().unwrap();
        let model = Model::fit(ModelKind::RandomForest, &params, &x, &y, &|| {}).unwrap();
        let p = PermutationImportance::compute(&model, &x, &y, 5, 1).unwrap();
        assert!(p.mean[0] > 0.2, "signal {}", p.mean[0]);
        assert!(p.mean[1].abs() < 0.02, "noise {}", p.mean[1]);
        assert!(p.sd.iter().all(|s| *s >= 0.0));
        let again = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| PermutationImportance::compute(&model, &x, &y, 5, 1).unwrap());
        assert_eq!(again, p, "the same on one thread");
        assert!(p
            .to_csv()
            .starts_with("feature,auc_drop_mean,auc_drop_sd\nsignal,"));
        assert!(PermutationImportance::compute(&model, &x, &y, 0, 1).is_err());
        assert_eq!(p.rows, n);
    }

    #[test]
    fn more_rows_than_the_cap_are_sampled_the_same_way_every_time() {
        let mut r = Rng::new(9);
        let n = MAX_ROWS + 10_000;
        let signal: Vec<f64> = (0..n).map(|_| r.uniform()).collect();
        let y: Vec<u8> = signal.iter().map(|&s| u8::from(s > 0.5)).collect();
        let x = Frame {
            names: vec!["signal".into(), "flat".into()],
            columns: vec![signal, vec![1.0; n]],
        };
        let params = RandomForestParams::new()
            .n_estimators(3)
            .max_depth(Some(3))
            .check()
            .unwrap();
        let model = Model::fit(ModelKind::RandomForest, &params, &x, &y, &|| {}).unwrap();
        let p = PermutationImportance::compute(&model, &x, &y, 2, 1).unwrap();
        assert_eq!(p.rows, MAX_ROWS);
        assert!(p.mean[0] > 0.3 && p.mean[1] == 0.0, "{:?}", p.mean);
        assert_eq!(
            p,
            PermutationImportance::compute(&model, &x, &y, 2, 1).unwrap()
        );
    }
}
