//! What cross-validation costs beside the fits it is made of, in process CPU seconds: stratified
//! 5-fold `cross_validate` on a generated table (each fold preprocessed on its own, all folds in
//! parallel), against 5 plain fits of the same forest on as many rows as one fold trains on.
//! Prints JSON with the ratio. The goal (issue 23) is at most 1.3.
//!
//! `cargo run --release --example bench_cv -- [ROWS] [FOLDS]`
use churnkit::prelude::*;
use churnkit_core::model::{Model, ModelKind};

/// User + system CPU of this process (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    churnkit::workflow::cpu_seconds().expect("CPU time from /proc/self/stat")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map_or(Ok(100_000), |v| v.parse())?;
    let k: usize = std::env::args().nth(2).map_or(Ok(5), |v| v.parse())?;
    let (csv, _) = churnkit::generate::generate_rows(rows, 7);
    let table = Table::from_csv_bytes(csv, "generated.csv")?;
    let schema = Schema::infer(&table, "Churn", None)?;
    let params = RandomForestParams::new().check()?;

    let c0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    let cv = churnkit::workflow::cross_validate(&table, &schema, &params, k, 42)?;
    let (cv_cpu, cv_wall) = (cpu_seconds() - c0, t0.elapsed().as_secs_f64());

    // The fits cross-validation is made of: one per fold, on a fold's training rows.
    let data = Processed::fit(&table, &schema, SplitOptions::new(1.0 / k as f64, 42))?;
    let c1 = cpu_seconds();
    for _ in 0..k {
        Model::fit(
            ModelKind::RandomForest,
            &params,
            &data.x_train,
            &data.y_train,
            &|| {},
        )?;
    }
    let fits_cpu = cpu_seconds() - c1;
    println!(
        "{{\"rows\": {rows}, \"folds\": {k}, \"cv_cpu_s\": {cv_cpu:.2}, \"cv_wall_s\": {cv_wall:.2}, \"fits_cpu_s\": {fits_cpu:.2}, \"ratio\": {:.3}, \"cv_roc_auc\": {:.4}, \"cv_roc_auc_sd\": {:.4}}}",
        cv_cpu / fits_cpu,
        cv.mean.roc_auc,
        cv.sd.roc_auc
    );
    Ok(())
}
