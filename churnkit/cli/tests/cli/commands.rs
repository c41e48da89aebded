//! The `churnkit` binary end to end: the sample, the Telco file, every bad input, determinism.

use crate::common::*;
use std::fs;
use std::path::Path;

#[test]
fn committed_sample_is_what_the_generator_makes() {
    let d = workdir("gen");
    ok(
        &d,
        &[
            "generate", "--rows", "100", "--seed", "42", "--output", "g.csv",
        ],
    );
    assert_eq!(
        fs::read(d.join("g.csv")).unwrap(),
        fs::read(repo().join("data/sample_data.csv")).unwrap(),
        "data/sample_data.csv should be `churnkit generate --rows 100 --seed 42`"
    );
    ok(
        &d,
        &[
            "generate", "--rows", "5000", "--seed", "3", "--output", "a.csv",
        ],
    );
    ok(
        &d,
        &[
            "generate", "--rows", "5000", "--seed", "3", "--output", "b.csv",
        ],
    );
    assert_eq!(
        fs::read(d.join("a.csv")).unwrap(),
        fs::read(d.join("b.csv")).unwrap()
    );
}

#[test]
fn preprocess_sample_writes_the_processed_files() {
    let d = workdir("pp");
    let out = ok(&d, &["preprocess"]);
    assert!(out.contains("duplicates dropped: 1"), "{out}");
    assert!(out.contains("split (stratified, seed 42)"), "{out}");
    let p = d.join("data/processed");
    for f in [
        "X_train.csv",
        "X_test.csv",
        "y_train.csv",
        "y_test.csv",
        "preprocessor.json",
    ] {
        assert!(p.join(f).exists(), "{f} missing");
    }
    let x = fs::read_to_string(p.join("X_train.csv")).unwrap();
    assert_eq!(
        x.lines().next().unwrap(),
        "Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod"
    );
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.join("preprocessor.json")).unwrap()).unwrap();
    assert_eq!(state["format"], "churnkit-preprocessor");
    assert_eq!(state["format_version"], 2);
    assert_eq!(state["input"]["rows"], 100);
    assert_eq!(state["input"]["sha256"].as_str().unwrap().len(), 64);
    let train = state["split"]["train_rows"].as_u64().unwrap();
    let test = state["split"]["test_rows"].as_u64().unwrap();
    assert_eq!(train + test, 99);
    assert_eq!(x.lines().count() as u64, train + 1);
    assert!(files_under(&p)
        .iter()
        .all(|f| !f.to_string_lossy().contains(".tmp-")));
}

