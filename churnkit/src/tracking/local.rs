//! The local run store: `mlruns/<run_id>/` with `run.json` and `artifacts/`, written atomically.
//! It is where runs go with no server configured, and where they wait when the server is down.

use super::{RunRecord, TrackingError};
use crate::io::{write_atomic, IoError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// The `format` tag of `run.json`.
pub const FORMAT: &str = "churnkit-run";
/// The `run.json` layout version.
pub const FORMAT_VERSION: u32 = 1;

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
    crate::io::sha256_bytes(seed.as_bytes())[..32].to_string()
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

    /// Record a run: copy its artifacts and write `run.json`, all in a temporary directory
    /// renamed into place, so a run is either complete or absent.
    pub fn save(&self, record: &RunRecord) -> Result<StoredRun, TrackingError> {
        let run = StoredRun {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            run_id: new_run_id(record),
            record: record.clone(),
            remote: None,
        };
        let tmp = self.root.join(format!(".tmp-{}", run.run_id));
        let result = (|| -> Result<(), TrackingError> {
            let art = tmp.join("artifacts");
            fs::create_dir_all(&art).map_err(|e| IoError::new(&art, e))?;
            for (dest, src) in record.artifact_files() {
                let to = art.join(&dest);
                if let Some(p) = to.parent() {
                    fs::create_dir_all(p).map_err(|e| IoError::new(p, e))?;
                }
                fs::copy(&src, &to).map_err(|e| IoError::new(&src, e))?;
            }
            let json = serde_json::to_vec_pretty(&run).expect("run serializes");
            write_atomic(tmp.join("run.json"), &json)?;
            let dest = self.run_dir(&run.run_id);
            fs::rename(&tmp, &dest).map_err(|e| IoError::new(&dest, e))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result.map(|_| run)
    }

    /// Rewrite a run's `run.json` (e.g. after syncing).
    pub fn update(&self, run: &StoredRun) -> Result<(), TrackingError> {
        let json = serde_json::to_vec_pretty(run).expect("run serializes");
        write_atomic(self.run_dir(&run.run_id).join("run.json"), &json)?;
        Ok(())
    }

    /// Read one run.
    pub fn get(&self, run_id: &str) -> Result<StoredRun, TrackingError> {
        let p = self.run_dir(run_id).join("run.json");
        let bytes = fs::read(&p).map_err(|e| IoError::new(&p, e))?;
        let run: StoredRun = serde_json::from_slice(&bytes).map_err(|e| {
            TrackingError::Local(format!("{}: invalid run record: {e}", p.display()))
        })?;
        if run.format != FORMAT || run.format_version != FORMAT_VERSION {
            return Err(TrackingError::Local(format!(
                "{}: not a churnkit run record (format {} v{})",
                p.display(),
                run.format,
                run.format_version
            )));
        }
        Ok(run)
    }

    /// Every run, oldest first (optionally of one experiment). Unreadable entries are skipped
    /// with a warning on stderr rather than hiding every other run.
    pub fn list(&self, experiment: Option<&str>) -> Result<Vec<StoredRun>, TrackingError> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(IoError::new(&self.root, e).into()),
        };
        let mut runs = Vec::new();
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().join("run.json").exists() {
                continue;
            }
            match self.get(&name) {
                Ok(r) if experiment.is_none_or(|e| r.record.experiment == e) => runs.push(r),
                Ok(_) => {}
                Err(e) => eprintln!("churnkit: warning: skipping {name}: {e}"),
            }
        }
        runs.sort_by(|a, b| {
            (a.record.start_time_ms, &a.run_id).cmp(&(b.record.start_time_ms, &b.run_id))
        });
        Ok(runs)
    }

    /// Bytes of an artifact of a stored run.
    pub fn artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>, TrackingError> {
        let p = self.run_dir(run_id).join("artifacts").join(path);
        fs::read(&p).map_err(|e| IoError::new(&p, e).into())
    }
}
