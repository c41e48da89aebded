//! Tables shaped like real exports (`generate --shape messy`): what inference excludes and why,
//! missing markers, impossible values, `--keep`, `--na-values`, a final model, and predict's
//! output on new customers of the same table.

use crate::common::*;
use std::fs;

fn messy(d: &std::path::Path, rows: &str) {
    ok(
        d,
        &[
            "generate", "--rows", rows, "--seed", "5", "--shape", "messy", "--output", "m.csv",
        ],
    );
}

#[test]
fn inference_excludes_each_trap_with_one_warning_line_and_records_why() {
    let d = workdir("messy-infer");
    messy(&d, "3000");
    let o = run(
        &d,
        &[
            "--no-track",
            "pipeline",
            "--data",
            "m.csv",
            "--target",
            "Churn",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("is not used as a feature"))
        .collect();
    assert_eq!(warned.len(), 5, "{err}");
    for (col, why) in [
        ("RowNumber", "row counter"),
        ("CustomerID", "named like an id"),
        ("AccountNo", "named like an id"),
        ("Surname", "free text or a name"),
        ("Country", "constant"),
    ] {
        let line = warned
            .iter()
            .find(|l| l.contains(&format!("'{col}'")))
            .unwrap_or_else(|| panic!("no warning for {col}: {err}"));
        assert!(line.contains(why), "{line}");
        assert!(line.contains(&format!("give --keep {col}")), "{line}");
    }
    // The summary says what was decided: missing markers, impossible ages, nothing clipped.
    assert!(out.contains("impossible values:  Age "), "{out}");
    assert!(out.contains("values clipped:     none"), "{out}");
    assert!(out.contains("left missing:       Age "), "{out}");
    // ... and so do the saved files.
    let state: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.join("data/processed/preprocessor.json")).unwrap(),
    )
    .unwrap();
    let schema = &state["schema"];
    assert_eq!(
        schema["numeric"],
        serde_json::json!([
            "Age",
            "Tenure",
            "MonthlyCharges",
            "TotalCharges",
            "SeniorCitizen",
            "AreaCode"
        ])
    );
    assert_eq!(
        schema["categorical"],
        serde_json::json!(["Gender", "Contract", "PaymentMethod", "PaperlessBilling"])
    );
    assert!(schema["excluded"]["Surname"]
        .as_str()
        .unwrap()
        .starts_with("free text"));
    assert_eq!(schema["valid_ranges"]["Age"]["max"], 120.0);
    let cleaning = &state["cleaning"];
    assert!(cleaning["out_of_range"]["Age"].as_u64().unwrap() >= 1);
    assert!(cleaning["missing"]["Tenure"].as_u64().unwrap() > 30);
    // The schema command prints the same decisions as comments, and the file reads back.
    let toml = ok(&d, &["schema", "--data", "m.csv", "--target", "Churn"]);
    assert!(toml.contains("#   RowNumber: row counter"), "{toml}");
    fs::write(d.join("s.toml"), &toml).unwrap();
    ok(
        &d,
        &[
            "--no-track",
            "-q",
            "preprocess",
            "--data",
            "m.csv",
            "--schema",
            "s.toml",
        ],
    );
}

#[test]
fn keep_and_na_values_change_the_decisions() {
    let d = workdir("messy-keep");
    messy(&d, "2000");
    let schema = ok(
        &d,
        &[
            "schema", "--data", "m.csv", "--target", "Churn", "--keep", "Surname", "--keep",
            "AreaCode",
        ],
    );
    let cat_line = schema
        .lines()
        .find(|l| l.starts_with("categorical"))
        .unwrap();
    assert!(cat_line.contains("\"Surname\""), "{schema}");
    assert!(!schema.contains("Surname = \"free text"), "{schema}");
    // Without "?" and "NA" as markers, Age holds text: it becomes a categorical, and says so.
    let schema = ok(
        &d,
        &[
            "schema",
            "--data",
            "m.csv",
            "--target",
            "Churn",
            "--na-values",
            "N/A,null",
        ],
    );
    assert!(
        schema.contains("na_values = [\"N/A\", \"null\"]"),
        "{schema}"
    );
    let cat_line = schema
        .lines()
        .find(|l| l.starts_with("categorical"))
        .unwrap();
    assert!(cat_line.contains("\"Age\""), "{schema}");
    // --keep is an inference option: without --target the one-line usage error names it.
    fails(
        &d,
        &["pipeline", "--data", "m.csv", "--keep", "Surname"],
        2,
        &["required arguments were not provided: --target <TARGET>"],
    );
    fails(
        &d,
        &[
            "schema", "--data", "m.csv", "--target", "Churn", "--keep", "Nope",
        ],
        3,
        &["m.csv", "missing required column 'Nope'"],
    );
}