#[test]
fn telco_preprocesses_with_an_inferred_schema_and_trains_well() {
    let Some(t) = telco() else {
        return;
    };
    let d = workdir("telco");
    let t = t.to_str().unwrap();
    let out = ok(&d, &["schema", "--data", t, "--target", "Churn"]);
    assert!(
        out.contains("positive = \"Yes\"") && out.contains("id_columns = [\"customerID\"]"),
        "{out}"
    );
    assert!(
        out.contains("# churnkit survival: duration column tenure ("),
        "{out}"
    );
    fs::write(d.join("telco.toml"), &out).unwrap();
    let out = ok(&d, &["pipeline", "--data", t, "--schema", "telco.toml"]);
    assert!(out.contains("TotalCharges 11 from product"), "{out}");
    let state: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.join("data/processed/preprocessor.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["features"].as_array().unwrap().len(), 19);
    let run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/train_run.json")).unwrap())
            .unwrap();
    let auc = run["metrics"]["roc_auc"].as_f64().unwrap();
    // scikit-learn's RandomForestClassifier gets 0.836-0.845 on Telco; the guide asks > 0.80.
    assert!(auc > 0.83, "Telco test ROC AUC {auc}");
    // --target gives the same result as the saved schema.
    let d2 = workdir("telco-target");
    ok(&d2, &["preprocess", "--data", t, "--target", "Churn"]);
    assert_eq!(
        fs::read(d.join("data/processed/X_train.csv")).unwrap(),
        fs::read(d2.join("data/processed/X_train.csv")).unwrap()
    );
}

#[test]
fn bad_inputs_fail_cleanly_with_nothing_written() {
    let d = workdir("bad");
    let header = "CustomerID,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod,Churn\n";
    let good_row = |i: usize, churn: u8| {
        format!(
            "C{i},40,{},55.5,{},One year,Mailed check,{churn}\n",
            i % 50,
            55.5 * (i % 50) as f64
        )
    };
    let body: String = (0..40).map(|i| good_row(i, (i % 3 == 0) as u8)).collect();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("empty.csv", String::new(), vec!["empty.csv", "empty"]),
        (
            "header.csv",
            header.to_string(),
            vec!["header.csv", "no data rows"],
        ),
        (
            "nocol.csv",
            format!(
                "{}{}",
                header.replace(",PaymentMethod", ""),
                body.replace(",Mailed check", "")
            ),
            vec!["nocol.csv", "missing required column 'PaymentMethod'"],
        ),
        (
            "ragged.csv",
            format!(
                "{header}{}C99,40,3,50.0,150.0,One year,Mailed check,0,extra\n",
                body
            ),
            vec!["ragged.csv", "line 42", "has 9 fields, the header has 8"],
        ),
        (
            "text.csv",
            format!(
                "{header}{}C99,forty,3,50.0,150.0,One year,Mailed check,0\n",
                body
            ),
            vec![
                "text.csv",
                "column 'Age'",
                "line 42",
                "'forty' is not a number",
            ],
        ),
        (
            "three.csv",
            format!(
                "{header}{}C99,40,3,50.0,150.0,One year,Mailed check,maybe\n",
                body
            ),
            vec![
                "three.csv",
                "column 'Churn'",
                "exactly two classes, found 3",
            ],
        ),
        (
            "one.csv",
            format!(
                "{header}{}",
                (0..10).map(|i| good_row(i, 0)).collect::<String>()
            ),
            vec!["one.csv", "column 'Churn'", "found 1"],
        ),
        (
            "few.csv",
            format!(
                "{header}{}",
                (0..10)
                    .map(|i| good_row(i, u8::from(i == 0)))
                    .collect::<String>()
            ),
            vec!["few.csv", "column 'Churn'", "class '1' has 1 row"],
        ),
        (
            "dup.csv",
            format!("{}{body}", header.replace(",Churn", ",Age,Churn")),
            vec!["dup.csv", "column 'Age' appears more than once"],
        ),
        (
            "blanktarget.csv",
            format!(
                "{header}{}C99,40,3,50.0,150.0,One year,Mailed check,\n",
                body
            ),
            vec![
                "blanktarget.csv",
                "column 'Churn'",
                "line 42",
                "blank target",
            ],
        ),
    ];
    for (name, content, needles) in &cases {
        fs::write(d.join(name), content).unwrap();
        fails(&d, &["preprocess", "--data", name], 3, needles);
        assert!(
            !d.join("data/processed").exists(),
            "{name}: outputs written"
        );
    }
    fails(&d, &["preprocess", "--data", "nope.csv"], 3, &["nope.csv"]);
    // A failure after a good run leaves the good outputs untouched.
    ok(&d, &["preprocess"]);
    let before: Vec<Vec<u8>> = files_under(&d.join("data/processed"))
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    fails(&d, &["preprocess", "--data", "text.csv"], 3, &["text.csv"]);
    let after: Vec<Vec<u8>> = files_under(&d.join("data/processed"))
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    assert_eq!(before, after);
    // Bad schema and bad flags.
    fs::write(
        d.join("s.toml"),
        "target = 'Churn'\npositive = '1'\nnumerik = ['Age']\n",
    )
    .unwrap();
    fails(
        &d,
        &["preprocess", "--schema", "s.toml"],
        3,
        &["s.toml", "numerik"],
    );
    fails(
        &d,
        &["preprocess", "--test-size", "1.5"],
        2,
        &["--test-size"],
    );
}

