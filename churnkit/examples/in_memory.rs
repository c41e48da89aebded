//! churnkit's front door: a customer table in, a trained and evaluated model out, all in memory.
//!
//! ```text
//! cargo run --release --example in_memory -- data/sample_data.csv Churn
//! ```
//!
//! Reads the file once, infers the schema, makes the stratified split, fits the preprocessing
//! and the forest on the training rows, and evaluates on the test rows. It prints a short
//! summary and, as its last line, one JSON object with the figures. It writes no file and needs
//! no server.

use churnkit::prelude::*;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, target] = args.as_slice() else {
        eprintln!("usage: in_memory DATA.csv TARGET");
        return std::process::ExitCode::from(2);
    };
    match run(data, target) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("in_memory: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(data: &str, target: &str) -> churnkit::Result<()> {
    let table = Table::read(data)?; // CSV or Parquet; or Table::from_frame(&polars_df)
    let schema = Schema::infer(&table, target, None)?;
    let split = Split::stratified(&table, &schema, SplitOptions::default())?;
    let state = Preprocessor::fit(&table, &schema, &split)?;
    let prepared = Processed::from_split(&table, &split, state)?;
    let params = RandomForestParams::new().check()?;
    let trained = train(&prepared, &params)?;
    let evaluated = trained.evaluate(&prepared, 0.5)?; // evaluate(&model, ..) for any model
    let run = evaluated.run_record(&prepared, "in-memory"); // ready for Tracker::log
    let m = &evaluated.evaluation.metrics;

    println!(
        "{data}: {} rows; target '{target}' (positive '{}')",
        table.n_rows(),
        schema.positive
    );
    println!(
        "schema: {} numeric, {} categorical, ids carried: [{}]",
        schema.numeric.len(),
        schema.categorical.len(),
        schema.id_columns.join(", ")
    );
    for w in schema.exclusion_warnings() {
        println!("  {w}");
    }
    println!(
        "split: train {}, test {} (stratified, seed 42); {} duplicate rows dropped",
        prepared.y_train.len(),
        prepared.y_test.len(),
        split.cleaning().duplicates_dropped
    );
    let top: Vec<String> = trained
        .model()
        .importances()
        .iter()
        .take(3)
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect();
    println!(
        "forest: {} trees in {:.3} s; top features: {}",
        trained.model().trees.len(),
        trained.fit_seconds,
        top.join(", ")
    );
    println!(
        "test: accuracy {:.3}, F1 {:.3}, ROC AUC {}; run record with {} artifacts in memory",
        m.accuracy,
        m.f1,
        m.roc_auc.map_or("undefined".into(), |v| format!("{v:.3}")),
        run.artifacts.len()
    );
    let summary = serde_json::json!({
        "rows_train": prepared.y_train.len(),
        "rows_test": prepared.y_test.len(),
        "features": prepared.state.feature_names(),
        "accuracy": m.accuracy,
        "f1": m.f1,
        "roc_auc": m.roc_auc,
        "precision": m.precision,
        "recall": m.recall,
        "average_precision": evaluated.evaluation.average_precision,
    });
    println!("{summary}");
    Ok(())
}
