//! Classification metrics, curves and reports, computed as scikit-learn computes them (and
//! tested against its values on fixed inputs, ties and degenerate cases included).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Counts of a binary confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// Actual 0, predicted 0.
    pub tn: usize,
    /// Actual 0, predicted 1.
    pub fp: usize,
    /// Actual 1, predicted 0.
    pub fn_: usize,
    /// Actual 1, predicted 1.
    pub tp: usize,
}

impl Confusion {
    /// Count from labels and predictions.
    ///
    /// ```
    /// let c = churnkit::evaluate::Confusion::from_labels(&[0, 0, 1, 1], &[0, 1, 1, 0]);
    /// assert_eq!((c.tn, c.fp, c.fn_, c.tp), (1, 1, 1, 1));
    /// ```
    pub fn from_labels(y: &[u8], pred: &[u8]) -> Self {
        let mut c = Confusion::default();
        for (&a, &p) in y.iter().zip(pred) {
            match (a, p) {
                (0, 0) => c.tn += 1,
                (0, _) => c.fp += 1,
                (_, 0) => c.fn_ += 1,
                _ => c.tp += 1,
            }
        }
        c
    }

    /// All rows.
    pub fn total(&self) -> usize {
        self.tn + self.fp + self.fn_ + self.tp
    }
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's `zero_division` default, without the warning).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// The headline metrics of a binary classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Precision of class 1.
    pub precision: f64,
    /// Recall of class 1.
    pub recall: f64,
    /// F1 of class 1.
    pub f1: f64,
    /// ROC AUC; `None` when only one class is present.
    pub roc_auc: Option<f64>,
}

/// Labels from probabilities: class 1 when `p > threshold` (0.5 by default, like
/// scikit-learn's `predict`, which takes the arg-max of `[1-p, p]`).
pub fn labels(proba: &[f64], threshold: f64) -> Vec<u8> {
    proba.iter().map(|&p| u8::from(p > threshold)).collect()
}

impl BinaryMetrics {
    /// Metrics of `proba` against `y` at `threshold`.
    pub fn compute(y: &[u8], proba: &[f64], threshold: f64) -> Self {
        let c = Confusion::from_labels(y, &labels(proba, threshold));
        let (tp, fp, fn_) = (c.tp as f64, c.fp as f64, c.fn_ as f64);
        BinaryMetrics {
            accuracy: ratio((c.tp + c.tn) as f64, c.total() as f64),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
            roc_auc: roc_auc(y, proba),
        }
    }
}

/// Cumulative (false positives, true positives, threshold) at each distinct score, highest first.
fn binary_clf_curve(y: &[u8], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut fps, mut tps, mut thr) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in idx.iter().enumerate() {
        if y[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_group = k + 1 == idx.len() || scores[idx[k + 1]] != scores[i];
        if last_of_group {
            fps.push(fp);
            tps.push(tp);
            thr.push(scores[i]);
        }
    }
    (fps, tps, thr)
}

/// A ROC curve: false-positive rate, true-positive rate, and the score thresholds (the first is
/// `+inf`, the (0, 0) corner). Collinear points are dropped, as scikit-learn's default does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False-positive rates, increasing.
    pub fpr: Vec<f64>,
    /// True-positive rates, increasing.
    pub tpr: Vec<f64>,
    /// Thresholds, decreasing.
    pub thresholds: Vec<f64>,
}

/// The ROC curve, or `None` when `y` lacks one of the classes (the curve is undefined).
pub fn roc_curve(y: &[u8], scores: &[f64]) -> Option<RocCurve> {
    let (mut fps, mut tps, mut thr) = binary_clf_curve(y, scores);
    let (p, n) = (*tps.last()?, *fps.last()?);
    if p == 0.0 || n == 0.0 {
        return None;
    }
    if fps.len() > 2 {
        let keep: Vec<usize> = (0..fps.len())
            .filter(|&i| {
                i == 0
                    || i + 1 == fps.len()
                    || fps[i - 1] - 2.0 * fps[i] + fps[i + 1] != 0.0
                    || tps[i - 1] - 2.0 * tps[i] + tps[i + 1] != 0.0
            })
            .collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
        thr = keep.iter().map(|&i| thr[i]).collect();
    }
    let mut c = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    c.fpr.extend(fps.iter().map(|v| v / n));
    c.tpr.extend(tps.iter().map(|v| v / p));
    c.thresholds.extend(thr);
    Some(c)
}

/// Area under the ROC curve (trapezoids, ties handled as one step), or `None` when only one
/// class is present.
///
/// ```
/// use churnkit::evaluate::roc_auc;
/// assert_eq!(roc_auc(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
/// assert_eq!(roc_auc(&[1, 1], &[0.2, 0.3]), None);
/// ```
pub fn roc_auc(y: &[u8], scores: &[f64]) -> Option<f64> {
    let c = roc_curve(y, scores)?;
    Some(
        c.fpr
            .windows(2)
            .zip(c.tpr.windows(2))
            .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
            .sum(),
    )
}

/// A precision-recall curve as scikit-learn returns it: precision and recall for decreasing
/// recall, ending at (recall 0, precision 1); thresholds increasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    /// Precision per point.
    pub precision: Vec<f64>,
    /// Recall per point.
    pub recall: Vec<f64>,
    /// Score thresholds (one fewer than points).
    pub thresholds: Vec<f64>,
}