#[test]
fn extra_columns_are_ignored_with_a_warning() {
    let d = workdir("extra");
    let text = fs::read_to_string(d.join("data/sample_data.csv")).unwrap();
    let with_extra: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},Notes\n")
            } else {
                format!("{l},x{i}\n")
            }
        })
        .collect();
    fs::write(d.join("extra.csv"), with_extra).unwrap();
    let o = run(&d, &["preprocess", "--data", "extra.csv"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: ignoring column 'Notes'"), "{err}");
}

#[test]
fn pipeline_is_deterministic_and_writes_every_output() {
    let (a, b) = (workdir("det-a"), workdir("det-b"));
    let out = ok(&a, &["pipeline"]);
    assert!(out.contains("pipeline summary"), "{out}");
    ok(&b, &["pipeline", "--threads", "1"]);
    let expected = [
        "data/processed/X_train.csv",
        "data/processed/preprocessor.json",
        "models/churn_model.json",
        "models/feature_importance.csv",
        "metrics/confusion_matrix.png",
        "metrics/roc_curve.png",
        "metrics/precision_recall_curve.png",
        "metrics/classification_report.json",
        "metrics/business_metrics.json",
    ];
    for f in expected {
        let (x, y) = (fs::read(a.join(f)).unwrap(), fs::read(b.join(f)).unwrap());
        assert!(!x.is_empty(), "{f} is empty");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    for png in ["confusion_matrix", "roc_curve", "precision_recall_curve"] {
        let bytes = fs::read(a.join(format!("metrics/{png}.png"))).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
    let report: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(a.join("metrics/classification_report.json")).unwrap(),
    )
    .unwrap();
    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["0", "1", "accuracy", "macro avg", "weighted avg"]);
    let business: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(a.join("metrics/business_metrics.json")).unwrap())
            .unwrap();
    assert_eq!(business.as_object().unwrap().len(), 8);
    let test_rows = fs::read_to_string(a.join("data/processed/y_test.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(business["total_customers"], test_rows);
    // A different seed gives a different model.
    let c = workdir("det-c");
    ok(&c, &["pipeline", "--seed", "7"]);
    assert!(
        fs::read(a.join("models/churn_model.json")).unwrap()
            != fs::read(c.join("models/churn_model.json")).unwrap()
    );
}

#[test]
fn train_flags_baseline_and_missing_inputs() {
    let d = workdir("train");
    fails(
        &d,
        &["train"],
        4,
        &["preprocessor.json", "churnkit preprocess"],
    );
    ok(&d, &["preprocess"]);
    fails(
        &d,
        &["evaluate"],
        4,
        &["churn_model.json", "churnkit train"],
    );
    let out = ok(
        &d,
        &[
            "train",
            "--n-estimators",
            "200",
            "--max-depth",
            "15",
            "--min-samples-split",
            "5",
        ],
    );
    assert!(
        out.contains("200 tree(s), max_depth 15, min_samples_split 5"),
        "{out}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/train_run.json")).unwrap())
            .unwrap();
    assert_eq!(run["params"]["n_estimators"], "200");
    assert_eq!(run["experiment"], "churn-prediction");
    assert_eq!(run["tags"]["seed"], "42");
    let imp = fs::read_to_string(d.join("models/feature_importance.csv")).unwrap();
    let vals: Vec<f64> = imp
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(vals.len(), 6);
    assert!(
        vals.windows(2).all(|w| w[0] >= w[1]),
        "importances sorted: {imp}"
    );
    assert!((vals.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let out = ok(
        &d,
        &["train", "--model", "decision-tree", "--max-depth", "4"],
    );
    assert!(out.contains("decision-tree with 1 tree(s)"), "{out}");
    ok(&d, &["evaluate"]);
    fails(&d, &["train", "--n-estimators", "0"], 4, &["n_estimators"]);
    fails(&d, &["train", "--max-features", "banana"], 2, &["banana"]);
    // A corrupt model is refused on load.
    let m = fs::read(d.join("models/churn_model.json")).unwrap();
    fs::write(d.join("models/churn_model.json"), &m[..m.len() / 2]).unwrap();
    fails(
        &d,
        &["evaluate"],
        4,
        &["churn_model.json", "not valid JSON"],
    );
}

#[test]
fn predict_scores_new_rows_and_explains_bad_ones() {
    let d = workdir("predict");
    ok(&d, &["pipeline", "-q"]);
    let sample = fs::read_to_string(d.join("data/sample_data.csv")).unwrap();
    let no_target: String = sample
        .lines()
        .take(11)
        .map(|l| format!("{}\n", l.rsplit_once(',').unwrap().0))
        .collect();
    fs::write(d.join("new.csv"), &no_target).unwrap();
    let out = ok(
        &d,
        &["predict", "--input", "new.csv", "--output", "scored.csv"],
    );
    assert!(out.contains("scored 10 rows"), "{out}");
    let scored = fs::read_to_string(d.join("scored.csv")).unwrap();
    let lines: Vec<&str> = scored.lines().collect();
    assert_eq!(lines[0], "CustomerID,churn_probability,churn_prediction");
    assert_eq!(lines.len(), 11);
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let p: f64 = f[1].parse().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(f[2], if p > 0.5 { "1" } else { "0" });
    }
    let unseen = no_target
        .replacen("One year", "Weekly", 1)
        .replacen("Two year", "Weekly", 1)
        .replacen("Month-to-month", "Weekly", 1);
    fs::write(d.join("unseen.csv"), &unseen).unwrap();
    // By default an unseen category is scored as missing, counted and warned about.
    let out = run(
        &d,
        &["predict", "--input", "unseen.csv", "--output", "u.csv"],
    );
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("unseen categories:  Contract 3"),
        "{stdout}"
    );
    assert!(
        stderr.contains("'Contract': 3 value(s) never seen in training (Weekly) scored as missing"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(d.join("u.csv")).unwrap().lines().count(),
        11
    );
    let line = unseen.lines().position(|l| l.contains("Weekly")).unwrap() + 1;
    fails(
        &d,
        &[
            "predict",
            "--input",
            "unseen.csv",
            "--output",
            "strict.csv",
            "--unknown-category",
            "error",
        ],
        3,
        &[
            "unseen.csv",
            "column 'Contract'",
            &format!("line {line}"),
            "'Weekly'",
        ],
    );
    assert!(!d.join("strict.csv").exists());
    // --keep-columns carries the input through; without an id a row number comes first,
    // named so that it cannot collide with an input column.
    let no_id: String = no_target
        .lines()
        .map(|l| {
            format!(
                "{},{}\n",
                l.split_once(',').unwrap().1,
                if l.starts_with("CustomerID") {
                    "row_number"
                } else {
                    "x"
                }
            )
        })
        .collect();
    fs::write(d.join("no_id.csv"), &no_id).unwrap();
    ok(
        &d,
        &[
            "predict",
            "--input",
            "no_id.csv",
            "--output",
            "k.csv",
            "--keep-columns",
        ],
    );
    let k = fs::read_to_string(d.join("k.csv")).unwrap();
    assert_eq!(
        k.lines().next().unwrap(),
        "_row_number,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod,row_number,churn_probability,churn_prediction"
    );
    assert!(k.lines().nth(1).unwrap().starts_with("1,"), "{k}");
    ok(
        &d,
        &[
            "predict",
            "--input",
            "unseen.csv",
            "--output",
            "u.csv",
            "--unknown-category",
            "most-frequent",
        ],
    );
    let missing: String = no_target
        .lines()
        .map(|l| format!("{}\n", l.rsplit_once(',').unwrap().0))
        .collect();
    fs::write(d.join("missing.csv"), missing).unwrap();
    fails(
        &d,
        &["predict", "--input", "missing.csv", "--output", "m.csv"],
        3,
        &["missing.csv", "'PaymentMethod'"],
    );
}

#[test]
fn decisions_reach_predict_the_chosen_threshold_and_the_reasons() {
    let d = workdir("decide");
    let gen = ["generate", "--rows", "3000", "--seed", "3", "--output"];
    ok(&d, &[&gen[..], &["data/sample_data.csv"]].concat());
    let out = ok(
        &d,
        &[
            "pipeline",
            "--threshold",
            "optimal",
            "--calibrate",
            "isotonic",
            "--no-track",
        ],
    );
    assert!(
        out.contains("profit-optimal on the out-of-bag scores"),
        "{out}"
    );
    assert!(out.contains("of the churners (lift"), "{out}");
    for f in [
        "gains_table.csv",
        "profit_curve.png",
        "calibration_curve.png",
        "lift_chart.png",
    ] {
        assert!(d.join("metrics").join(f).exists(), "{f}");
    }
    let decisions: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("metrics/decisions.json")).unwrap()).unwrap();
    let t = decisions["chosen_threshold"].as_f64().unwrap();
    assert!(t > 0.0 && t < 1.0 && t != 0.5, "{t}");
    // The header and the first 400 customers of the generated table.
    let rows: String = fs::read_to_string(d.join("data/sample_data.csv"))
        .unwrap()
        .lines()
        .take(401)
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(d.join("new.csv"), rows).unwrap();
    let args = [
        "predict",
        "--input",
        "new.csv",
        "--output",
        "s.csv",
        "--threshold",
        "optimal",
        "--explain",
        "2",
    ];
    let out = ok(&d, &args);
    let shown = format!("{t:.4}");
    assert!(
        out.contains(&format!("(threshold {})", shown.trim_end_matches('0'))),
        "{out}"
    );
    assert!(out.contains("the model is calibrated"), "{out}");
    let scored = fs::read_to_string(d.join("s.csv")).unwrap();
    let mut lines = scored.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        head[1..],
        [
            "churn_probability",
            "churn_prediction",
            "reason_1_feature",
            "reason_1_value",
            "reason_1_contribution",
            "reason_2_feature",
            "reason_2_value",
            "reason_2_contribution"
        ]
    );
    let (mut flagged, mut n) = (0, 0);
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let p: f64 = f[1].parse().unwrap();
        assert_eq!(f[2], if p > t { "1" } else { "0" }, "{l}");
        flagged += usize::from(f[2] == "1");
        n += 1;
        let (c1, c2): (f64, f64) = (f[5].parse().unwrap(), f[8].parse().unwrap());
        assert!(c1.abs() >= c2.abs(), "reasons are largest first: {l}");
    }
    assert_eq!(n, 400);
    assert!(flagged > 0 && flagged < n, "{flagged}");
    // A model trained after that evaluation gets no threshold chosen for another model.
    ok(&d, &["train", "--seed", "9", "--no-track", "-q"]);
    fails(
        &d,
        &args,
        4,
        &["decisions.json", "re-run `churnkit evaluate`"],
    );
    fs::remove_file(d.join("metrics/decisions.json")).unwrap();
    fails(&d, &args, 4, &["decisions.json", "not found"]);
    // A final model flags with the threshold chosen for its held-out twin.
    ok(
        &d,
        &[
            "pipeline",
            "--threshold",
            "optimal",
            "--final",
            "--no-track",
            "-q",
        ],
    );
    ok(&d, &args);
    fails(
        &d,
        &[
            "predict",
            "--input",
            "new.csv",
            "--output",
            "x.csv",
            "--threshold",
            "1.5",
        ],
        2,
        &["threshold"],
    );
}

