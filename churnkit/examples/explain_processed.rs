//! Exact TreeSHAP contributions of a saved model for the rows of a processed feature file, as a
//! CSV (`base_value`, then one column per feature), with the CPU seconds of the explanation on
//! stderr. `bench/shap_bench.py` compares these values and times with the `shap` package's.
//!
//! Usage: `explain_processed MODEL.json X.csv OUT.csv`

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn main() -> churnkit::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, x, out] = args.as_slice() else {
        eprintln!("usage: explain_processed MODEL.json X.csv OUT.csv");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read(p).map_err(|e| churnkit::Error::io(p, e));
    let model = churnkit::model::Model::from_json(&read(model)?)?;
    let x = churnkit::frame::Frame::from_csv(read(x)?, x)?;
    let cpu0 = cpu_seconds();
    let wall0 = std::time::Instant::now();
    let c = model.explain(&x)?;
    eprintln!(
        "{{\"explain_cpu_s\": {:.3}, \"explain_wall_s\": {:.3}, \"rows\": {}}}",
        cpu_seconds() - cpu0,
        wall0.elapsed().as_secs_f64(),
        c.n_rows()
    );
    let mut csv = String::from("base_value");
    for n in &model.feature_names {
        csv.push(',');
        csv.push_str(n);
    }
    csv.push('\n');
    for i in 0..c.n_rows() {
        csv.push_str(&c.base_value.to_string());
        for v in c.row(i) {
            csv.push(',');
            csv.push_str(&v.to_string());
        }
        csv.push('\n');
    }
    churnkit::io::write_atomic(out, csv.as_bytes())
}
