//! churnkit's metrics against scikit-learn's answers on fixed inputs (ties, constant scores,
//! perfect and inverted rankings, collinear ROC points). The fixture is made by
//! `fixtures/make_sklearn_fixtures.py`.

use crate::common::floats;
use churnkit_core::evaluate::{
    average_precision, precision_recall_curve, roc_auc, roc_curve, BinaryMetrics,
    ClassificationReport,
};
use serde_json::Value;

fn fixture() -> Value {
    crate::common::fixture("sklearn_metrics.json")
}

fn close(a: &[f64], b: &[f64], what: &str, case: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{case}: {what} length: ours {a:?} sklearn {b:?}"
    );
    for (x, y) in a.iter().zip(b) {
        assert!(
            x == y || (x - y).abs() < 1e-12,
            "{case}: {what}: ours {a:?}, sklearn {b:?}"
        );
    }
}

#[test]
fn curves_auc_and_average_precision_match_sklearn() {
    let f = fixture();
    let cases = f["cases"].as_object().unwrap();
    assert!(cases.len() >= 8);
    for (name, c) in cases {
        let y: Vec<u8> = c["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let s = floats(&c["scores"]);
        let roc = roc_curve(&y, &s).unwrap();
        close(&roc.fpr, &floats(&c["roc_fpr"]), "fpr", name);
        close(&roc.tpr, &floats(&c["roc_tpr"]), "tpr", name);
        close(
            &roc.thresholds,
            &floats(&c["roc_thresholds"]),
            "roc thresholds",
            name,
        );
        close(
            &[roc_auc(&y, &s).unwrap()],
            &[c["roc_auc"].as_f64().unwrap()],
            "auc",
            name,
        );
        let pr = precision_recall_curve(&y, &s).unwrap();
        close(
            &pr.precision,
            &floats(&c["pr_precision"]),
            "precision curve",
            name,
        );
        close(&pr.recall, &floats(&c["pr_recall"]), "recall curve", name);
        close(
            &pr.thresholds,
            &floats(&c["pr_thresholds"]),
            "pr thresholds",
            name,
        );
        close(
            &[average_precision(&y, &s).unwrap()],
            &[c["average_precision"].as_f64().unwrap()],
            "average precision",
            name,
        );
        let m = BinaryMetrics::compute(&y, &s, 0.5);
        close(
            &[m.accuracy, m.precision, m.recall, m.f1],
            &[
                c["accuracy"].as_f64().unwrap(),
                c["precision"].as_f64().unwrap(),
                c["recall"].as_f64().unwrap(),
                c["f1"].as_f64().unwrap(),
            ],
            "accuracy/precision/recall/f1",
            name,
        );
    }
}

#[test]
fn classification_report_has_sklearn_keys_and_values() {
    let f = fixture();
    for (name, c) in f["cases"].as_object().unwrap() {
        let y: Vec<u8> = c["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let pred: Vec<u8> = c["pred"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        // The struct serialises to scikit-learn's own JSON layout.
        let ours = serde_json::to_value(ClassificationReport::new(&y, &pred)).unwrap();
        let theirs = &c["report"];
        let ok: Vec<&String> = ours.as_object().unwrap().keys().collect();
        let tk: Vec<&String> = theirs.as_object().unwrap().keys().collect();
        assert_eq!(ok, tk, "{name}: top-level keys");
        for key in ["0", "1", "macro avg", "weighted avg"] {
            for m in ["precision", "recall", "f1-score", "support"] {
                let a = ours[key][m].as_f64().unwrap();
                let b = theirs[key][m].as_f64().unwrap();
                assert!(
                    (a - b).abs() < 1e-12,
                    "{name}: {key}/{m}: ours {a}, sklearn {b}"
                );
            }
        }
        let a = ours["accuracy"].as_f64().unwrap();
        assert!((a - theirs["accuracy"].as_f64().unwrap()).abs() < 1e-12);
    }
}
