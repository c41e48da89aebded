//! Classification metrics, curves and reports, computed as scikit-learn computes them (and
//! tested against its values on fixed inputs, ties and degenerate cases included).

use crate::charts::classifier as plots;
use crate::charts::render::Png;
use crate::error::Result;
use crate::preprocess::TargetEncoding;
use serde::{Deserialize, Serialize};

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
    /// let c = churnkit_core::evaluate::Confusion::from_labels(&[0, 0, 1, 1], &[0, 1, 1, 0]);
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
pub(crate) fn binary_clf_curve(y: &[u8], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    assert_eq!(y.len(), scores.len(), "one score per label");
    // Scores in decreasing `total_cmp` order, as integers sorted in place with their labels
    // (an index sort reading the scores through the indices was slower at 800k rows). Stable,
    // so NaN scores (each its own group) keep their row order.
    let order = |b: u64| b ^ (((b as i64 >> 63) as u64) >> 1);
    let mut keyed: Vec<(u64, u8)> = scores
        .iter()
        .zip(y)
        .map(|(s, &l)| (!(order(s.to_bits()) ^ (1 << 63)), l))
        .collect();
    keyed.sort_by_key(|&(k, _)| k);
    let score = |k: u64| f64::from_bits(order(!k ^ (1 << 63)));
    let (mut fps, mut tps, mut thr) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &(k, label)) in keyed.iter().enumerate() {
        if label == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let s = score(k);
        let last_of_group = keyed.get(i + 1).is_none_or(|&(next, _)| score(next) != s);
        if last_of_group {
            fps.push(fp);
            tps.push(tp);
            thr.push(s);
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
/// use churnkit_core::evaluate::roc_auc;
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

/// Precision, recall, F1 and support of one class (or an average), in scikit-learn's names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// F1 score.
    #[serde(rename = "f1-score")]
    pub f1_score: f64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// Rows of the class (all rows for the averages).
    pub support: usize,
}

/// scikit-learn's `classification_report(y, pred, output_dict=True)` for labels 0 and 1. Its
/// JSON has scikit-learn's keys: `"0"`, `"1"`, `"accuracy"`, `"macro avg"`, `"weighted avg"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Class 0.
    #[serde(rename = "0")]
    pub class_0: ClassMetrics,
    /// Class 1.
    #[serde(rename = "1")]
    pub class_1: ClassMetrics,
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Unweighted mean of the two classes.
    #[serde(rename = "macro avg")]
    pub macro_avg: ClassMetrics,
    /// Support-weighted mean of the two classes.
    #[serde(rename = "weighted avg")]
    pub weighted_avg: ClassMetrics,
}

impl ClassificationReport {
    /// The report of predictions `pred` against labels `y`.
    ///
    /// ```
    /// let r = churnkit_core::evaluate::ClassificationReport::new(&[0, 0, 1, 1], &[0, 1, 1, 1]);
    /// assert_eq!(r.class_1.precision, 2.0 / 3.0);
    /// assert_eq!(r.accuracy, 0.75);
    /// ```
    pub fn new(y: &[u8], pred: &[u8]) -> Self {
        let c = Confusion::from_labels(y, pred);
        let class = |tp: usize, fp: usize, fn_: usize, support: usize| {
            let (tp, fp, fn_) = (tp as f64, fp as f64, fn_ as f64);
            ClassMetrics {
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, tp + fn_),
                f1_score: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
                support,
            }
        };
        let (s0, s1) = (c.tn + c.fp, c.tp + c.fn_);
        let c0 = class(c.tn, c.fn_, c.fp, s0);
        let c1 = class(c.tp, c.fp, c.fn_, s1);
        let total = (s0 + s1) as f64;
        let w = |a: f64, b: f64| ratio(a * s0 as f64 + b * s1 as f64, total);
        ClassificationReport {
            class_0: c0,
            class_1: c1,
            accuracy: ratio((c.tp + c.tn) as f64, total),
            macro_avg: ClassMetrics {
                precision: (c0.precision + c1.precision) / 2.0,
                recall: (c0.recall + c1.recall) / 2.0,
                f1_score: (c0.f1_score + c1.f1_score) / 2.0,
                support: s0 + s1,
            },
            weighted_avg: ClassMetrics {
                precision: w(c0.precision, c1.precision),
                recall: w(c0.recall, c1.recall),
                f1_score: w(c0.f1_score, c1.f1_score),
                support: s0 + s1,
            },
        }
    }

    /// Pretty JSON in scikit-learn's layout (`classification_report.json`).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("report serializes")
    }
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

impl BusinessMetrics {
    /// Pretty JSON (`business_metrics.json`).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("metrics serialize")
    }
}

/// Display names of the two classes for charts: `No churn (0)` / `Churn (1)` for a 0/1 target,
/// else the target's own values (`No (0)` / `Yes (1)`).
pub fn class_names(target: &TargetEncoding) -> [String; 2] {
    if target.positive == "1" && target.negative == "0" {
        ["No churn (0)".to_string(), "Churn (1)".to_string()]
    } else {
        [
            format!("{} (0)", target.negative),
            format!("{} (1)", target.positive),
        ]
    }
}

