//! Experiment tracking: an MLflow REST client, a local run store that needs no server, and
//! query helpers that work the same over both.
//!
//! Every run is first written to the local store (`mlruns/`, atomically), then, if
//! `MLFLOW_TRACKING_URI` names a server, delivered to it. If the server is unreachable or fails
//! part-way, the run stays in the local store marked unsynced and `churnkit sync` delivers it
//! later, resuming the same remote run, so nothing is lost and nothing is logged twice.

pub mod client;
pub mod local;
pub mod query;

pub use client::{Auth, Metric, MlflowClient, Run, RunInfo, TrackingError};
pub use local::{LocalStore, RemoteRef, StoredRun};
pub use query::{best_run, compare, metric_history, search_runs, RunRow, RunSource};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// One point of a metric's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Step (e.g. number of trees).
    pub step: i64,
    /// Value (`None`: undefined).
    pub value: Option<f64>,
}

/// Everything a step logs for one run: what the tracking layer sends to MLflow or stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `train` or `evaluate`.
    pub kind: String,
    /// Experiment name.
    pub experiment: String,
    /// Human-readable run name.
    pub run_name: String,
    /// Start, in ms since the Unix epoch.
    pub start_time_ms: u64,
    /// End, in ms since the Unix epoch.
    pub end_time_ms: u64,
    /// Hyperparameters and sizes.
    pub params: BTreeMap<String, String>,
    /// Final metric values (`None`: undefined, e.g. AUC with one class; logged as NaN).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Metrics with several steps (e.g. test AUC as trees are added).
    #[serde(default)]
    pub metric_history: BTreeMap<String, Vec<MetricPoint>>,
    /// Reproducibility tags.
    pub tags: BTreeMap<String, String>,
    /// Files to attach, logged under their file names.
    pub artifacts: Vec<PathBuf>,
    /// Files that make up the model, logged as the run's model.
    #[serde(default)]
    pub model_files: Vec<PathBuf>,
}

impl RunRecord {
    /// (artifact path, source file) for every file of the run; model files under `model/`.
    pub fn artifact_files(&self) -> Vec<(String, PathBuf)> {
        let name = |p: &PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        self.artifacts
            .iter()
            .map(|p| (name(p), p.clone()))
            .chain(
                self.model_files
                    .iter()
                    .map(|p| (format!("model/{}", name(p)), p.clone())),
            )
            .collect()
    }
}

/// Where a logged run ended up.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// On the server.
    Server {
        /// Remote run id.
        run_id: String,
        /// Remote experiment id.
        experiment_id: String,
        /// Link to the run in the MLflow UI.
        url: String,
    },
    /// Only in the local store; `reason` says why the server did not get it (None: no server
    /// configured).
    Local {
        /// Why not on a server.
        reason: Option<String>,
    },
}

/// The outcome of [`Tracker::log`].
#[derive(Debug, Clone)]
pub struct Logged {
    /// The local copy.
    pub stored: StoredRun,
    /// Where it went.
    pub delivery: Delivery,
}

/// The outcome of [`Tracker::sync`].
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Runs delivered now: (local id, remote id).
    pub delivered: Vec<(String, String)>,
    /// Runs that were already on the server.
    pub already_synced: usize,
    /// Runs that could not be delivered: (local id, error).
    pub failed: Vec<(String, String)>,
}

/// Logs runs: always to the local store, and to a server when one is configured.
#[derive(Debug, Clone)]
pub struct Tracker {
    /// The local store.
    pub local: LocalStore,
    /// The server, if any.
    pub server: Option<MlflowClient>,
}

impl Tracker {
    /// `MLFLOW_TRACKING_URI` (http/https) and `CHURNKIT_RUNS_DIR` (default `mlruns/`).
    pub fn from_env() -> Result<Self, TrackingError> {
        Ok(Tracker {
            local: LocalStore::from_env(),
            server: MlflowClient::from_env()?,
        })
    }

    /// Record `record` locally, then deliver it to the server if there is one. Transient server
    /// failures (unreachable, 5xx) leave the run local for `sync`; a rejection (4xx) is an error.
    pub fn log(&self, record: &RunRecord) -> Result<Logged, TrackingError> {
        let mut stored = self.local.save(record)?;
        let Some(client) = &self.server else {
            return Ok(Logged {
                stored,
                delivery: Delivery::Local { reason: None },
            });
        };
        match self.push(client, &mut stored) {
            Ok(delivery) => Ok(Logged { stored, delivery }),
            Err(e) if e.is_transient() => Ok(Logged {
                stored,
                delivery: Delivery::Local {
                    reason: Some(e.to_string()),
                },
            }),
            Err(e) => Err(e),
        }
    }

    /// Deliver every local run that has not reached the server yet, oldest first. Safe to
    /// repeat: a delivered run is marked and skipped; a half-delivered one is resumed.
    pub fn sync(&self) -> Result<SyncReport, TrackingError> {
        let client = self.server.as_ref().ok_or_else(|| {
            TrackingError::Local("no server to sync to: set MLFLOW_TRACKING_URI".into())
        })?;
        let mut report = SyncReport::default();
        for mut run in self.local.list(None)? {
            if !run.needs_sync() {
                report.already_synced += 1;
                continue;
            }
            match self.push(client, &mut run) {
                Ok(Delivery::Server { run_id, .. }) => report.delivered.push((run.run_id, run_id)),
                Ok(Delivery::Local { .. }) => {}
                Err(e) => report.failed.push((run.run_id, e.to_string())),
            }
        }
        Ok(report)
    }