/// The precision-recall curve, or `None` when there is no positive row (recall undefined).
pub fn precision_recall_curve(y: &[u8], scores: &[f64]) -> Option<PrCurve> {
    let (fps, tps, thr) = binary_clf_curve(y, scores);
    let p = *tps.last()?;
    if p == 0.0 {
        return None;
    }
    let mut precision: Vec<f64> = tps
        .iter()
        .zip(&fps)
        .map(|(t, f)| ratio(*t, t + f))
        .rev()
        .collect();
    let mut recall: Vec<f64> = tps.iter().map(|t| t / p).rev().collect();
    precision.push(1.0);
    recall.push(0.0);
    Some(PrCurve {
        precision,
        recall,
        thresholds: thr.into_iter().rev().collect(),
    })
}

/// Average precision: sum over thresholds of (recall step) x precision, no interpolation.
/// `None` when there is no positive row.
pub fn average_precision(y: &[u8], scores: &[f64]) -> Option<f64> {
    let c = precision_recall_curve(y, scores)?;
    Some(
        -c.recall
            .windows(2)
            .zip(&c.precision)
            .map(|(r, p)| (r[1] - r[0]) * p)
            .sum::<f64>(),
    )
}

/// scikit-learn's `classification_report(y, pred, output_dict=True)` for labels 0 and 1:
/// keys `"0"`, `"1"`, `"accuracy"`, `"macro avg"`, `"weighted avg"`.
pub fn classification_report(y: &[u8], pred: &[u8]) -> Value {
    let c = Confusion::from_labels(y, pred);
    let per_class = |tp: usize, fp: usize, fn_: usize| {
        let (tp, fp, fn_) = (tp as f64, fp as f64, fn_ as f64);
        (
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_),
            ratio(2.0 * tp, 2.0 * tp + fp + fn_),
        )
    };
    let c0 = per_class(c.tn, c.fn_, c.fp);
    let c1 = per_class(c.tp, c.fp, c.fn_);
    let (s0, s1) = (c.tn + c.fp, c.tp + c.fn_);
    let total = (s0 + s1) as f64;
    let entry = |(p, r, f): (f64, f64, f64), s: usize| json!({"precision": p, "recall": r, "f1-score": f, "support": s});
    let w = |a: f64, b: f64| ratio(a * s0 as f64 + b * s1 as f64, total);
    json!({
        "0": entry(c0, s0),
        "1": entry(c1, s1),
        "accuracy": ratio((c.tp + c.tn) as f64, total),
        "macro avg": entry(((c0.0 + c1.0) / 2.0, (c0.1 + c1.1) / 2.0, (c0.2 + c1.2) / 2.0), s0 + s1),
        "weighted avg": entry((w(c0.0, c1.0), w(c0.1, c1.1), w(c0.2, c1.2)), s0 + s1),
    })
}

/// The guide's eight business figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BusinessMetrics {
    /// Customers scored.
    pub total_customers: usize,
    /// Customers who churned.
    pub actual_churners: usize,
    /// Customers flagged as churners.
    pub predicted_churners: usize,
    /// Churners flagged (true positives).
    pub correctly_identified: usize,
    /// Churners not flagged (false negatives).
    pub missed_churners: usize,
    /// Loyal customers flagged (false positives).
    pub false_alarms: usize,
    /// correctly_identified / actual_churners (recall).
    pub churn_detection_rate: f64,
    /// false_alarms / loyal customers (false-positive rate).
    pub false_alarm_rate: f64,
}

impl BusinessMetrics {
    /// From a confusion matrix.
    pub fn from_confusion(c: &Confusion) -> Self {
        BusinessMetrics {
            total_customers: c.total(),
            actual_churners: c.tp + c.fn_,
            predicted_churners: c.tp + c.fp,
            correctly_identified: c.tp,
            missed_churners: c.fn_,
            false_alarms: c.fp,
            churn_detection_rate: ratio(c.tp as f64, (c.tp + c.fn_) as f64),
            false_alarm_rate: ratio(c.fp as f64, (c.fp + c.tn) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(roc_auc(&[], &[]), None);
        assert_eq!(roc_auc(&[0, 0, 0], &[0.1, 0.2, 0.3]), None);
        assert_eq!(roc_auc(&[0, 1, 0, 1], &[0.5; 4]), Some(0.5));
        assert_eq!(average_precision(&[0, 0], &[0.1, 0.9]), None);
        assert_eq!(average_precision(&[1, 1], &[0.1, 0.9]), Some(1.0));
        let m = BinaryMetrics::compute(&[0, 0], &[0.9, 0.1], 0.5);
        assert_eq!(
            (m.precision, m.recall, m.f1, m.roc_auc),
            (0.0, 0.0, 0.0, None)
        );
        let r = classification_report(&[1, 1], &[1, 1]);
        assert_eq!(r["0"]["support"], 0);
        assert_eq!(r["1"]["f1-score"], 1.0);
    }

    #[test]
    fn perfect_and_inverted_scores() {
        let y = [0, 0, 1, 1];
        assert_eq!(roc_auc(&y, &[0.1, 0.2, 0.8, 0.9]), Some(1.0));
        assert_eq!(roc_auc(&y, &[0.9, 0.8, 0.2, 0.1]), Some(0.0));
    }

    #[test]
    fn business_metrics_follow_the_confusion_matrix() {
        let c = Confusion {
            tn: 50,
            fp: 10,
            fn_: 5,
            tp: 15,
        };
        let b = BusinessMetrics::from_confusion(&c);
        assert_eq!(b.total_customers, 80);
        assert_eq!(b.actual_churners, 20);
        assert_eq!(b.predicted_churners, 25);
        assert_eq!(b.churn_detection_rate, 0.75);
        assert!((b.false_alarm_rate - 10.0 / 60.0).abs() < 1e-15);
    }
}
