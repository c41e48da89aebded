//! Confidence-based performance estimation (CBPE, as NannyML does it): with calibrated
//! probabilities, each unlabelled customer counts as p churner and 1 - p stayer, so the expected
//! confusion matrix, and the figures from it, can be estimated before the labels arrive.

use serde::Serialize;

/// Estimated figures on an unlabelled batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimated {
    /// Expected accuracy at the threshold.
    pub accuracy: f64,
    /// Expected precision.
    pub precision: f64,
    /// Expected recall.
    pub recall: f64,
    /// Expected F1.
    pub f1: f64,
    /// Expected ROC AUC: the chance a churner (weight p) outscores a stayer (weight 1 - p).
    pub roc_auc: f64,
    /// The threshold the decisions are taken at.
    pub threshold: f64,
    /// Expected churn rate (mean probability).
    pub churn_rate: f64,
}

/// CBPE from calibrated probabilities `p` (the scores are the probabilities).
///
/// ```
/// use churnkit_core::monitor::cbpe;
/// let e = cbpe(&[0.9, 0.8, 0.1, 0.2], 0.5);
/// assert!((e.churn_rate - 0.5).abs() < 1e-12);
/// assert!((e.accuracy - 0.85).abs() < 1e-12);
/// ```
pub fn cbpe(p: &[f64], threshold: f64) -> Estimated {
    let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
    for &q in p {
        if q >= threshold {
            tp += q;
            fp += 1.0 - q;
        } else {
            fn_ += q;
            tn += 1.0 - q;
        }
    }
    let n = p.len() as f64;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    // AUC: sum over pairs of w+_i w-_j [s_i > s_j] (+ half on ties) / (sum w+)(sum w-), in
    // one pass over the scores in increasing order.
    let mut sorted: Vec<f64> = p.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mut below_neg, mut num) = (0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let s = sorted[i];
        let (mut pos, mut neg) = (0.0, 0.0);
        while i < sorted.len() && sorted[i] == s {
            pos += sorted[i];
            neg += 1.0 - sorted[i];
            i += 1;
        }
        num += pos * (below_neg + 0.5 * neg);
        below_neg += neg;
    }
    let (total_pos, total_neg) = (tp + fn_, fp + tn);
    Estimated {
        accuracy: if n > 0.0 { (tp + tn) / n } else { f64::NAN },
        precision,
        recall,
        f1,
        roc_auc: if total_pos > 0.0 && total_neg > 0.0 {
            num / (total_pos * total_neg)
        } else {
            f64::NAN
        },
        threshold,
        churn_rate: if n > 0.0 { total_pos / n } else { f64::NAN },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn estimates_match_realised_figures_when_calibrated() {
        // Labels drawn from the probabilities themselves: calibrated by construction.
        let mut rng = Rng::new(9);
        let n = 100_000;
        let p: Vec<f64> = (0..n).map(|_| rng.uniform().powi(2)).collect();
        let y: Vec<u8> = p.iter().map(|&q| u8::from(rng.uniform() < q)).collect();
        let e = cbpe(&p, 0.5);
        let auc = crate::evaluate::roc_auc(&y, &p).unwrap();
        assert!((e.roc_auc - auc).abs() < 0.01, "{} vs {auc}", e.roc_auc);
        let acc = p
            .iter()
            .zip(&y)
            .filter(|(q, l)| u8::from(**q >= 0.5) == **l)
            .count() as f64
            / n as f64;
        assert!((e.accuracy - acc).abs() < 0.01, "{} vs {acc}", e.accuracy);
    }
}