    /// Deliver one stored run, creating or resuming its remote run.
    fn push(&self, c: &MlflowClient, stored: &mut StoredRun) -> Result<Delivery, TrackingError> {
        let rec = stored.record.clone();
        let experiment_id = c.get_or_create_experiment(&rec.experiment)?;
        let mut tags = rec.tags.clone();
        // Link an evaluation to its training run's remote id once that one is delivered.
        if let Some(train_local) = rec.tags.get("churnkit.train_local_run_id") {
            if let Ok(train) = self.local.get(train_local) {
                if let Some(r) = train.remote.filter(|r| r.synced) {
                    tags.insert("churnkit.train_run_id".into(), r.run_id.clone());
                    tags.insert("mlflow.parentRunId".into(), r.run_id);
                }
            }
        }
        tags.insert("churnkit.local_run_id".into(), stored.run_id.clone());
        // Resume the remote run of an earlier, interrupted attempt: it is ours if it carries our
        // local id (the URL may differ, e.g. localhost vs 127.0.0.1).
        let existing = match stored.remote.as_ref().map(|r| r.run_id.clone()) {
            Some(id) => match c.get_run(&id) {
                Ok(r) if r.tags.get("churnkit.local_run_id") == Some(&stored.run_id) => Some(r),
                Ok(_) => None,
                Err(e) if e.error_code() == Some("RESOURCE_DOES_NOT_EXIST") => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let run = match existing {
            Some(r) => r,
            None => {
                let info = c.create_run(
                    &experiment_id,
                    &rec.run_name,
                    rec.start_time_ms as i64,
                    &tags,
                )?;
                // Remember the remote id at once: a failure from here on is resumed, not repeated.
                stored.remote = Some(RemoteRef {
                    tracking_uri: c.base_url().to_string(),
                    experiment_id: experiment_id.clone(),
                    run_id: info.run_id.clone(),
                    synced: false,
                });
                self.local.update(stored)?;
                Run {
                    info,
                    metrics: BTreeMap::new(),
                    params: BTreeMap::new(),
                    tags: BTreeMap::new(),
                }
            }
        };
        let run_id = run.info.run_id.clone();
        let params: Vec<(String, String)> = rec
            .params
            .iter()
            .filter(|(k, _)| !run.params.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let ts = rec.end_time_ms as i64;
        let mut metrics: Vec<Metric> = Vec::new();
        for (k, points) in &rec.metric_history {
            if run.metrics.contains_key(k) {
                continue;
            }
            metrics.extend(points.iter().map(|p| Metric {
                key: k.clone(),
                value: p.value.unwrap_or(f64::NAN),
                timestamp: ts,
                step: p.step,
            }));
        }
        metrics.extend(
            rec.metrics
                .iter()
                .filter(|(k, _)| {
                    !run.metrics.contains_key(*k) && !rec.metric_history.contains_key(*k)
                })
                .map(|(k, v)| Metric {
                    key: k.clone(),
                    value: v.unwrap_or(f64::NAN),
                    timestamp: ts,
                    step: 0,
                }),
        );
        let tag_list: Vec<(String, String)> = tags
            .iter()
            .filter(|(k, v)| run.tags.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        c.log_batch(&run_id, &params, &metrics, &tag_list)?;
        // Uploads overwrite: repeating them on a resumed run is harmless.
        for (dest, _) in rec
            .artifact_files()
            .iter()
            .filter(|(d, _)| !d.starts_with("model/"))
        {
            let bytes = self.local.artifact(&stored.run_id, dest)?;
            c.upload_artifact(&run.info.artifact_uri, dest, bytes)?;
        }
        if !rec.model_files.is_empty() && !run.tags.contains_key("mlflow.log-model.history") {
            let mut files = Vec::new();
            for (dest, _) in rec
                .artifact_files()
                .iter()
                .filter(|(d, _)| d.starts_with("model/"))
            {
                let bytes = self.local.artifact(&stored.run_id, dest)?;
                files.push((dest.trim_start_matches("model/").to_string(), bytes));
            }
            let flavor = serde_json::json!({
                "churnkit": {
                    "churnkit_version": env!("CARGO_PKG_VERSION"),
                    "model_file": crate::pipeline::MODEL_FILE,
                    "preprocessor_file": crate::preprocess::files::PREPROCESSOR,
                    "format": crate::model::FORMAT,
                    "format_version": crate::model::FORMAT_VERSION,
                }
            });
            c.log_model(&run.info, &files, &flavor)?;
        }
        c.end_run(&run_id, "FINISHED", rec.end_time_ms as i64)?;
        stored.remote = Some(RemoteRef {
            tracking_uri: c.base_url().to_string(),
            experiment_id: experiment_id.clone(),
            run_id: run_id.clone(),
            synced: true,
        });
        self.local.update(stored)?;
        Ok(Delivery::Server {
            url: c.run_url(&experiment_id, &run_id),
            run_id,
            experiment_id,
        })
    }
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
