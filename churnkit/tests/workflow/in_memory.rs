//! The library on values, end to end: a polars DataFrame built in code (typed columns, an added
//! feature) -> schema -> split -> preprocessor -> forest -> evaluation -> run record -> tracked
//! run -> comparison, with no file but the run store, and the save step as a separate, exact
//! round trip.

use churnkit::polars::prelude::{Column, CsvReadOptions, DataFrame, DataType, SerReader};
use churnkit::prelude::*;
use churnkit::tracking::{compare, keys, LocalStore, RunSource};

/// A customer table as a data scientist might hold it: typed columns, an id, a boolean flag,
/// blanks, and a column derived from two others.
fn customers(rows: usize) -> DataFrame {
    let (csv, _) = churnkit::generate::generate_rows(rows, 3);
    let df = CsvReadOptions::default()
        .into_reader_with_file_handle(std::io::Cursor::new(csv))
        .finish()
        .unwrap();
    let tenure = df
        .column("Tenure")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    let monthly = df.column("MonthlyCharges").unwrap().f64().unwrap().clone();
    let tenure = tenure.f64().unwrap();
    let per_month: Vec<f64> = tenure
        .iter()
        .zip(monthly.iter())
        .map(|(t, m)| m.unwrap_or(0.0) / (t.unwrap_or(0.0) + 1.0))
        .collect();
    // Derived from the row, so the generator's duplicate rows stay exact duplicates.
    let paperless: Vec<bool> = tenure
        .iter()
        .map(|t| t.unwrap_or(0.0) % 2.0 == 0.0)
        .collect();
    let mut df = df;
    df.with_column(Column::new("ChargePerTenure".into(), per_month))
        .unwrap();
    df.with_column(Column::new("Paperless".into(), paperless))
        .unwrap();
    df
}

/// The frame preprocessed with an inferred schema and the default split.
fn prepared(df: &DataFrame) -> Processed {
    let table = Table::from_frame(df).unwrap();
    let schema = Schema::infer(&table, "Churn", None).unwrap();
    Processed::fit(&table, &schema, SplitOptions::default()).unwrap()
}

#[test]
fn a_data_frame_goes_to_a_tracked_compared_run_without_the_cli_layout() {
    let df = customers(1_500);
    let table = Table::from_frame(&df).unwrap();
    let schema = Schema::infer(&table, "Churn", None).unwrap();
    assert_eq!(schema.id_columns, ["CustomerID"]);
    assert!(schema.numeric.contains(&"ChargePerTenure".to_string()));
    assert!(schema.categorical.contains(&"Paperless".to_string()));
    let split = Split::stratified(&table, &schema, SplitOptions::default()).unwrap();
    let state = Preprocessor::fit(&table, &schema, &split).unwrap();
    assert_eq!(state.input.file, "(DataFrame)");
    assert_eq!(state.input.sha256, table.sha256());
    let data = Processed::from_split(&table, &split, state).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker {
        local: LocalStore::new(dir.path().join("mlruns")),
        server: None,
    };
    let mut ids = Vec::new();
    let mut f1s = Vec::new();
    for depth in [3, 8] {
        let params = RandomForestParams::new()
            .n_estimators(40)
            .max_depth(Some(depth))
            .check()
            .unwrap();
        let trained = train(&data, &params).unwrap();
        let train_run = tracker
            .log(&trained.run_record(&data, "frame-sweep"))
            .unwrap();
        let evaluated = evaluate(trained.model(), &data, 0.5).unwrap();
        let mut eval_run = evaluated.run_record(&data, "frame-sweep");
        eval_run.link_to_training(&train_run.stored.run_id, train_run.remote_id());
        let logged = tracker.log(&eval_run).unwrap();
        // What was logged is what was computed: the chart bytes and the model.
        let roc = tracker
            .local
            .artifact(&logged.stored.run_id, "roc_curve.png")
            .unwrap();
        assert_eq!(roc, evaluated.charts.roc_curve.bytes);
        let model = tracker
            .local
            .artifact(&train_run.stored.run_id, "model/churn_model.json")
            .unwrap();
        assert_eq!(&Model::from_json(&model).unwrap(), trained.model());
        assert_eq!(
            logged.stored.record.tags[keys::tags::TRAIN_RUN_ID],
            train_run.stored.run_id
        );
        ids.push(train_run.stored.run_id.clone());
        f1s.push(trained.test.f1);
    }
    // Only the run store was written.
    let entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["mlruns"]);
    let table = compare(&RunSource::Local(tracker.local.clone()), &ids).unwrap();
    assert_eq!(table.height(), 2);
    let depth = table.column("params.max_depth").unwrap();
    assert_eq!(depth.str().unwrap().get(0), Some("3"));
    let f1 = table.column("metrics.test_f1").unwrap().f64().unwrap();
    assert_eq!(f1.get(0), Some(f1s[0]));
    assert_eq!(f1.get(1), Some(f1s[1]));
}

