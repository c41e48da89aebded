//! The forest's fit alone, in process CPU seconds, on the training rows of a processed split
//! with the hyperparameters of the project's saved model: a plain fit, and the fit that also
//! scores the training rows (what `churnkit train` runs). Prints JSON. Used by bench/scale.py,
//! which divides `churnkit train`'s whole-process CPU by the plain fit's. A fit shorter than a
//! second is repeated and its mean reported.
//!
//! `cargo run --release --example bench_fit -- PROJECT_DIR`
use churnkit_core::model::Model;

/// User + system CPU of this process (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    churnkit::workflow::cpu_seconds().expect("CPU time from /proc/self/stat")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: bench_fit PROJECT_DIR")?;
    let layout = churnkit::layout::Layout::under(&dir);
    let data = layout.load_processed()?;
    let saved = layout.load_model(&data.state.feature_names())?;
    let (x, y) = (&data.x_train, &data.y_train);
    let fit = |scored: bool| -> Result<(f64, Model), churnkit_core::Error> {
        let c = cpu_seconds();
        let m = if scored {
            Model::fit_scored(saved.kind, &saved.params, x, y, &|| {})?.0
        } else {
            Model::fit(saved.kind, &saved.params, x, y, &|| {})?
        };
        Ok((cpu_seconds() - c, m))
    };
    // /proc counts CPU in 10 ms ticks: a small fit is repeated for a second or more, and the
    // mean reported.
    let mean = |scored: bool| -> Result<(f64, Model), churnkit_core::Error> {
        let (mut total, model) = fit(scored)?;
        let mut runs = 1;
        while total < 1.0 {
            total += fit(scored)?.0;
            runs += 1;
        }
        Ok((total / runs as f64, model))
    };
    let (plain, model) = mean(false)?;
    let (scored, _) = mean(true)?;
    // The benchmark's fit is the one `train` made: same trees.
    let same = model.trees == saved.trees;
    println!(
        "{{\"rows\": {}, \"fit_cpu_s\": {plain}, \"fit_scored_cpu_s\": {scored}, \"same_trees_as_saved\": {same}}}",
        y.len()
    );
    Ok(())
}
