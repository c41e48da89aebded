//! Predict throughput of a saved model on one core: the forest walk alone (no CSV), over the
//! training rows of a processed split. Prints JSON. Used by bench/scale.py.
//!
//! `cargo run --release --example bench_predict -- PROJECT_DIR`
use churnkit_core::forest::{predict_rows, Columns};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: bench_predict PROJECT_DIR")?;
    let layout = churnkit::layout::Layout::under(&dir);
    let data = layout.load_processed()?;
    let model = layout.load_model(&data.state.feature_names())?;
    let x = Columns(&data.x_train.columns);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (mut best, mut rows) = (f64::INFINITY, 0);
    // The best of three: the machine is shared.
    for _ in 0..3 {
        let t = std::time::Instant::now();
        rows = pool.install(|| predict_rows(&model.trees, &x)).len();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let depth = model.trees.iter().map(|t| t.depth()).max().unwrap_or(0);
    println!(
        "{{\"rows\": {rows}, \"trees\": {}, \"max_depth\": {depth}, \"seconds\": {best}, \"rows_per_s_one_core\": {}}}",
        model.trees.len(),
        rows as f64 / best
    );
    Ok(())
}