#[test]
fn train_reads_the_binary_split_while_the_csvs_are_unchanged() {
    let d = workdir("split-bin");
    ok(&d, &["preprocess", "-q"]);
    let bin = d.join("data/processed/split.bin");
    let bytes = fs::read(&bin).unwrap();
    assert_eq!(&bytes[..8], b"CKSPLIT1");
    let model = d.join("models/churn_model.json");
    ok(&d, &["train", "-q", "--no-track"]);
    let from_bin = fs::read(&model).unwrap();
    fs::remove_file(&bin).unwrap();
    ok(&d, &["train", "-q", "--no-track"]);
    assert!(
        fs::read(&model).unwrap() == from_bin,
        "the same model from the CSVs"
    );
    // A damaged copy of unchanged CSVs is an error naming it...
    let mut damaged = bytes.clone();
    damaged.truncate(bytes.len() - 3);
    fs::write(&bin, &damaged).unwrap();
    fails(
        &d,
        &["train", "-q", "--no-track"],
        4,
        &["split.bin", "damaged"],
    );
    // ... and once a CSV changes, the copy is passed over for the CSVs.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let x = d.join("data/processed/X_train.csv");
    fs::write(&x, fs::read(&x).unwrap()).unwrap();
    ok(&d, &["train", "-q", "--no-track"]);
    assert!(fs::read(&model).unwrap() == from_bin);
}

