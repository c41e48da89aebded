//! The local run store: `mlruns/<run_id>/` with `run.json` and `artifacts/`, written atomically.
//! It is where runs go with no server configured, and where they wait when the server is down.

use crate::record::{Artifact, ModelFlavor, RunRecord};
use churnkit_core::io::write_atomic;
use churnkit_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// The `format` tag of `run.json`.
pub const FORMAT: &str = "churnkit-run";
/// The `run.json` layout this build writes. Version 1 (artifacts as source file paths) is
/// still read.
pub const FORMAT_VERSION: u32 = 2;

/// Where a local run stands with a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRef {
    /// The server.
    pub tracking_uri: String,
    /// Experiment id there.
    pub experiment_id: String,
    /// Run id there (set as soon as the remote run exists, so a retry resumes it).
    pub run_id: String,
    /// True once everything was delivered and the run ended.
    pub synced: bool,
}

/// A run as kept in the local store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Local id (32 hex digits).
    pub run_id: String,
    /// Everything that was logged.
    pub record: RunRecord,
    /// Delivery to a server, if any was attempted.
    pub remote: Option<RemoteRef>,
}

impl StoredRun {
    /// True when the run still has to reach a server.
    pub fn needs_sync(&self) -> bool {
        !self.remote.as_ref().is_some_and(|r| r.synced)
    }
}

/// What [`LocalStore::scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Readable runs, oldest first.
    pub runs: Vec<StoredRun>,
    /// Entries that could not be read: (directory name, why).
    pub skipped: Vec<(String, Error)>,
}

/// The store rooted at a directory (default `mlruns/`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

fn new_run_id(record: &RunRecord) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}-{}-{}-{:?}",
        std::process::id(),
        record.run_name,
        std::thread::current().id()
    );
    churnkit_core::io::sha256_bytes(seed.as_bytes())[..32].to_string()
}

impl LocalStore {
    /// A store at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// `CHURNKIT_RUNS_DIR`, else `mlruns/` in the working directory.
    pub fn from_env() -> Self {
        Self::new(
            std::env::var_os("CHURNKIT_RUNS_DIR")
                .map_or_else(|| PathBuf::from("mlruns"), PathBuf::from),
        )
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A run's directory.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(run_id)
    }

    /// Record a run: write its artifacts and `run.json`, all in a temporary directory renamed
    /// into place, so a run is either complete or absent.
    pub fn save(&self, record: &RunRecord) -> Result<StoredRun> {
        let run = StoredRun {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            run_id: new_run_id(record),
            record: record.clone(),
            remote: None,
        };
        let tmp = self.root.join(format!(".tmp-{}", run.run_id));
        let result = (|| -> Result<()> {
            let art = tmp.join("artifacts");
            fs::create_dir_all(&art).map_err(|e| Error::io(&art, e))?;
            for a in &record.artifacts {
                let to = art.join(safe_relative(&a.path)?);
                if let Some(p) = to.parent() {
                    fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
                }
                fs::write(&to, &a.bytes).map_err(|e| Error::io(&to, e))?;
            }
            // The model folder is an MLflow model: `mlflow.pyfunc.load_model` opens it here too.
            if let Some(flavor) = &record.model {
                let created = crate::utc_string(record.end_time_ms);
                let to = art.join(crate::record::MODEL_DIR).join("MLmodel");
                fs::write(&to, flavor.mlmodel_yaml(&run.run_id, &created, None))
                    .map_err(|e| Error::io(&to, e))?;
            }
            let json = serde_json::to_vec_pretty(&run).expect("run serializes");
            write_atomic(tmp.join("run.json"), &json)?;
            let dest = self.run_dir(&run.run_id);
            fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result.map(|_| run)
    }

    /// Rewrite a run's `run.json` (e.g. after syncing).
    pub fn update(&self, run: &StoredRun) -> Result<()> {
        let json = serde_json::to_vec_pretty(run).expect("run serializes");
        write_atomic(self.run_dir(&run.run_id).join("run.json"), &json)
    }

    /// Read one run.
    pub fn get(&self, run_id: &str) -> Result<StoredRun> {
        let p = self.run_dir(run_id).join("run.json");
        let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let bad = |e: Error| e.with_kind(ErrorKind::Io).in_file(p.display());
        let (v, version) = churnkit_core::format::parse_versioned(
            &bytes,
            FORMAT,
            &[1, FORMAT_VERSION],
            "run record",
            "",
        )
        .map_err(bad)?;
        let invalid = |e: serde_json::Error| bad(Error::model(format!("invalid run record: {e}")));
        if version == 1 {
            let old: StoredRunV1 = serde_json::from_value(v).map_err(invalid)?;
            return Ok(old.upgrade());
        }
        serde_json::from_value(v).map_err(invalid)
    }

    /// Every run, oldest first (optionally of one experiment). Unreadable entries are skipped
    /// rather than hiding every other run; [`LocalStore::scan`] says which.
    pub fn list(&self, experiment: Option<&str>) -> Result<Vec<StoredRun>> {
        Ok(self.scan(experiment)?.runs)
    }

    /// Every readable run, oldest first (optionally of one experiment), and the entries that
    /// could not be read.
    pub fn scan(&self, experiment: Option<&str>) -> Result<Scan> {
        let mut scan = Scan::default();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().join("run.json").exists() {
                continue;
            }
            match self.get(&name) {
                Ok(r) if experiment.is_none_or(|e| r.record.experiment == e) => scan.runs.push(r),
                Ok(_) => {}
                Err(e) => scan.skipped.push((name, e)),
            }
        }
        scan.runs.sort_by(|a, b| {
            (a.record.start_time_ms, &a.run_id).cmp(&(b.record.start_time_ms, &b.run_id))
        });
        Ok(scan)
    }

    /// Bytes of an artifact of a stored run.
    pub fn artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        let p = self
            .run_dir(run_id)
            .join("artifacts")
            .join(safe_relative(path)?);
        fs::read(&p).map_err(|e| Error::io(&p, e))
    }
}

