//! Helpers shared by the CLI's integration tests: a scratch project per test (removed when the
//! test ends), the binary run with a clean tracking environment, and the optional inputs
//! (`../shared`'s Telco file, the MLflow test servers), which skip with a reason on a plain
//! clone and are required where scripts/test.sh says so.

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_churnkit");

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// An optional input: `Some` when `var` (or the default) names something that exists; `None`
/// with a printed reason otherwise, unless `require_var` is set (then the test fails).
fn optional(what: &str, found: Option<String>, require_var: &str) -> Option<String> {
    if found.is_some() {
        return found;
    }
    assert!(
        std::env::var_os(require_var).is_none(),
        "{what} is missing but {require_var} is set: scripts/test.sh should have provided it"
    );
    eprintln!("skipping: {what} not available (scripts/test.sh provides it)");
    None
}

/// The IBM Telco file from `../shared` (beside the checkout), or `CHURNKIT_TELCO`.
pub fn telco() -> Option<PathBuf> {
    let p = std::env::var_os("CHURNKIT_TELCO")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data/telco-customer-churn.csv"));
    let found = p.exists().then(|| p.display().to_string());
    optional(
        &format!("the Telco data ({})", p.display()),
        found,
        "CHURNKIT_REQUIRE_TELCO",
    )
    .map(PathBuf::from)
}

/// The URL of an MLflow test server from `var`.
pub fn mlflow(var: &str) -> Option<String> {
    let found = std::env::var(var).ok().filter(|u| !u.is_empty());
    optional(
        &format!("an MLflow server ({var})"),
        found,
        "CHURNKIT_REQUIRE_MLFLOW",
    )
}

/// A scratch project with the committed sample in `data/`; deleted on drop.
pub struct Workdir(tempfile::TempDir);

impl Deref for Workdir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Workdir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

pub fn workdir(name: &str) -> Workdir {
    let d = tempfile::Builder::new()
        .prefix(&format!("churnkit-{name}-"))
        .tempdir()
        .unwrap();
    fs::create_dir_all(d.path().join("data")).unwrap();
    fs::copy(
        repo().join("data/sample_data.csv"),
        d.path().join("data/sample_data.csv"),
    )
    .unwrap();
    Workdir(d)
}

/// The binary in `dir`, with no MLflow settings from the caller's environment and the run store
/// inside `dir` (`uri`: the tracking server to use, if any).
pub fn command(dir: &Path, uri: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MLFLOW_") {
            c.env_remove(&k);
        }
    }
    c.env("CHURNKIT_RUNS_DIR", dir.join("mlruns"))
        .env("CHURNKIT_HTTP_RETRIES", "0");
    if let Some(u) = uri {
        c.env("MLFLOW_TRACKING_URI", u);
    }
    c
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, None, args).output().unwrap()
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "churnkit {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run a failing command; check exit code, and a one-line error (the only stderr line) that
/// contains every needle.
pub fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str]) {
    fails_output(run(dir, args), args, code, needles);
}

pub fn fails_output(o: Output, args: &[&str], code: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "churnkit {args:?}: stderr {err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("churnkit: error"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "nothing but the error on stderr: {err}"
    );
    for n in needles {
        assert!(
            lines[0].contains(n),
            "error should mention {n:?}: {}",
            lines[0]
        );
    }
}

/// The error line of a failed run (warnings may precede it).
pub fn error_line(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    err.lines()
        .find(|l| l.starts_with("churnkit: error"))
        .unwrap_or_else(|| panic!("no error line in: {err}"))
        .to_string()
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