/// A model's scores on labelled rows, and everything computed from them at one threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Probability above which a row is predicted positive.
    pub threshold: f64,
    /// Labels.
    pub y: Vec<u8>,
    /// Class-1 probabilities.
    pub proba: Vec<f64>,
    /// Headline metrics.
    pub metrics: BinaryMetrics,
    /// Average precision (`None` with no positive row).
    pub average_precision: Option<f64>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// The guide's business figures.
    pub business: BusinessMetrics,
    /// scikit-learn's classification report.
    pub report: ClassificationReport,
    /// The ROC curve (`None` with one class only).
    pub roc: Option<RocCurve>,
    /// The precision-recall curve (`None` with no positive row).
    pub pr: Option<PrCurve>,
    /// Class names for charts, class 0 first.
    pub class_names: [String; 2],
}

/// The three evaluation charts as PNG bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charts {
    /// Confusion-matrix heatmap.
    pub confusion_matrix: Png,
    /// ROC curve with its AUC.
    pub roc_curve: Png,
    /// Precision-recall curve with the average precision and the base rate.
    pub precision_recall_curve: Png,
}

impl Evaluation {
    /// Evaluate scores `proba` against labels `y` at `threshold`.
    ///
    /// ```
    /// use churnkit_core::evaluate::Evaluation;
    /// let names = ["stays".to_string(), "churns".to_string()];
    /// let e = Evaluation::new(vec![0, 0, 1, 1], vec![0.1, 0.6, 0.7, 0.9], 0.5, names);
    /// assert_eq!((e.confusion.fp, e.confusion.tp), (1, 2));
    /// assert_eq!(e.metrics.roc_auc, Some(1.0));
    /// ```
    pub fn new(y: Vec<u8>, proba: Vec<f64>, threshold: f64, class_names: [String; 2]) -> Self {
        let pred = labels(&proba, threshold);
        let confusion = Confusion::from_labels(&y, &pred);
        Evaluation {
            threshold,
            metrics: BinaryMetrics::compute(&y, &proba, threshold),
            average_precision: average_precision(&y, &proba),
            business: BusinessMetrics::from_confusion(&confusion),
            report: ClassificationReport::new(&y, &pred),
            roc: roc_curve(&y, &proba),
            pr: precision_recall_curve(&y, &proba),
            confusion,
            class_names,
            y,
            proba,
        }
    }

    /// Share of positive labels.
    pub fn prevalence(&self) -> f64 {
        self.y.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y.len().max(1) as f64
    }

    /// The confusion matrix, ROC and precision-recall charts.
    pub fn charts(&self) -> Result<Charts> {
        Ok(Charts {
            confusion_matrix: self.confusion_chart()?,
            roc_curve: self.roc_chart()?,
            precision_recall_curve: self.pr_chart()?,
        })
    }

    /// Confusion-matrix heatmap.
    pub fn confusion_chart(&self) -> Result<Png> {
        let [a, b] = &self.class_names;
        let c = &self.confusion;
        plots::confusion_matrix_chart([[c.tn, c.fp], [c.fn_, c.tp]], [a, b])
    }

    /// ROC curve.
    pub fn roc_chart(&self) -> Result<Png> {
        let (fpr, tpr) = self
            .roc
            .as_ref()
            .map_or((&[][..], &[][..]), |c| (&c.fpr[..], &c.tpr[..]));
        plots::roc_chart(fpr, tpr, self.metrics.roc_auc)
    }

    /// Precision-recall curve.
    pub fn pr_chart(&self) -> Result<Png> {
        let (precision, recall) = self
            .pr
            .as_ref()
            .map_or((&[][..], &[][..]), |c| (&c.precision[..], &c.recall[..]));
        plots::pr_chart(precision, recall, self.average_precision, self.prevalence())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_counts_as_an_index_sort_by_total_cmp_does() {
        let mut r = crate::rng::Rng::new(3);
        let pool = [0.0, -0.0, 1.0, 0.5, -2.5, f64::NAN, 1e-300, 0.25];
        let scores: Vec<f64> = (0..3000)
            .map(|i| {
                if i % 3 == 0 {
                    pool[r.below(pool.len())]
                } else {
                    r.below(50) as f64 / 7.0 - 3.0
                }
            })
            .collect();
        let y: Vec<u8> = (0..3000).map(|_| r.below(2) as u8).collect();
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
            if k + 1 == idx.len() || scores[idx[k + 1]] != scores[i] {
                fps.push(fp);
                tps.push(tp);
                thr.push(scores[i]);
            }
        }
        let (f, t, th) = binary_clf_curve(&y, &scores);
        assert_eq!((f, t), (fps, tps));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&th), bits(&thr));
        assert!(thr.len() > 50);
    }

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
        let r = ClassificationReport::new(&[1, 1], &[1, 1]);
        assert_eq!(r.class_0.support, 0);
        assert_eq!(r.class_1.f1_score, 1.0);
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