/// `path` as a relative path that stays under the artifact root.
fn safe_relative(path: &str) -> Result<&Path> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(p)
    } else {
        Err(Error::params(format!(
            "artifact path '{path}' must be relative, without '..'"
        )))
    }
}

/// `run.json` as churnkit 0.1 wrote it before artifacts lived in memory: `artifacts` and
/// `model_files` were the source files' paths, stored under their file names.
#[derive(Deserialize)]
struct StoredRunV1 {
    run_id: String,
    record: RecordV1,
    remote: Option<RemoteRef>,
}

#[derive(Deserialize)]
struct RecordV1 {
    kind: crate::record::RunKind,
    experiment: String,
    run_name: String,
    start_time_ms: u64,
    end_time_ms: u64,
    params: std::collections::BTreeMap<String, String>,
    metrics: std::collections::BTreeMap<String, Option<f64>>,
    #[serde(default)]
    metric_history: std::collections::BTreeMap<String, Vec<crate::record::MetricPoint>>,
    tags: std::collections::BTreeMap<String, String>,
    artifacts: Vec<PathBuf>,
    #[serde(default)]
    model_files: Vec<PathBuf>,
}

impl StoredRunV1 {
    fn upgrade(self) -> StoredRun {
        let name = |p: &PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let r = self.record;
        let mut artifacts: Vec<Artifact> = r
            .artifacts
            .iter()
            .map(|p| Artifact::new(name(p), Vec::new()))
            .collect();
        artifacts.extend(
            r.model_files
                .iter()
                .map(|p| Artifact::new(format!("model/{}", name(p)), Vec::new())),
        );
        // Version 1 logged churnkit's own model, its files as [model, preprocessor].
        let model = (r.model_files.len() == 2).then(|| ModelFlavor {
            name: "churnkit".into(),
            fields: [
                (
                    "churnkit_version",
                    serde_json::json!(churnkit_core::VERSION),
                ),
                ("format", serde_json::json!(churnkit_core::model::FORMAT)),
                ("format_version", serde_json::json!(1)),
                ("model_file", serde_json::json!(name(&r.model_files[0]))),
                (
                    "preprocessor_file",
                    serde_json::json!(name(&r.model_files[1])),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            python_function: None,
        });
        StoredRun {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            run_id: self.run_id,
            record: RunRecord {
                kind: r.kind,
                experiment: r.experiment,
                run_name: r.run_name,
                start_time_ms: r.start_time_ms,
                end_time_ms: r.end_time_ms,
                params: r.params,
                metrics: r.metrics,
                metric_history: r.metric_history,
                tags: r.tags,
                artifacts,
                model,
                inputs: Vec::new(),
            },
            remote: self.remote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunKind;

    #[test]
    fn runs_round_trip_and_bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let mut r = RunRecord::new(RunKind::Train, "e", "r");
        r.artifacts.push(Artifact::new("model/m.json", "{}"));
        let s = store.save(&r).unwrap();
        assert_eq!(store.artifact(&s.run_id, "model/m.json").unwrap(), b"{}");
        let back = store.get(&s.run_id).unwrap();
        assert_eq!(back.record.artifacts[0].path, "model/m.json");
        assert_eq!(store.list(Some("e")).unwrap().len(), 1);
        assert!(store.list(Some("other")).unwrap().is_empty());
        r.artifacts.push(Artifact::new("../escape", "x"));
        assert!(store.save(&r).is_err());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no half-written run"
        );
    }

    #[test]
    fn version_1_records_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("abc");
        fs::create_dir_all(&run_dir).unwrap();
        fs::write(
            run_dir.join("run.json"),
            r#"{"format":"churnkit-run","format_version":1,"run_id":"abc","remote":null,
            "record":{"kind":"train","experiment":"e","run_name":"r","start_time_ms":1,
            "end_time_ms":2,"params":{},"metrics":{"roc_auc":0.8},"tags":{},
            "artifacts":["/x/models/feature_importance.csv"],
            "model_files":["/x/models/churn_model.json","/x/data/processed/preprocessor.json"]}}"#,
        )
        .unwrap();
        let r = LocalStore::new(dir.path()).get("abc").unwrap();
        let paths: Vec<&str> = r.record.artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "feature_importance.csv",
                "model/churn_model.json",
                "model/preprocessor.json"
            ]
        );
        assert_eq!(
            r.record.model.unwrap().fields["model_file"],
            "churn_model.json"
        );
        fs::write(
            run_dir.join("run.json"),
            b"{\"format\":\"churnkit-run\",\"format_version\":7}",
        )
        .unwrap();
        let e = LocalStore::new(dir.path()).get("abc").unwrap_err();
        assert!(e.to_string().contains("format_version 7"), "{e}");
    }
}
