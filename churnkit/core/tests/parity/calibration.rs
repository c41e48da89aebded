//! churnkit's calibration figures against scikit-learn's on fixed inputs: the reliability curve
//! (`calibration_curve`, uniform bins, scores on the bin edges included), the Brier score, the
//! isotonic map (`IsotonicRegression(out_of_bounds="clip")`, ties included) and Platt scaling
//! (`CalibratedClassifierCV`'s `_sigmoid_calibration`). The fixture is made by
//! `fixtures/make_sklearn_decision_fixtures.py`.

use crate::common::floats;
use churnkit_core::calibration::{brier_score, reliability_curve, CalibrationMethod, Calibrator};

fn labels(v: &serde_json::Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect()
}

fn close_all(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: lengths {} vs {}",
        a.len(),
        b.len()
    );
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "{what}[{i}]: churnkit {x} vs scikit-learn {y}"
        );
    }
}

#[test]
fn calibration_matches_scikit_learn() {
    let f = crate::common::fixture("sklearn_decisions.json");
    let grid = floats(&f["grid"]);
    let cases = f["cases"].as_object().unwrap();
    assert!(cases.len() >= 4);
    for (name, c) in cases {
        let s = floats(&c["scores"]);
        let y = labels(&c["y"]);
        let curve = reliability_curve(&y, &s, 10).unwrap();
        close_all(
            &curve.observed,
            &floats(&c["prob_true"]),
            1e-12,
            &format!("{name} prob_true"),
        );
        close_all(
            &curve.mean_predicted,
            &floats(&c["prob_pred"]),
            1e-12,
            &format!("{name} prob_pred"),
        );
        let brier = brier_score(&y, &s).unwrap();
        assert!(
            (brier - c["brier"].as_f64().unwrap()).abs() < 1e-12,
            "{name} brier {brier}"
        );

        let iso = Calibrator::fit(CalibrationMethod::Isotonic, &s, &y).unwrap();
        iso.validate().unwrap();
        close_all(
            &iso.apply_all(&grid),
            &floats(&c["isotonic_grid"]),
            1e-12,
            &format!("{name} isotonic"),
        );

        // scikit-learn stops L-BFGS at a gradient of 1e-6; churnkit's Newton steps go to the
        // optimum itself, so the two agree to about that.
        let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &s, &y).unwrap()
        else {
            panic!("platt");
        };
        let (sa, sb) = (
            c["platt_a"].as_f64().unwrap(),
            c["platt_b"].as_f64().unwrap(),
        );
        assert!(
            (a - sa).abs() < 1e-3 && (b - sb).abs() < 1e-3,
            "{name}: a {a} b {b} vs {sa} {sb}"
        );
        let platt = Calibrator::Platt { a, b };
        close_all(
            &platt.apply_all(&grid),
            &floats(&c["platt_grid"]),
            1e-4,
            &format!("{name} platt"),
        );
    }
}
