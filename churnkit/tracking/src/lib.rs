//! Experiment tracking for churnkit: [`RunRecord`]s (with their artifacts in memory), an MLflow
//! REST client, a local run store that needs no server, and queries that work the same over both.
//!
//! Every run is first written to the local store (`mlruns/`, atomically), then, if
//! `MLFLOW_TRACKING_URI` names a server, delivered to it. If the server is unreachable or fails
//! part-way, the run stays in the local store marked unsynced and [`Tracker::sync`] delivers it
//! later, resuming the same remote run, so nothing is lost and nothing is logged twice.
//!
//! This crate depends on the core's types only; it knows nothing of the CLI or of where the
//! workflow keeps its files.
//!
//! ```
//! use churnkit_tracking::{record::{Artifact, RunKind, RunRecord}, LocalStore, Tracker};
//! let dir = tempfile::tempdir()?;
//! let tracker = Tracker { local: LocalStore::new(dir.path()), server: None };
//! let mut run = RunRecord::new(RunKind::Train, "churn-prediction", "train-demo");
//! run.params.insert("max_depth".into(), "10".into());
//! run.metrics.insert("roc_auc".into(), Some(0.84));
//! run.artifacts.push(Artifact::new("notes.txt", "hello"));
//! let logged = tracker.log(&run)?;
//! assert_eq!(tracker.local.artifact(&logged.stored.run_id, "notes.txt")?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
pub mod compare;
mod filter;
pub mod local;
pub mod pyfunc;
pub mod query;
pub mod record;
pub mod registry;
mod tracker;

pub use churnkit_core::{Error, ErrorKind, Result};
pub use client::{Auth, Metric, MlflowClient, Run, RunInfo};
pub use compare::{find_runs, Comparison};
pub use local::{LocalStore, RemoteRef, Scan, StoredRun};
pub use query::{
    best_run, compare, list_runs, metric_history, search_runs, Filter, RunRow, RunSource, Where,
};
pub use record::{
    keys, Artifact, DatasetInput, MetricPoint, ModelFlavor, PythonFunction, RunKind, RunRecord,
    RunStatus,
};
pub use registry::{ModelRef, ModelVersion, RegisteredModel, Registry};
pub use tracker::{Delivery, Logged, SyncReport, Tracker};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC for `ms` since the epoch (MLflow's format).
pub fn utc_string(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        (ms % 1000) * 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_string_matches_known_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00:00.000000");
        assert_eq!(utc_string(951_782_400_123), "2000-02-29 00:00:00.123000");
        assert_eq!(utc_string(1_795_834_478_108), "2026-11-28 02:54:38.108000");
    }
}