#[test]
fn the_same_data_gives_the_same_model_bytes_on_any_thread_count() {
    let df = customers(800);
    let data = prepared(&df);
    let fit = |threads| {
        let p = RandomForestParams::new()
            .n_threads(Some(threads))
            .check()
            .unwrap();
        train(&data, &p).unwrap()
    };
    let (a, b) = (fit(1), fit(2));
    assert!(a.model_json() == b.model_json(), "model JSON differs");
    assert_eq!(a.test, b.test);
    let (ea, eb) = (
        a.evaluate(&data, 0.5).unwrap(),
        b.evaluate(&data, 0.5).unwrap(),
    );
    assert_eq!(ea.files(), eb.files(), "charts and reports differ");
}

#[test]
fn saving_is_a_separate_exact_step() {
    let df = customers(400);
    let data = prepared(&df);
    let params = RandomForestParams::new().n_estimators(10).check().unwrap();
    let trained = train(&data, &params).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::under(dir.path());
    layout.save_processed(&data).unwrap();
    let record = trained.run_record(&data, "e");
    let written = layout.save_training(&trained, &record).unwrap();
    assert_eq!(written.len(), 3);
    let back = layout.load_processed().unwrap();
    assert_eq!(
        back, data,
        "the processed files read back as the same values"
    );
    let model = layout.load_model(&back.state.feature_names()).unwrap();
    assert_eq!(&model, trained.model());
    // Evaluating the re-read model on the re-read data gives identical outputs.
    let a = evaluate(trained.model(), &data, 0.5).unwrap();
    let b = evaluate(&model, &back, 0.5).unwrap();
    assert_eq!(a.files(), b.files());
    // A model for other features is refused with both lists named.
    let e = layout
        .load_model(&["a".to_string(), "b".to_string()])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Model);
    assert!(e.to_string().contains("churn_model.json"), "{e}");
}

#[test]
fn predictions_for_new_rows_use_the_fitted_state() {
    let df = customers(600);
    let data = prepared(&df);
    let params = RandomForestParams::new().n_estimators(20).check().unwrap();
    let trained = train(&data, &params).unwrap();
    let new = Table::from_frame(&df.head(Some(5)).drop("Churn").unwrap()).unwrap();
    let scores = predict(
        &data.state,
        trained.model(),
        &new,
        PredictOptions::default().unknown(UnknownCategory::Error),
    )
    .unwrap();
    assert_eq!(scores.probability.len(), 5);
    assert_eq!(scores.columns[0].0, "CustomerID");
    assert_eq!(scores.row_column, None);
    let csv = String::from_utf8(scores.to_csv()).unwrap();
    assert!(csv.starts_with("CustomerID,churn_probability,churn_prediction\n"));
    assert_eq!(csv.lines().count(), 6);
}

#[test]
fn saving_an_evaluation_leaves_exactly_its_own_files() {
    // Two evaluations into one directory with different options: the first with permutation
    // importance, the second without (as when the test rows hold one class, where it is
    // undefined) and at another threshold. After each, the directory holds exactly that run's
    // files: no table or chart of the first sits beside the second's results.
    let data = prepared(&customers(400));
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::under(dir.path());
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&layout.metrics)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let params = RandomForestParams::new().n_estimators(10).check().unwrap();
    let trained = train(&data, &params).unwrap();
    let mut runs = Vec::new();
    for (threshold, permutation) in [(0.5, true), (0.3, false)] {
        let mut evaluated = trained.evaluate(&data, threshold).unwrap();
        if !permutation {
            evaluated.permutation = None;
            evaluated.permutation_chart = None;
        }
        let record = evaluated.run_record(&data, "stale");
        let written = layout.save_evaluation(&evaluated, &record).unwrap();
        let mut names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            listing(),
            names,
            "the directory holds exactly this run's files"
        );
        runs.push(names);
    }
    assert!(runs[0].contains(&"permutation_importance.png".to_string()));
    assert!(runs[0].contains(&"permutation_importance.csv".to_string()));
    assert_eq!(runs[0].len(), runs[1].len() + 2, "{runs:?}");
    // The set the save step cleans is every file an evaluation writes.
    for name in &runs[0] {
        assert!(
            churnkit::artifacts::EVALUATION_FILES.contains(&name.as_str()),
            "{name}"
        );
    }
}
