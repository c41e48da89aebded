//! Where the workflow's files go, and the save and load steps: the one module that knows the
//! guide's layout (`data/processed/`, `models/`, `metrics/`) and every file name in it.
//!
//! Saving is separate from computing: each step's values are made in memory
//! ([`crate::workflow`]) and written here, all files of a step at once (temporary files renamed
//! into place, so a failure leaves the previous outputs whole).
//!
//! ```
//! use churnkit::{layout::Layout, preprocess::{Processed, SplitOptions}, schema::Schema, table::Table};
//! let dir = tempfile::tempdir()?;
//! let layout = Layout::under(dir.path());
//! let (csv, _) = churnkit::generate::generate_rows(100, 42);
//! let table = Table::from_csv_bytes(csv, "sample.csv")?;
//! let data = Processed::fit(&table, &Schema::default(), SplitOptions::default())?;
//! layout.save_processed(&data)?;
//! assert_eq!(layout.load_processed()?, data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::workflow::{Evaluated, Trained};
use churnkit_core::frame::{labels_from_csv, write_labels, Frame};
use churnkit_core::io::{sha256_bytes, StagedFiles};
use churnkit_core::model::Model;
use churnkit_core::preprocess::{Preprocessor, Processed};
use churnkit_core::{Error, ErrorKind, Result};
use churnkit_tracking::RunRecord;
use std::path::{Path, PathBuf};

pub use crate::artifacts::*;

/// The three output directories of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Processed data and the fitted preprocessor.
    pub processed: PathBuf,
    /// The model, its importances and its training run.
    pub models: PathBuf,
    /// Charts, reports and the evaluation run.
    pub metrics: PathBuf,
}

impl Default for Layout {
    /// The guide's layout relative to the working directory.
    fn default() -> Self {
        Self::under("")
    }
}

/// Size and modification time (ns) of each of the four split CSVs in `dir` (null for a missing
/// one): what the binary copy must match to be used.
fn csv_stamps(dir: &Path) -> serde_json::Value {
    let stamp = |name: &str| {
        std::fs::metadata(dir.join(name)).ok().map(|m| {
            let ns = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            serde_json::json!({"bytes": m.len(), "modified_ns": ns})
        })
    };
    serde_json::json!({
        X_TRAIN: stamp(X_TRAIN),
        X_TEST: stamp(X_TEST),
        Y_TRAIN: stamp(Y_TRAIN),
        Y_TEST: stamp(Y_TEST),
    })
}

fn read(path: &Path, missing_hint: &str, kind: ErrorKind) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(kind, format!("not found; {missing_hint}")).in_file(path.display())
        } else {
            Error::io(path, e)
        }
    })
}

impl Layout {
    /// The guide's layout under `root`.
    pub fn under(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Layout {
            processed: root.join(PROCESSED_DIR),
            models: root.join(MODELS_DIR),
            metrics: root.join(METRICS_DIR),
        }
    }

    /// `data/processed/preprocessor.json`.
    pub fn preprocessor_path(&self) -> PathBuf {
        self.processed.join(PREPROCESSOR)
    }

    /// `models/churn_model.json`.
    pub fn model_path(&self) -> PathBuf {
        self.models.join(MODEL)
    }

    /// Write the four CSVs and `preprocessor.json`; returns the paths written.
    pub fn save_processed(&self, data: &Processed) -> Result<Vec<PathBuf>> {
        let d = &self.processed;
        let target = &data.state.target.column;
        let mut staged = StagedFiles::new();
        staged.write(d.join(X_TRAIN), |w| data.x_train.write_csv(w))?;
        staged.write(d.join(X_TEST), |w| data.x_test.write_csv(w))?;
        staged.write(d.join(Y_TRAIN), |w| write_labels(w, target, &data.y_train))?;
        staged.write(d.join(Y_TEST), |w| write_labels(w, target, &data.y_test))?;
        staged.write_bytes(d.join(PREPROCESSOR), &data.state.to_json())?;
        let mut written = staged.commit()?;
        // The binary copy records the CSVs it mirrors (size and modification time): a CSV
        // changed since is read instead.
        let mut cache = StagedFiles::new();
        cache.write(d.join(SPLIT_CACHE), |w| {
            churnkit_core::columnar::write_to(
                w,
                &data.x_train,
                &data.y_train,
                &data.x_test,
                &data.y_test,
                csv_stamps(d),
            )
        })?;
        written.extend(cache.commit()?);
        Ok(written)
    }

    /// The fitted preprocessor alone (for `predict`).
    pub fn load_preprocessor(&self) -> Result<Preprocessor> {
        let p = self.preprocessor_path();
        let bytes = read(&p, "run `churnkit preprocess` first", ErrorKind::Model)?;
        Preprocessor::from_json(&bytes).map_err(|e| e.in_file(p.display()))
    }

