//! What a retention team decides, on values: out-of-bag scores, the profit-optimal threshold
//! chosen on them (not on the test rows), calibration stored in the model and applied by
//! predict, and exact TreeSHAP reasons that add up to every row's score, on generated tables
//! and on Telco.

use churnkit::calibration::CalibrationMethod;
use churnkit::decisions::ThresholdChoice;
use churnkit::prelude::*;
use churnkit::profit::{Economics, ProfitCurve};
use churnkit::workflow::{EvaluateOptions, Threshold, TrainSpec};

fn generated(rows: usize, seed: u64) -> Table {
    let (csv, _) = churnkit::generate::generate_rows(rows, seed);
    Table::from_csv_bytes(csv, "generated.csv").unwrap()
}

fn telco() -> Option<Table> {
    let p = std::env::var_os("CHURNKIT_TELCO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/telco-customer-churn.csv")
        });
    if !p.exists() {
        assert!(
            std::env::var_os("CHURNKIT_REQUIRE_TELCO").is_none(),
            "CHURNKIT_REQUIRE_TELCO is set but {} is missing",
            p.display()
        );
        eprintln!(
            "skipping Telco: {} not found (scripts/test.sh provides it)",
            p.display()
        );
        return None;
    }
    Some(Table::read(&p).unwrap())
}

fn processed(table: &Table, target: &str) -> Processed {
    let schema = Schema::infer(table, target, None).unwrap();
    Processed::fit(table, &schema, SplitOptions::default()).unwrap()
}

fn forest(trees: usize) -> churnkit::forest::RandomForestValidParams {
    RandomForestParams::new()
        .n_estimators(trees)
        .check()
        .unwrap()
}

#[test]
fn out_of_bag_scores_estimate_the_test_metrics() {
    let data = processed(&generated(6000, 4), "Churn");
    let t = train(&data, forest(100)).unwrap();
    let oob = t
        .oob
        .as_ref()
        .expect("a bagged forest has out-of-bag scores");
    assert_eq!(
        oob.rows,
        data.y_train.len(),
        "100 trees leave every row out somewhere"
    );
    let (o, test) = (oob.roc_auc.unwrap(), t.test.roc_auc.unwrap());
    // Training AUC is inflated; the out-of-bag one is an honest estimate of the test AUC.
    assert!((o - test).abs() < 0.03, "oob {o} vs test {test}");
    assert!(t.train.roc_auc.unwrap() > o + 0.02);
    let run = t.run_record(&data, "x");
    assert_eq!(run.metrics["oob_roc_auc"], oob.roc_auc);
}

#[test]
fn the_optimal_threshold_is_chosen_on_out_of_bag_scores() {
    let data = processed(&generated(5000, 9), "Churn");
    let t = train(&data, forest(60)).unwrap();
    let e = Economics {
        offer_cost: 30.0,
        retained_value: 400.0,
        success_rate: 0.35,
    };
    let opts = EvaluateOptions::new()
        .threshold(Threshold::ProfitOptimal)
        .economics(e);
    let ev = t.evaluate(&data, &opts).unwrap();
    let ThresholdChoice::ProfitOptimal {
        threshold,
        oob_profit,
        ..
    } = ev.decisions.threshold
    else {
        panic!("expected the optimal threshold");
    };
    // The same choice, made by hand on the out-of-bag scores of the training rows.
    let oob = t.model().oob_scores(&data.x_train).unwrap();
    let want = ProfitCurve::new(&data.y_train, &oob, e).unwrap().best();
    assert_eq!((threshold, oob_profit), want);
    // Reported on the test rows, at that threshold; 0.5 is reported beside it.
    assert_eq!(ev.evaluation.threshold, threshold);
    let test_curve = ProfitCurve::new(&data.y_test, &ev.evaluation.proba, e).unwrap();
    assert_eq!(
        ev.decisions.profit_at_threshold,
        test_curve.profit_at(threshold)
    );
    assert_eq!(ev.decisions.profit_at_half, test_curve.profit_at(0.5));
    // With an offer this cheap the break-even probability is low: more customers get one.
    assert!(threshold < 0.5, "threshold {threshold}");
    let run = ev.run_record(&data, "x");
    assert_eq!(
        run.params["threshold_choice"],
        "profit-optimal on out-of-bag scores"
    );
    for f in [
        "decisions.json",
        "gains_table.csv",
        "cumulative_gains.png",
        "lift_chart.png",
        "calibration_curve.png",
        "profit_curve.png",
    ] {
        assert!(run.artifacts.iter().any(|a| a.path == f), "{f} is logged");
    }
    // A decision tree has no out-of-bag rows: a clear error, not a threshold from test rows.
    let dt = train(
        &data,
        TrainSpec::new(forest(1)).model(ModelKind::DecisionTree),
    )
    .unwrap();
    let err = dt.evaluate(&data, &opts).unwrap_err().to_string();
    assert!(err.contains("out-of-bag"), "{err}");
}

