//! Logging runs: always to the local store, and to a server when one is configured; syncing
//! what did not reach it; linking an evaluation to the training run of its model.

use crate::client::{Metric, MlflowClient, Run};
use crate::local::{LocalStore, RemoteRef, StoredRun};
use crate::record::{keys::tags, RunKind, RunRecord, RunStatus};
use churnkit_core::{Error, Result};
use std::collections::BTreeMap;

/// Where a logged run ended up.
#[non_exhaustive]
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

impl Logged {
    /// The id users look the run up by: the server's when it got there, else the local one.
    pub fn run_id(&self) -> &str {
        match &self.delivery {
            Delivery::Server { run_id, .. } => run_id,
            Delivery::Local { .. } => &self.stored.run_id,
        }
    }

    /// The server's id, if the run was delivered.
    pub fn remote_id(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::Server { run_id, .. } => Some(run_id),
            Delivery::Local { .. } => None,
        }
    }
}

/// The outcome of [`Tracker::sync`].
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Runs delivered now: (local id, remote id).
    pub delivered: Vec<(String, String)>,
    /// Runs that were already on the server.
    pub already_synced: usize,
    /// Runs that could not be delivered: (local id, error).
    pub failed: Vec<(String, Error)>,
    /// Registered versions and aliases delivered.
    pub registry: crate::registry::RegistrySync,
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
    pub fn from_env() -> Result<Self> {
        Ok(Tracker {
            local: LocalStore::from_env(),
            server: MlflowClient::from_env()?,
        })
    }

    /// Record `record` locally, then deliver it to the server if there is one. Transient server
    /// failures (unreachable, 5xx) leave the run local for `sync`; a rejection (4xx) is an error.
    pub fn log(&self, record: &RunRecord) -> Result<Logged> {
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

    /// The training run in the local store that produced a model with SHA-256 `model_sha256`:
    /// the newest one in `experiment`, else the newest in any experiment (a seed makes training
    /// deterministic, so several runs can share a model).
    pub fn find_training_run(
        &self,
        model_sha256: &str,
        experiment: &str,
    ) -> Result<Option<StoredRun>> {
        let mut candidates: Vec<StoredRun> = self
            .local
            .list(None)?
            .into_iter()
            .filter(|r| {
                r.record.kind == RunKind::Train
                    && r.record.tags.get(tags::MODEL_SHA256).map(String::as_str)
                        == Some(model_sha256)
            })
            .collect();
        let same = candidates
            .iter()
            .rposition(|r| r.record.experiment == experiment);
        Ok(match same {
            Some(i) => Some(candidates.swap_remove(i)),
            None => candidates.pop(),
        })
    }

    /// The server id of a stored run, if it was delivered to this tracker's server.
    fn remote_id_here(&self, run: &StoredRun) -> Option<String> {
        let server = self.server.as_ref()?;
        run.remote
            .as_ref()
            .filter(|r| r.synced && r.tracking_uri == server.base_url())
            .map(|r| r.run_id.clone())
    }

    /// Link an evaluation record to the training run of its model (found by the record's
    /// `model.sha256` tag, preferring the record's experiment). Returns the training run's local
    /// id, or `None` if no tracked training run made this model.
    pub fn link_to_training_run(&self, record: &mut RunRecord) -> Result<Option<String>> {
        let Some(sha) = record.tags.get(tags::MODEL_SHA256).cloned() else {
            return Ok(None);
        };
        let experiment = record.experiment.clone();
        Ok(self.find_training_run(&sha, &experiment)?.map(|train| {
            let remote = self.remote_id_here(&train);
            record.link_to_training(&train.run_id, remote.as_deref());
            train.run_id
        }))
    }

    /// Deliver every local run that has not reached the server yet, oldest first, then the
    /// local registry's versions and aliases. Safe to repeat: a delivered run is marked and
    /// skipped; a half-delivered one is resumed.
    pub fn sync(&self) -> Result<SyncReport> {
        let client = self
            .server
            .as_ref()
            .ok_or_else(|| Error::rejected("no server to sync to: set MLFLOW_TRACKING_URI"))?;
        let mut report = SyncReport::default();
        for mut run in self.local.list(None)? {
            if !run.needs_sync() {
                report.already_synced += 1;
                continue;
            }
            match self.push(client, &mut run) {
                Ok(Delivery::Server { run_id, .. }) => report.delivered.push((run.run_id, run_id)),
                Ok(Delivery::Local { .. }) => {}
                Err(e) => report.failed.push((run.run_id, e)),
            }
        }
        // Then the registry, whose versions point at runs that are now on the server.
        report.registry = crate::registry::sync_registry(&self.local, client)?;
        Ok(report)
    }

    /// Deliver one stored run, creating or resuming its remote run.
    fn push(&self, c: &MlflowClient, stored: &mut StoredRun) -> Result<Delivery> {
        let rec = stored.record.clone();
        let experiment_id = c.get_or_create_experiment(&rec.experiment)?;
        let mut tag_map = rec.tags.clone();
        // Link an evaluation to its training run's id on this server once that one is there.
        if let Some(train_local) = rec.tags.get(tags::TRAIN_LOCAL_RUN_ID) {
            if let Some(r) = self
                .local
                .get(train_local)
                .ok()
                .and_then(|train| self.remote_id_here(&train))
            {
                tag_map.insert(tags::TRAIN_RUN_ID.into(), r.clone());
                tag_map.insert(tags::MLFLOW_PARENT_RUN_ID.into(), r);
            }
        }
        tag_map.insert(tags::LOCAL_RUN_ID.into(), stored.run_id.clone());
        // Resume the remote run of an earlier, interrupted attempt: it is ours if it carries our
        // local id (the URL may differ, e.g. localhost vs 127.0.0.1).
        let existing = match stored.remote.as_ref().map(|r| r.run_id.clone()) {
            Some(id) => match c.get_run(&id) {
                Ok(r) if r.tags.get(tags::LOCAL_RUN_ID) == Some(&stored.run_id) => Some(r),
                Ok(_) => None,
                Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => None,
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
                    &tag_map,
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
        let tag_list: Vec<(String, String)> = tag_map
            .iter()
            .filter(|(k, v)| run.tags.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        c.log_batch(&run_id, &params, &metrics, &tag_list)?;
        // The server keeps one input per dataset and context: repeating it on a resumed run is
        // harmless.
        c.log_inputs(&run_id, &rec.inputs)?;
        // Uploads overwrite: repeating them on a resumed run is harmless.
        for a in rec.plain_artifacts() {
            let bytes = self.local.artifact(&stored.run_id, &a.path)?;
            c.upload_artifact(&run.info.artifact_uri, &a.path, bytes)?;
        }
        if let Some(flavor) = &rec.model {
            if !run.tags.contains_key(tags::MLFLOW_LOG_MODEL_HISTORY) {
                let mut files = Vec::new();
                for (name, a) in rec.model_files() {
                    files.push((
                        name.to_string(),
                        self.local.artifact(&stored.run_id, &a.path)?,
                    ));
                }
                c.log_model(&run.info, &files, flavor)?;
            }
        }
        c.end_run(&run_id, RunStatus::Finished, rec.end_time_ms as i64)?;
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
    use crate::record::{keys, Artifact};

    fn train_record(model_sha: &str) -> RunRecord {
        train_record_in("e", model_sha)
    }

    fn train_record_in(experiment: &str, model_sha: &str) -> RunRecord {
        let mut r = RunRecord::new(RunKind::Train, experiment, "train");
        r.tags
            .insert(keys::tags::MODEL_SHA256.into(), model_sha.into());
        r.artifacts
            .push(Artifact::new("model/churn_model.json", "{}"));
        r
    }

    #[test]
    fn an_evaluation_finds_the_newest_training_run_of_its_model() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker {
            local: LocalStore::new(dir.path()),
            server: None,
        };
        let old = t.log(&train_record("aaa")).unwrap();
        let mut newer = train_record("aaa");
        newer.start_time_ms += 10;
        let newer = t.log(&newer).unwrap();
        t.log(&train_record("bbb")).unwrap();
        let mut eval = RunRecord::new(RunKind::Evaluate, "e", "evaluate");
        eval.tags
            .insert(keys::tags::MODEL_SHA256.into(), "aaa".into());
        let linked = t.link_to_training_run(&mut eval).unwrap();
        assert_eq!(linked.as_deref(), Some(newer.stored.run_id.as_str()));
        assert_ne!(linked.as_deref(), Some(old.stored.run_id.as_str()));
        assert_eq!(eval.tags[keys::tags::TRAIN_RUN_ID], newer.stored.run_id);
        // A newer run of the same model in another experiment does not win over this one's.
        let mut elsewhere = train_record_in("other", "aaa");
        elsewhere.start_time_ms += 20;
        let elsewhere = t.log(&elsewhere).unwrap();
        let mut again = RunRecord::new(RunKind::Evaluate, "e", "evaluate");
        again
            .tags
            .insert(keys::tags::MODEL_SHA256.into(), "aaa".into());
        assert_eq!(
            t.link_to_training_run(&mut again).unwrap().as_deref(),
            Some(newer.stored.run_id.as_str())
        );
        let mut from_other = RunRecord::new(RunKind::Evaluate, "third", "evaluate");
        from_other
            .tags
            .insert(keys::tags::MODEL_SHA256.into(), "aaa".into());
        assert_eq!(
            t.link_to_training_run(&mut from_other).unwrap().as_deref(),
            Some(elsewhere.stored.run_id.as_str())
        );
        let mut orphan = RunRecord::new(RunKind::Evaluate, "e", "evaluate");
        orphan
            .tags
            .insert(keys::tags::MODEL_SHA256.into(), "ccc".into());
        assert_eq!(t.link_to_training_run(&mut orphan).unwrap(), None);
        assert!(t
            .sync()
            .unwrap_err()
            .to_string()
            .contains("MLFLOW_TRACKING_URI"));
    }
}