    /// Read back what [`Layout::save_processed`] wrote, checking the pieces agree.
    pub fn load_processed(&self) -> Result<Processed> {
        let state = self.load_preprocessor()?;
        let d = &self.processed;
        let frame = |name: &str| -> Result<Frame> {
            let p = d.join(name);
            let bytes = read(&p, "run `churnkit preprocess` first", ErrorKind::Model)?;
            Frame::from_csv(bytes, &p.display().to_string())
        };
        let labels = |name: &str| -> Result<Vec<u8>> {
            let p = d.join(name);
            let bytes = read(&p, "run `churnkit preprocess` first", ErrorKind::Model)?;
            Ok(labels_from_csv(bytes, &p.display().to_string())?.1)
        };
        let cached = std::fs::read(d.join(SPLIT_CACHE)).ok().and_then(|bytes| {
            let h = churnkit_core::columnar::header(&bytes).ok()?;
            (h["sources"] == csv_stamps(d)).then_some(bytes)
        });
        let (train, test) = match cached {
            Some(bytes) => {
                let p = d.join(SPLIT_CACHE);
                let s = churnkit_core::columnar::read(&bytes).map_err(|e| {
                    Error::model(format!("{}; re-run `churnkit preprocess`", e.message()))
                        .in_file(p.display())
                })?;
                ((s.x_train, s.y_train), (s.x_test, s.y_test))
            }
            None => (
                (frame(X_TRAIN)?, labels(Y_TRAIN)?),
                (frame(X_TEST)?, labels(Y_TEST)?),
            ),
        };
        Processed::from_parts(state, train, test).map_err(|e| {
            Error::model(format!("{}; re-run `churnkit preprocess`", e.message()))
                .in_file(d.display())
        })
    }

    /// Write the model, its importance table and the training run record.
    pub fn save_training(&self, trained: &Trained, record: &RunRecord) -> Result<Vec<PathBuf>> {
        let d = &self.models;
        let mut staged = StagedFiles::new();
        staged.write_bytes(d.join(MODEL), trained.deployed_json())?;
        if trained.final_model().is_some() {
            staged.write_bytes(d.join(HOLDOUT_MODEL), trained.model_json())?;
        }
        staged.write_bytes(
            d.join(IMPORTANCE),
            trained.model().importance_csv().as_bytes(),
        )?;
        staged.write_bytes(d.join(TRAIN_RUN), &record_json(record))?;
        // (A held-out model of an earlier final run no longer matches churn_model.json.)
        commit_set(staged, d, &TRAINING_FILES)
    }

    /// The saved model, checked against the features it will be given.
    pub fn load_model(&self, expected_features: &[String]) -> Result<Model> {
        Ok(self.load_model_with_hash(expected_features)?.0)
    }

    /// The model the test metrics can honestly be computed for, with the SHA-256 of its file
    /// (the training run's `model.sha256` tag, which links an evaluation to it): the saved
    /// model, or when that is a final model fitted on every row, the held-out model saved
    /// beside it.
    ///
    /// Returns the model, the hash and the path of the file it came from.
    pub fn load_evaluable_model(
        &self,
        expected_features: &[String],
    ) -> Result<(Model, String, PathBuf)> {
        let (model, sha) = self.load_model_with_hash(expected_features)?;
        if model.fitted_on == churnkit_core::model::FittedOn::TrainingRows {
            return Ok((model, sha, self.model_path()));
        }
        let p = self.models.join(HOLDOUT_MODEL);
        let why = format!(
            "{MODEL} is a final model fitted on every row, test rows included, so it cannot be evaluated on them; its held-out twin is missing (train again with the `final` option)"
        );
        let bytes = read(&p, &why, ErrorKind::Model)?;
        let (m, sha) = self.model_from_bytes(&p, &bytes, expected_features)?;
        Ok((m, sha, p))
    }