#[test]
fn calibration_is_fitted_out_of_bag_stored_and_applied() {
    let data = processed(&generated(8000, 2), "Churn");
    let raw = train(&data, forest(60)).unwrap();
    let spec = TrainSpec::new(forest(60)).calibration(CalibrationMethod::Isotonic);
    let cal = train(&data, spec).unwrap();
    let back = Model::from_json(cal.model_json()).unwrap();
    assert_eq!(back, *cal.model(), "the map is saved in the model file");
    assert!(back.calibration.is_some());
    let (e_raw, e_cal) = (
        raw.evaluate(&data, 0.5).unwrap(),
        cal.evaluate(&data, 0.5).unwrap(),
    );
    // Same trees (same seed), calibrated probabilities: the test rows' calibration error falls.
    let (a, b) = (
        e_raw.decisions.calibration.ece,
        e_cal.decisions.calibration.ece,
    );
    assert!(b < a, "ECE raw {a} calibrated {b}");
    let run = cal.run_record(&data, "x");
    assert_eq!(run.params["calibration"], "isotonic");
}

fn check_reasons(data: &Processed, table: &Table, trees: usize) {
    let t = train(data, forest(trees)).unwrap();
    let model = t.model();
    let k = model.feature_names.len();
    let scores = predict(
        &data.state,
        model,
        table,
        PredictOptions::default().explain(k),
    )
    .unwrap();
    let base = scores.base_value.unwrap();
    assert_eq!(scores.reasons.len(), table.n_rows());
    for (i, (reasons, p)) in scores.reasons.iter().zip(&scores.probability).enumerate() {
        let total: f64 = base + reasons.iter().map(|r| r.contribution).sum::<f64>();
        assert!(
            (total - p).abs() < 1e-9,
            "row {i}: base + contributions {total} vs score {p}"
        );
        assert!(reasons
            .windows(2)
            .all(|w| w[0].contribution.abs() >= w[1].contribution.abs()));
    }
    let csv = String::from_utf8(
        predict(
            &data.state,
            model,
            table,
            PredictOptions::default().explain(3),
        )
        .unwrap()
        .to_csv(),
    )
    .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with("reason_3_feature,reason_3_value,reason_3_contribution"),
        "{header}"
    );
}

#[test]
fn reasons_add_up_to_every_score_on_generated_and_messy_tables() {
    let table = generated(3000, 5);
    check_reasons(&processed(&table, "Churn"), &table, 50);
    let (csv, _) = churnkit::generate::generate_shaped(2000, 6, churnkit::generate::Shape::Messy);
    let messy = Table::from_csv_bytes(csv, "messy.csv").unwrap();
    check_reasons(&processed(&messy, "Churn"), &messy, 30);
}

#[test]
fn reasons_add_up_to_every_score_on_telco() {
    let Some(table) = telco() else { return };
    check_reasons(&processed(&table, "Churn"), &table, 100);
}
