//! `churnkit survival`, `evaluate --survival-model` and `predict --survival-model` on the
//! guide's sample: the output files and their headers, all-or-nothing writing, errors that
//! name the file, column and row. The figures themselves are checked against lifelines in
//! tests/test_survival_lifelines.py.

use crate::common::*;
use std::fs;

#[test]
fn writes_its_files_and_only_this_runs() {
    let d = workdir("survival");
    let out = ok(&d, &["--no-track", "survival", "--by", "Contract"]);
    assert!(
        out.contains("duration: Tenure ("),
        "the proposed duration is said: {out}"
    );
    assert!(out.contains("log-rank between 3 groups"), "{out}");
    assert!(
        out.contains("TotalCharges: left out, it follows Tenure"),
        "{out}"
    );
    // No customer on a two-year contract left in the sample: said, and fitted with a penalty.
    assert!(
        out.contains("Contract=Two year: 0 of its 30 customers left")
            && out.contains("penalizer 0.01"),
        "{out}"
    );
    let dir = d.join("metrics/survival");
    let km = fs::read_to_string(dir.join("kaplan_meier.csv")).unwrap();
    assert!(
        km.starts_with("group,time,at_risk,events,censored,survival,ci_lower,ci_upper\nall,0,"),
        "{km}"
    );
    for g in ["Month-to-month", "One year", "Two year"] {
        assert!(km.contains(&format!("\n{g},")), "{g} missing");
    }
    let cox = fs::read_to_string(dir.join("cox.csv")).unwrap();
    assert!(
        cox.starts_with("feature,coef,hazard_ratio,se,z,p\n"),
        "{cox}"
    );
    let logrank: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("logrank.json")).unwrap()).unwrap();
    assert_eq!(logrank["df"], 2);
    assert!(logrank["statistic"].as_f64().unwrap() > 0.0);
    let model = fs::read_to_string(d.join("models/survival_model.json")).unwrap();
    assert!(model.contains("\"format\": \"churnkit-survival-model\""));
    // Without --by there is no test: the earlier logrank.json goes.
    ok(&d, &["--no-track", "-q", "survival"]);
    assert!(!dir.join("logrank.json").exists());
    assert!(dir.join("kaplan_meier.csv").exists() && dir.join("survival_curves.png").exists());
}

#[test]
fn value_columns_in_predict_and_targeting_in_evaluate() {
    let d = workdir("survival-value");
    ok(&d, &["--no-track", "-q", "pipeline"]);
    ok(&d, &["--no-track", "-q", "survival"]);
    let sm = "models/survival_model.json";
    let out = ok(&d, &["--no-track", "evaluate", "--survival-model", sm]);
    assert!(
        out.contains("top ") && out.contains("by expected gain"),
        "{out}"
    );
    assert!(d.join("metrics/value_targeting.json").exists());
    // A later evaluation without values leaves no stale comparison behind.
    ok(&d, &["--no-track", "-q", "evaluate"]);
    assert!(!d.join("metrics/value_targeting.json").exists());
    ok(
        &d,
        &[
            "--no-track",
            "-q",
            "predict",
            "--input",
            "data/sample_data.csv",
            "--output",
            "s.csv",
            "--survival-model",
            sm,
        ],
    );
    let scored = fs::read_to_string(d.join("s.csv")).unwrap();
    assert!(
        scored.lines().next().unwrap().ends_with(
            "churn_probability,churn_prediction,lifetime_value,value_at_risk,expected_gain"
        ),
        "{}",
        scored.lines().next().unwrap()
    );
    // A corrupt model is refused, naming the file.
    fs::write(
        d.join("bad.json"),
        "{\"format\": \"churnkit-survival-model\"}",
    )
    .unwrap();
    fails(
        &d,
        &[
            "--no-track",
            "predict",
            "--input",
            "data/sample_data.csv",
            "--output",
            "t.csv",
            "--survival-model",
            "bad.json",
        ],
        4,
        &["bad.json"],
    );
    assert!(!d.join("t.csv").exists(), "nothing half-written");
}

#[test]
fn bad_durations_are_named_and_nothing_is_written() {
    let d = workdir("survival-bad");
    let csv = fs::read_to_string(d.join("data/sample_data.csv")).unwrap();
    // Row 3's tenure made negative.
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(String::from).collect();
    cells[2] = "-4".into();
    lines[3] = cells.join(",");
    fs::write(d.join("neg.csv"), lines.join("\n") + "\n").unwrap();
    // Inference may warn first (the id column); the error is one line and exit 3.
    let o = run(
        &d,
        &[
            "--no-track",
            "survival",
            "--data",
            "neg.csv",
            "--event",
            "Churn",
            "--duration",
            "Tenure",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    let line = error_line(&o);
    for n in ["neg.csv", "Tenure", "row 3", "negative"] {
        assert!(line.contains(n), "{n:?} not in {line}");
    }
    assert!(!d.join("metrics").exists() && !d.join("models").exists());
    fails(
        &d,
        &["--no-track", "survival", "--duration", "tenur"],
        3,
        &["sample_data.csv", "no duration column 'tenur'", "Tenure"],
    );
    fails(
        &d,
        &["--no-track", "survival", "--by", "Age"],
        3,
        &["'Age' has", "at most 12"],
    );
}
