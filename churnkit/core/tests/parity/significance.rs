//! churnkit's chi-square and Mann-Whitney U tests against scipy's answers on fixed inputs
//! (2x2 with Yates' correction, larger tables, ties, shifted and identical samples). The
//! fixture is made by `fixtures/make_scipy_fixtures.py`.

use crate::common::floats;
use churnkit_core::significance::{chi_square, feature_tests, mann_whitney_u};
use serde_json::Value;

fn fixture() -> Value {
    crate::common::fixture("scipy_tests.json")
}

/// Relative agreement, absolute for values near 0.
fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12) + 1e-15,
        "{what}: churnkit {a} vs scipy {b}"
    );
}

#[test]
fn chi_square_matches_scipy() {
    let f = fixture();
    for (name, case) in f["chi_square"].as_object().unwrap() {
        let observed: Vec<Vec<f64>> = case["observed"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let t = chi_square(&observed).unwrap();
        close(
            t.statistic,
            case["statistic"].as_f64().unwrap(),
            &format!("{name} statistic"),
        );
        close(
            t.p_value,
            case["p_value"].as_f64().unwrap(),
            &format!("{name} p"),
        );
        close(
            t.cramers_v,
            case["cramers_v"].as_f64().unwrap(),
            &format!("{name} V"),
        );
        assert_eq!(t.dof as u64, case["dof"].as_u64().unwrap());
    }
}

#[test]
fn mann_whitney_u_matches_scipy() {
    let f = fixture();
    for (name, case) in f["mann_whitney_u"].as_object().unwrap() {
        let t = mann_whitney_u(&floats(&case["a"]), &floats(&case["b"])).unwrap();
        close(t.u, case["u"].as_f64().unwrap(), &format!("{name} U"));
        close(
            t.p_value,
            case["p_value"].as_f64().unwrap(),
            &format!("{name} p"),
        );
    }
}

#[test]
fn every_feature_of_the_sample_gets_one_row() {
    let (csv, _) = churnkit_core::generate::generate_rows(2000, 4);
    let table = churnkit_core::table::Table::from_csv_bytes(csv, "g.csv").unwrap();
    let schema = churnkit_core::schema::Schema::infer(&table, "Churn", None).unwrap();
    let rows = feature_tests(&table, &schema).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.feature.as_str()).collect();
    assert_eq!(rows.len(), 6, "{names:?}");
    // The generator makes churn depend on the contract most: a strong association.
    let contract = rows.iter().find(|r| r.feature == "Contract").unwrap();
    assert!(
        contract.p_value < 1e-50 && contract.effect_size > 0.4,
        "{contract:?}"
    );
    assert!(rows.windows(2).all(|w| w[0].p_value <= w[1].p_value));
    // Churners have shorter tenure: a negative rank-biserial effect.
    let tenure = rows.iter().find(|r| r.feature == "Tenure").unwrap();
    assert!(tenure.effect_size < -0.2, "{tenure:?}");
    // Impossible ages are left out of the test.
    let age = rows.iter().find(|r| r.feature == "Age").unwrap();
    assert!(age.rows < 2000, "{age:?}");
}
