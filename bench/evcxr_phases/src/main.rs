//! Per-phase times of evcxr 0.22 cells (what the Jupyter kernel does, without Jupyter):
//! `:dep churnkit`, a first `let` that uses it, then trivial cells. Build dir: EVCXR_TMPDIR.
use std::time::Instant;

fn main() {
    evcxr::runtime_hook();
    let (mut ctx, outputs) = evcxr::CommandContext::new().expect("context");
    // Show the child's stdout/stderr lines as they come (like the kernel's streams).
    std::thread::spawn(move || {
        for l in outputs.stderr {
            if !l.trim_start().starts_with("Compiling") {
                eprintln!("  child: {l}")
            }
        }
    });
    let repo = std::env::args().nth(1).unwrap_or("/work/main".into());
    let cells = [
        ":opt 0".to_string(),
        ":linker system".to_string(),
        ":preserve_vars_on_panic 1".to_string(),
        format!(":dep churnkit = {{ path = \"{repo}/churnkit\", features = [\"notebook\"] }}"),
        if std::env::var_os("NO_QUESTION_MARK").is_some() {
            format!("use churnkit::notebook::*;\nlet df = load_csv(\"{repo}/data/sample_data.csv\").unwrap();")
        } else {
            format!(
                "use churnkit::notebook::*;\nlet df = load_csv(\"{repo}/data/sample_data.csv\")?;"
            )
        },
        "let n = df.height();\nn".to_string(),
        "let m = summary(&df)?;\nm.height()".to_string(),
        "df.height()".to_string(),
        "let a: i32 = 1 + 1;\na".to_string(),
        "let b: i32 = 2 + 1;\nb".to_string(),
        "1 + 1".to_string(),
        "2 + 2".to_string(),
        "3 + 3".to_string(),
    ];
    for c in &cells {
        let t0 = Instant::now();
        let r = ctx.execute(c);
        let wall = t0.elapsed().as_secs_f64();
        let first = c.lines().next().unwrap_or_default();
        match r {
            Ok(o) => {
                let phases: Vec<String> = o
                    .phases
                    .iter()
                    .map(|p| format!("{} {:.2}s", p.name, p.duration.as_secs_f64()))
                    .collect();
                println!("{wall:6.2}s  {first:<50} | {}", phases.join(", "));
            }
            Err(e) => println!("{wall:6.2}s  {first:<50} | ERROR {e}"),
        }
    }
}