#[test]
fn a_final_model_is_refitted_on_every_row_and_evaluate_uses_its_held_out_twin() {
    let d = workdir("messy-final");
    messy(&d, "2000");
    let out = ok(
        &d,
        &[
            "--no-track",
            "pipeline",
            "--data",
            "m.csv",
            "--target",
            "Churn",
            "--final",
        ],
    );
    assert!(
        out.contains("final model: refitted on all 2000 rows"),
        "{out}"
    );
    let model: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/churn_model.json")).unwrap())
            .unwrap();
    assert_eq!(model["fitted_on"], "all_rows");
    assert_eq!(model["fitted_rows"], 2000);
    let holdout: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/holdout_model.json")).unwrap())
            .unwrap();
    assert_eq!(holdout["fitted_on"], "training_rows");
    assert_eq!(holdout["fitted_rows"], 1600);
    let run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/train_run.json")).unwrap())
            .unwrap();
    assert_eq!(run["params"]["final_model"], "true");
    assert_eq!(run["params"]["final_train_size"], "2000");
    assert_eq!(run["params"]["train_size"], "1600");
    let auc = run["metrics"]["roc_auc"].as_f64().unwrap();
    // evaluate on its own grades the held-out model, not the one that has seen the test rows.
    let out = ok(&d, &["--no-track", "evaluate"]);
    assert!(out.contains("evaluating its held-out twin"), "{out}");
    assert!(out.contains(&format!("ROC AUC {auc:.3}")), "{out}");
    // Without --final the held-out twin goes, so it cannot be mistaken for the current model.
    ok(
        &d,
        &[
            "--no-track",
            "-q",
            "pipeline",
            "--data",
            "m.csv",
            "--target",
            "Churn",
        ],
    );
    assert!(!d.join("models/holdout_model.json").exists());
    fs::write(
        d.join("models/churn_model.json"),
        serde_json::to_vec(&model).unwrap(),
    )
    .unwrap();
    fails(
        &d,
        &["--no-track", "evaluate"],
        4,
        &["holdout_model.json", "cannot be evaluated"],
    );
}

#[test]
fn predict_on_new_customers_keeps_ids_and_scores_unseen_values_as_missing() {
    let d = workdir("messy-predict");
    messy(&d, "2000");
    ok(
        &d,
        &[
            "--no-track",
            "-q",
            "pipeline",
            "--data",
            "m.csv",
            "--target",
            "Churn",
        ],
    );
    // New customers of the same bank: other surnames, a new contract type, no target.
    let text = fs::read_to_string(d.join("m.csv")).unwrap();
    let new: String = text
        .lines()
        .take(21)
        .map(|l| {
            let l = l.rsplit_once(',').unwrap().0;
            l.replace("Two year", "Three year").replace("Abi", "Zyx")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(d.join("new.csv"), &new).unwrap();
    let o = run(&d, &["predict", "--input", "new.csv", "--output", "s.csv"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("'Contract':") && err.contains("Three year"),
        "{err}"
    );
    let scored = fs::read_to_string(d.join("s.csv")).unwrap();
    assert_eq!(
        scored.lines().next().unwrap(),
        "RowNumber,CustomerID,AccountNo,churn_probability,churn_prediction"
    );
    assert_eq!(scored.lines().count(), 21);
    assert!(
        scored.lines().nth(1).unwrap().starts_with("1,CUST-"),
        "{scored}"
    );
}