#[test]
fn help_teaches_with_examples() {
    let d = workdir("help");
    for cmd in [
        "generate",
        "schema",
        "preprocess",
        "train",
        "evaluate",
        "predict",
        "pipeline",
    ] {
        let out = ok(&d, &[cmd, "--help"]);
        assert!(out.contains("Example"), "{cmd} --help has no example");
    }
    let out = ok(&d, &["--help"]);
    assert!(out.contains("Exit codes"), "{out}");
}

#[test]
fn tracking_runs_locally_links_the_evaluation_and_lists_both() {
    let d = workdir("track-local");
    ok(&d, &["preprocess", "-q"]);
    ok(&d, &["train", "-q", "--max-depth", "4"]);
    // A separate process evaluates: it finds the training run by the model's hash.
    ok(&d, &["evaluate", "-q"]);
    let runs = ok(&d, &["runs", "--sort", "roc_auc"]);
    assert!(runs.contains("train-random-forest-d4-n100"), "{runs}");
    assert!(runs.contains("evaluate-random-forest"), "{runs}");
    let store = churnkit::tracking::LocalStore::new(d.join("mlruns"));
    let all = store.list(None).unwrap();
    let train = all
        .iter()
        .find(|r| r.record.run_name.starts_with("train"))
        .unwrap();
    let eval = all
        .iter()
        .find(|r| r.record.run_name.starts_with("evaluate"))
        .unwrap();
    assert_eq!(eval.record.tags["churnkit.train_run_id"], train.run_id);
    assert_eq!(
        eval.record.tags["model.sha256"],
        train.record.tags["model.sha256"]
    );
    // The training run's artifacts are the files on disk.
    assert_eq!(
        store
            .artifact(&train.run_id, "feature_importance.csv")
            .unwrap(),
        fs::read(d.join("models/feature_importance.csv")).unwrap()
    );
    // --no-track logs nothing.
    ok(&d, &["--no-track", "evaluate", "-q"]);
    assert_eq!(store.list(None).unwrap().len(), 2);
    // Two trainings side by side, by the 12-character ids the listing shows.
    ok(&d, &["train", "-q", "--max-depth", "8"]);
    let deeper = store
        .list(None)
        .unwrap()
        .into_iter()
        .find(|r| r.record.run_name.contains("-d8-"))
        .unwrap();
    let cmp = ok(
        &d,
        &[
            "runs",
            "--compare",
            &train.run_id[..12],
            &deeper.run_id[..12],
        ],
    );
    let line = |start: &str| {
        cmp.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line in {cmp}"))
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("* max_depth")[2..], ["4", "8"]);
    assert_eq!(line("  n_estimators")[1..], ["100", "100"]);
    // Each metric: the first run's value, then the second's with its difference; the deeper
    // forest fits its training rows better, so its train_f1 is the marked best.
    let f1 = line("  train_f1");
    let (a, b): (f64, f64) = (f1[1].parse().unwrap(), f1[2].parse().unwrap());
    assert!(b > a, "{cmp}");
    let delta: f64 = f1[3]
        .trim_matches(|c| c == '(' || c == ')')
        .parse()
        .unwrap();
    assert!((delta - (b - a)).abs() < 2e-4, "{cmp}");
    assert_eq!(f1.last().unwrap(), "*", "{cmp}");
    assert!(cmp.contains("training_time (lower)"), "{cmp}");
    fails(
        &d,
        &["runs", "--compare", "zzzz", &train.run_id],
        4,
        &["no run 'zzzz'"],
    );
    fails(&d, &["runs", "--compare", &train.run_id], 2, &["--compare"]);
}

