//! Permutation importance: how much a model's test ROC AUC drops when one feature's values are
//! shuffled across the rows, breaking its link with churn (scikit-learn's
//! `permutation_importance`, with ROC AUC as the score). Unlike the Gini importance it is measured
//! on rows the model did not train on, and it does not favour features with many split points.

use crate::error::{Error, Result};
use crate::evaluate::roc_auc;
use crate::frame::Frame;
use crate::model::Model;
use crate::plots::{ranked_bars, Png};
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
}

impl PermutationImportance {
    /// Shuffle each feature of `x` `repeats` times (seeded: the same seed gives the same
    /// shuffles on any thread count) and measure the drop of `model`'s ROC AUC on labels `y`.
    pub fn compute(model: &Model, x: &Frame, y: &[u8], repeats: usize, seed: u64) -> Result<Self> {
        model.check_features(&x.names)?;
        if repeats == 0 {
            return Err(Error::params(
                "permutation importance needs at least one repeat",
            ));
        }
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
                "Permutation importance (test ROC AUC drop, {} shuffles)",
                self.repeats
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
    }
}