    /// The threshold `churnkit evaluate` chose for the saved model, from `metrics/decisions.json`
    /// (what `predict --threshold optimal` flags with). `model_sha256` is the saved model's hash:
    /// the file must have been written for it, or for its held-out twin when it is a final model,
    /// so a threshold chosen for another model is refused.
    pub fn decided_threshold(&self, model_sha256: &str) -> Result<f64> {
        let p = self.metrics.join(DECISIONS);
        let bytes = read(
            &p,
            "evaluate with the profit-optimal threshold first (it is kept in decisions.json), or give the `threshold` option a probability",
            ErrorKind::Model,
        )?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(ErrorKind::Model, e.to_string()).in_file(p.display()))?;
        let (Some(sha), Some(t)) = (v["model_sha256"].as_str(), v["chosen_threshold"].as_f64())
        else {
            return Err(Error::new(
                ErrorKind::Model,
                "no model_sha256 and chosen_threshold: written by an older churnkit; re-run `churnkit evaluate`",
            )
            .in_file(p.display()));
        };
        let holdout = std::fs::read(self.models.join(HOLDOUT_MODEL))
            .ok()
            .map(|b| sha256_bytes(&b));
        if sha != model_sha256 && holdout.as_deref() != Some(sha) {
            return Err(Error::new(
                ErrorKind::Model,
                format!(
                    "chosen for model {} but {MODEL} is {}: re-run `churnkit evaluate` for this model",
                    &sha[..sha.len().min(12)],
                    &model_sha256[..model_sha256.len().min(12)]
                ),
            )
            .in_file(p.display()));
        }
        if !(0.0..1.0).contains(&t) {
            return Err(Error::new(
                ErrorKind::Model,
                format!("chosen_threshold {t} is outside [0, 1)"),
            )
            .in_file(p.display()));
        }
        Ok(t)
    }

    /// [`Layout::load_model`] and the SHA-256 of the file's bytes.
    pub fn load_model_with_hash(&self, expected_features: &[String]) -> Result<(Model, String)> {
        let p = self.model_path();
        let bytes = read(&p, "run `churnkit train` first", ErrorKind::Model)?;
        self.model_from_bytes(&p, &bytes, expected_features)
    }

    fn model_from_bytes(
        &self,
        p: &Path,
        bytes: &[u8],
        expected_features: &[String],
    ) -> Result<(Model, String)> {
        let model = Model::from_json(bytes).map_err(|e| e.in_file(p.display()))?;
        model
            .check_features(expected_features)
            .map_err(|e| e.in_file(p.display()))?;
        Ok((model, churnkit_core::io::sha256_bytes(bytes)))
    }

    /// Write the three charts, the two reports and the evaluation run record.
    pub fn save_evaluation(
        &self,
        evaluated: &Evaluated,
        record: &RunRecord,
    ) -> Result<Vec<PathBuf>> {
        let d = &self.metrics;
        let mut staged = StagedFiles::new();
        for (name, bytes) in evaluated.files() {
            staged.write_bytes(d.join(name), &bytes)?;
        }
        staged.write_bytes(d.join(EVALUATE_RUN), &record_json(record))?;
        commit_set(staged, d, &EVALUATION_FILES)
    }
}

impl Layout {
    /// Writes the survival step: its files under `metrics/survival/` (exactly this run's) and
    /// the model as `models/survival_model.json`, all or nothing.
    pub fn save_survival(
        &self,
        survival: &crate::workflow::Survival,
        record: &RunRecord,
    ) -> Result<Vec<PathBuf>> {
        let d = self.metrics.join(SURVIVAL_DIR);
        let mut staged = StagedFiles::new();
        for (name, bytes) in survival.files()? {
            staged.write_bytes(d.join(name), &bytes)?;
        }
        staged.write_bytes(d.join(SURVIVAL_RUN), &record_json(record))?;
        staged.write_bytes(self.models.join(SURVIVAL_MODEL), &survival.model.to_json())?;
        commit_set(staged, &d, &SURVIVAL_FILES)
    }

    /// Writes the monitoring step under `metrics/monitor/`, all or nothing.
    pub fn save_monitor(
        &self,
        monitored: &crate::workflow::Monitored,
        record: &RunRecord,
    ) -> Result<Vec<PathBuf>> {
        let d = self.metrics.join(MONITOR_DIR);
        let mut staged = StagedFiles::new();
        staged.write_bytes(d.join(MONITOR_DRIFT), &monitored.to_json())?;
        staged.write_bytes(
            d.join(MONITOR_REPORT),
            &monitored.to_html("churnkit monitor")?,
        )?;
        staged.write_bytes(d.join(MONITOR_RUN), &record_json(record))?;
        commit_set(staged, &d, &MONITOR_FILES)
    }

    /// Loads `models/survival_model.json` (or `path`), validated.
    pub fn load_survival_model(path: &Path) -> Result<churnkit_core::survival::SurvivalModel> {
        let bytes = read(
            path,
            "run `churnkit survival --data FILE` first",
            ErrorKind::Model,
        )?;
        churnkit_core::survival::SurvivalModel::from_json(&bytes, &path.display().to_string())
    }
}

/// Commit a step's staged files into `dir`, then remove the files of the step's set (`all`) that
/// this run did not write: the directory then holds exactly this run's outputs of the step.
fn commit_set(staged: StagedFiles, dir: &Path, all: &[&str]) -> Result<Vec<PathBuf>> {
    let written = staged.commit()?;
    for name in all {
        let path = dir.join(name);
        if written.contains(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(path, e)),
            _ => {}
        }
    }
    Ok(written)
}

/// A run record as the JSON file beside a step's outputs (artifacts by name).
fn record_json(record: &RunRecord) -> Vec<u8> {
    serde_json::to_vec_pretty(record).expect("run record serializes")
}