#[test]
fn a_run_store_that_cannot_be_written_is_a_file_system_error() {
    let d = workdir("store-blocked");
    ok(&d, &["preprocess", "-q"]);
    fs::write(d.join("blocker"), "a file where the run store should be").unwrap();
    let o = command(&d, None, &["train", "-q", "--max-depth", "3"])
        .env("CHURNKIT_RUNS_DIR", d.join("blocker/mlruns"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", error_line(&o));
    assert!(error_line(&o).contains("blocker"), "{}", error_line(&o));
}

#[test]
fn sync_to_an_unreachable_server_keeps_the_runs_and_exits_7() {
    let d = workdir("sync-down");
    ok(&d, &["pipeline", "-q", "--max-depth", "3"]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let o = command(&d, Some(&uri), &["sync"]).output().unwrap();
    let line = error_line(&o);
    assert_eq!(o.status.code(), Some(7), "{line}");
    assert!(
        line.contains("2 run(s) not delivered") && line.contains("cannot reach MLflow"),
        "{line}"
    );
    let store = churnkit::tracking::LocalStore::new(d.join("mlruns"));
    assert!(store.list(None).unwrap().iter().all(|r| r.needs_sync()));
    // Without a server configured there is nothing to sync to: a permanent tracking error.
    fails(&d, &["sync"], 6, &["MLFLOW_TRACKING_URI"]);
}

#[test]
fn an_inferred_schema_on_the_sample_is_the_guides() {
    // The sample repeats one row: its CustomerID is still an id, not a feature.
    let (guide, inferred) = (workdir("infer-guide"), workdir("infer-target"));
    ok(&guide, &["preprocess", "-q"]);
    ok(&inferred, &["preprocess", "-q", "--target", "Churn"]);
    for f in ["X_train.csv", "X_test.csv", "y_train.csv", "y_test.csv"] {
        let p = Path::new("data/processed").join(f);
        assert_eq!(
            fs::read(guide.join(&p)).unwrap(),
            fs::read(inferred.join(&p)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn predict_reads_a_part_at_a_time_and_writes_the_same_bytes() {
    let d = workdir("predict-parts");
    ok(&d, &["pipeline", "-q"]);
    // A messy input: no id column (rows are numbered), quoted fields with commas, quotes and
    // newlines in a carried column, blank lines, CRLF endings, missing markers.
    let sample = fs::read_to_string(d.join("data/sample_data.csv")).unwrap();
    let mut messy =
        String::from("Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod,Note\r\n");
    for (i, l) in sample.lines().skip(1).enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        let note = match i % 4 {
            0 => "\"says \"\"call me\"\", later\"".to_string(),
            1 => "\"two\nlines\"".to_string(),
            2 => "NA".to_string(),
            _ => format!("n{i}"),
        };
        messy.push_str(&format!(
            "{},{},{},{},{},{},{note}\r\n",
            f[1], f[2], f[3], f[4], f[5], f[6]
        ));
        if i % 17 == 0 {
            messy.push_str("\r\n");
        }
    }
    fs::write(d.join("messy.csv"), &messy).unwrap();
    let score = |out: &str, rows: &str| {
        ok(
            &d,
            &[
                "predict",
                "-q",
                "--input",
                "messy.csv",
                "--output",
                out,
                "--keep-columns",
                "--explain",
                "2",
                "--chunk-rows",
                rows,
            ],
        );
        fs::read(d.join(out)).unwrap()
    };
    let whole = score("whole.csv", "1000000");
    assert!(String::from_utf8_lossy(&whole).starts_with("row_number,Age,"));
    for rows in ["1", "7", "33"] {
        assert_eq!(
            score(&format!("parts-{rows}.csv"), rows),
            whole,
            "--chunk-rows {rows}"
        );
    }
    // The summary counts every part.
    let out = ok(
        &d,
        &[
            "predict",
            "--input",
            "messy.csv",
            "--output",
            "s.csv",
            "--chunk-rows",
            "7",
        ],
    );
    let whole_out = ok(
        &d,
        &["predict", "--input", "messy.csv", "--output", "s1.csv"],
    );
    let scored = |o: &str| {
        o.lines()
            .next()
            .unwrap_or_default()
            .split(" -> ")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(scored(&out), scored(&whole_out));
    assert_eq!(
        out.lines().nth(1),
        whole_out.lines().nth(1),
        "missing values summed over parts"
    );
    assert!(out.contains("read in 15 parts of at most 7 rows"), "{out}");
    // A bad row in a later part names the file's own line, and nothing is written.
    let mut lines: Vec<String> = messy.split("\r\n").map(String::from).collect();
    let bad = lines.iter().rposition(|l| l.contains("n95")).unwrap();
    lines[bad] = lines[bad]
        .replacen("Month-to-month", "Weekly", 1)
        .replacen("One year", "Weekly", 1)
        .replacen("Two year", "Weekly", 1);
    fs::write(d.join("bad.csv"), lines.join("\r\n")).unwrap();
    let physical = lines[..=bad]
        .iter()
        .map(|l| l.matches('\n').count() + 1)
        .sum::<usize>();
    let strict = [
        "predict",
        "--input",
        "bad.csv",
        "--output",
        "bad-out.csv",
        "--unknown-category",
        "error",
    ];
    let in_parts = [&strict[..], &["--chunk-rows", "7"]].concat();
    let parts = run(&d, &in_parts);
    let e = error_line(&parts);
    fails_output(
        parts,
        &in_parts,
        3,
        &["bad.csv", "column 'Contract'", "'Weekly'"],
    );
    let whole_e = error_line(&run(&d, &strict));
    assert_eq!(e, whole_e, "parts and a whole read name the same line");
    assert!(physical > 100, "{physical}");
    assert!(!d.join("bad-out.csv").exists());
    let left: Vec<_> = files_under(&d)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}
