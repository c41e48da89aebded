//! The model registry: named models with numbered versions and movable aliases (`champion`,
//! `challenger`), as MLflow users keep them. On a server it is MLflow's own registry (a version
//! points at the run's logged model, `models:/m-<id>`); without one the local store keeps a
//! registry of the same shape under `mlruns/.registry/`, which `sync` delivers.
//!
//! Versions are allocated by creating `versions/<n>.json` exclusively (`O_EXCL`), so processes
//! registering at once each get their own number; aliases are files replaced atomically.

use crate::client::{as_i64, Method, MlflowClient};
use crate::local::LocalStore;
use crate::record::{keys::tags, MODEL_DIR};
use churnkit_core::io::write_atomic;
use churnkit_core::{bail, ensure};
use churnkit_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Registered model name.
    pub name: String,
    /// Version number (1, 2, ...).
    pub version: u64,
    /// The training run it came from.
    pub run_id: String,
    /// Where its files are: `models:/m-<id>` (a server's logged model), `runs:/<id>/model`.
    pub source: String,
    /// Registration time, ms since the epoch.
    pub created_ms: u64,
    /// Aliases pointing at it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Local versions only: the server version `sync` delivered it as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteVersion>,
}

/// A local version's copy on a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteVersion {
    /// The server.
    pub tracking_uri: String,
    /// Its version number there.
    pub version: u64,
}

/// A registered model: its versions (newest first) and aliases.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    /// Name.
    pub name: String,
    /// Versions, newest first.
    pub versions: Vec<ModelVersion>,
    /// Alias -> version.
    pub aliases: BTreeMap<String, u64>,
}

impl RegisteredModel {
    /// `name` with its `versions` (newest first), each told the aliases pointing at it.
    fn new(name: &str, mut versions: Vec<ModelVersion>, aliases: BTreeMap<String, u64>) -> Self {
        for v in &mut versions {
            v.aliases = aliases
                .iter()
                .filter(|(_, &n)| n == v.version)
                .map(|(a, _)| a.clone())
                .collect();
        }
        RegisteredModel {
            name: name.into(),
            versions,
            aliases,
        }
    }
}

/// A registered model named in a URI: `models:/churn/3`, `models:/churn@champion` or
/// `models:/churn/latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A version.
    Version(String, u64),
    /// The version an alias points at.
    Alias(String, String),
    /// The newest version.
    Latest(String),
}

impl std::str::FromStr for ModelRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::params(format!(
                "model URI `{s}`: expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"
            ))
        };
        let rest = s.strip_prefix("models:/").ok_or_else(bad)?;
        if let Some((name, alias)) = rest.split_once('@') {
            check_name(name)?;
            check_alias(alias)?;
            return Ok(ModelRef::Alias(name.into(), alias.into()));
        }
        let (name, v) = rest.rsplit_once('/').ok_or_else(bad)?;
        check_name(name)?;
        match v {
            "latest" => Ok(ModelRef::Latest(name.into())),
            v => v
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .map(|n| ModelRef::Version(name.into(), n))
                .ok_or_else(bad),
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelRef::Version(n, v) => write!(f, "models:/{n}/{v}"),
            ModelRef::Alias(n, a) => write!(f, "models:/{n}@{a}"),
            ModelRef::Latest(n) => write!(f, "models:/{n}/latest"),
        }
    }
}

/// A registered model name: letters, digits, `-`, `_`, `.` (a file name in the local registry,
/// a path segment in a URI).
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::params(format!(
            "model name `{name}`: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// An alias: letters, digits, `-`, `_`, not starting with a digit or `v<digits>` (MLflow
/// reserves `latest` and version-like names).
fn check_alias(alias: &str) -> Result<()> {
    let versionish = alias
        .strip_prefix(['v', 'V'])
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
    let ok = !alias.is_empty()
        && alias != "latest"
        && !versionish
        && !alias.starts_with(|c: char| c.is_ascii_digit())
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::params(format!(
            "alias `{alias}`: use letters, digits, '-' and '_', not a version-like name or `latest`"
        )))
    }
}

/// A registry: the server's, or the local store's.
#[derive(Debug, Clone)]
pub enum Registry {
    /// The local store's registry (`mlruns/.registry/`).
    Local(LocalStore),
    /// An MLflow server's registry; the local store maps local run ids to the server's.
    Server(MlflowClient, LocalStore),
}

impl Registry {
    /// The server of `MLFLOW_TRACKING_URI` if set, else the local store (`CHURNKIT_RUNS_DIR`).
    pub fn from_env() -> Result<Self> {
        let local = LocalStore::from_env();
        Ok(match MlflowClient::from_env()? {
            Some(c) => Registry::Server(c, local),
            None => Registry::Local(local),
        })
    }

    /// Register the model of training run `run_id` (a local or a server id) as the next
    /// version of `name`, creating `name` if needed.
    pub fn register(&self, name: &str, run_id: &str) -> Result<ModelVersion> {
        check_name(name)?;
        match self {
            Registry::Local(store) => local_register(store, name, run_id),
            Registry::Server(c, store) => {
                let remote = server_run_id(c, store, run_id)?;
                server_register(c, name, &remote, &[])
            }
        }
    }

    /// Point `alias` of `name` at `version` (moving it if it pointed elsewhere).
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        check_name(name)?;
        check_alias(alias)?;
        match self {
            Registry::Local(store) => {
                local_version(store, name, version)?;
                let dir = registry_dir(store).join(name).join("aliases");
                fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                write_atomic(
                    dir.join(format!("{alias}.json")),
                    json!({ "version": version }).to_string().as_bytes(),
                )
            }
            Registry::Server(c, _) => c
                .call(
                    Method::POST,
                    "/api/2.0/mlflow/registered-models/alias",
                    &[],
                    Some(json!({"name": name, "alias": alias, "version": version.to_string()})),
                )
                .map(|_| ()),
        }
    }

    /// Remove `alias` of `name`.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        match self {
            Registry::Local(store) => {
                let p = registry_dir(store)
                    .join(name)
                    .join("aliases")
                    .join(format!("{alias}.json"));
                fs::remove_file(&p).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Error::params(format!("model '{name}' has no alias '{alias}'"))
                    } else {
                        Error::io(&p, e)
                    }
                })
            }
            Registry::Server(c, _) => c
                .call(
                    Method::DELETE,
                    "/api/2.0/mlflow/registered-models/alias",
                    &[("name", name.to_string()), ("alias", alias.to_string())],
                    None,
                )
                .map(|_| ()),
        }
    }

    /// Every registered model (or only `name`), in name order.
    pub fn list(&self, name: Option<&str>) -> Result<Vec<RegisteredModel>> {
        match self {
            Registry::Local(store) => {
                let root = registry_dir(store);
                let mut names: Vec<String> = match fs::read_dir(&root) {
                    Ok(rd) => rd
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !n.starts_with('.'))
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
                    Err(e) => return Err(Error::io(&root, e)),
                };
                names.retain(|n| name.is_none_or(|want| want == n));
                names.sort();
                names.iter().map(|n| local_model(store, n)).collect()
            }
            Registry::Server(c, _) => {
                let mut q = vec![("max_results", "100".to_string())];
                if let Some(n) = name {
                    q.push(("filter", format!("name = '{n}'")));
                }
                let found = search_all(c, "registered-models", "registered_models", q)?;
                let mut out = found
                    .iter()
                    .map(|m| server_model(c, m["name"].as_str().unwrap_or_default()))
                    .collect::<Result<Vec<_>>>()?;
                out.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(out)
            }
        }
    }

    /// The version `r` names.
    pub fn resolve(&self, r: &ModelRef) -> Result<ModelVersion> {
        let (name, which) = match r {
            ModelRef::Version(n, v) => (n, Some(*v)),
            ModelRef::Alias(n, _) | ModelRef::Latest(n) => (n, None),
        };
        let model = self
            .list(Some(name))?
            .pop()
            .ok_or_else(|| Error::model(format!("{r}: no registered model '{name}'")))?;
        let version = match (r, which) {
            (_, Some(v)) => v,
            (ModelRef::Alias(_, a), None) => *model.aliases.get(a).ok_or_else(|| {
                Error::model(format!(
                    "{r}: model '{name}' has no alias '{a}' (it has: {})",
                    list_or_none(model.aliases.keys())
                ))
            })?,
            _ => model
                .versions
                .first()
                .map(|v| v.version)
                .ok_or_else(|| Error::model(format!("{r}: model '{name}' has no versions")))?,
        };
        model
            .versions
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| Error::model(format!("{r}: model '{name}' has no version {version}")))
    }

    /// A folder holding the version's model `files` (names in its model folder, e.g. the model
    /// and the preprocessor): the run's model folder in the local store, or for a server a copy
    /// of them downloaded once into `cache` (a version's files never change; the folder is
    /// complete or absent).
    pub fn fetch(&self, v: &ModelVersion, cache: &Path, files: &[&str]) -> Result<PathBuf> {
        match self {
            Registry::Local(store) => {
                Ok(store.run_dir(&v.run_id).join("artifacts").join(MODEL_DIR))
            }
            Registry::Server(c, _) => {
                let key = churnkit_core::io::sha256_bytes(
                    format!("{}\n{}\n{}", c.base_url(), v.name, v.version).as_bytes(),
                );
                let dir = cache.join(format!("{}-{}-{}", v.name, v.version, &key[..12]));
                if files.iter().all(|f| dir.join(f).exists()) {
                    return Ok(dir);
                }
                let uri = c.call(
                    Method::GET,
                    "/api/2.0/mlflow/model-versions/get-download-uri",
                    &[("name", v.name.clone()), ("version", v.version.to_string())],
                    None,
                )?["artifact_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let tmp = cache.join(format!(".tmp-{}-{}", std::process::id(), &key[..12]));
                let result = (|| {
                    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
                    for f in files {
                        let bytes = c
                            .download_artifact(&uri, f)
                            .map_err(|e| e.prefixed(format!("models:/{}/{}", v.name, v.version)))?;
                        fs::write(tmp.join(f), bytes).map_err(|e| Error::io(tmp.join(f), e))?;
                    }
                    match fs::rename(&tmp, &dir) {
                        Ok(()) => Ok(()),
                        // Another process fetched it first: keep theirs.
                        Err(_) if files.iter().all(|f| dir.join(f).exists()) => {
                            let _ = fs::remove_dir_all(&tmp);
                            Ok(())
                        }
                        Err(e) => Err(Error::io(&dir, e)),
                    }
                })();
                if result.is_err() {
                    let _ = fs::remove_dir_all(&tmp);
                }
                result.map(|_| dir)
            }
        }
    }
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = items.map(String::as_str).take(5).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn registry_dir(store: &LocalStore) -> PathBuf {
    store.root().join(".registry")
}

/// Register run `run_id` of the local store (a local id, or the server id it was delivered as).
fn local_register(store: &LocalStore, name: &str, run_id: &str) -> Result<ModelVersion> {
    let run = local_run(store, run_id)?;
    ensure!(
        run.record.model.as_ref().is_some_and(|m| m.name == "churnkit"),
        model,
        "run {run_id} has no churnkit model to score with (a training run has one under model/; a survival \
         run's Cox model is loaded with --survival-model instead)"
    );
    let dir = registry_dir(store).join(name).join("versions");
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut next = local_versions(store, name)?
        .iter()
        .map(|v| v.version)
        .max()
        .unwrap_or(0)
        + 1;
    loop {
        let v = ModelVersion {
            name: name.into(),
            version: next,
            run_id: run.run_id.clone(),
            source: format!("runs:/{}/{MODEL_DIR}", run.run_id),
            created_ms: crate::now_ms(),
            aliases: vec![],
            remote: None,
        };
        let p = dir.join(format!("{next}.json"));
        match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(mut f) => {
                let bytes = serde_json::to_vec_pretty(&v).expect("version serializes");
                f.write_all(&bytes)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io(&p, e))?;
                return Ok(v);
            }
            // Another process took this number: take the next.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
}

fn local_run(store: &LocalStore, run_id: &str) -> Result<crate::StoredRun> {
    if let Ok(r) = store.get(run_id) {
        return Ok(r);
    }
    store
        .list(None)?
        .into_iter()
        .find(|r| r.remote.as_ref().is_some_and(|x| x.run_id == run_id))
        .ok_or_else(|| {
            Error::params(format!(
                "no run '{run_id}' in the local store ({})",
                store.root().display()
            ))
        })
}

fn local_versions(store: &LocalStore, name: &str) -> Result<Vec<ModelVersion>> {
    let dir = registry_dir(store).join(name).join("versions");
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
        // A version file being written by another process is briefly empty: not a version yet.
        if bytes.is_empty() {
            continue;
        }
        let v: ModelVersion = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Model, format!("invalid version file: {e}")).in_file(p.display())
        })?;
        out.push(v);
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(out)
}

fn local_version(store: &LocalStore, name: &str, version: u64) -> Result<ModelVersion> {
    local_versions(store, name)?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| Error::model(format!("model '{name}' has no version {version}")))
}

fn local_model(store: &LocalStore, name: &str) -> Result<RegisteredModel> {
    let versions = local_versions(store, name)?;
    let dir = registry_dir(store).join(name).join("aliases");
    let mut aliases = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            let Some(alias) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let v: Value = fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            if let Some(n) = v["version"].as_u64() {
                aliases.insert(alias.to_string(), n);
            }
        }
    }
    Ok(RegisteredModel::new(name, versions, aliases))
}

/// Rewrite a local version's file (after `sync` delivered it).
fn local_update(store: &LocalStore, v: &ModelVersion) -> Result<()> {
    let p = registry_dir(store)
        .join(&v.name)
        .join("versions")
        .join(format!("{}.json", v.version));
    let mut stored = v.clone();
    stored.aliases.clear();
    write_atomic(
        p,
        &serde_json::to_vec_pretty(&stored).expect("version serializes"),
    )
}

/// The server's id of run `run_id`: itself when the server has it, else the id the local run
/// of that id was delivered as.
fn server_run_id(c: &MlflowClient, store: &LocalStore, run_id: &str) -> Result<String> {
    if let Ok(r) = store.get(run_id) {
        return match r.remote {
            Some(x) if x.synced => Ok(x.run_id),
            _ => Err(Error::params(format!(
                "run {run_id} is only in the local store: `churnkit sync` delivers it first"
            ))),
        };
    }
    c.get_run(run_id).map(|r| r.info.run_id)
}

fn server_register(
    c: &MlflowClient,
    name: &str,
    run_id: &str,
    extra_tags: &[(&str, String)],
) -> Result<ModelVersion> {
    let run = c.get_run(run_id)?;
    let model_id = run.tags.get(tags::MODEL_ID).cloned();
    if model_id.is_none() && !run.tags.contains_key(tags::MLFLOW_LOG_MODEL_HISTORY) {
        bail!(
            model,
            "run {run_id} has no logged model (a training run has one)"
        );
    }
    match c.call(
        Method::POST,
        "/api/2.0/mlflow/registered-models/create",
        &[],
        Some(json!({ "name": name })),
    ) {
        Ok(_) => {}
        Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => {}
        Err(e) => return Err(e),
    }
    // From a 3.x logged model, MLflow links the version to it (and its run) in the UI.
    let source = model_id.as_ref().map_or_else(
        || format!("runs:/{run_id}/{MODEL_DIR}"),
        |id| format!("models:/{id}"),
    );
    let tag_list: Vec<Value> = extra_tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let mut body = json!({"name": name, "source": source, "run_id": run_id, "tags": tag_list});
    if let Some(id) = &model_id {
        body["model_id"] = json!(id);
    }
    let v = c.call(
        Method::POST,
        "/api/2.0/mlflow/model-versions/create",
        &[],
        Some(body),
    )?;
    server_version(&v["model_version"])
}

fn server_version(v: &Value) -> Result<ModelVersion> {
    let version = as_i64(&v["version"])
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::rejected(format!("unexpected model version from the server: {v}")))?;
    Ok(ModelVersion {
        name: v["name"].as_str().unwrap_or_default().into(),
        version: version as u64,
        run_id: v["run_id"].as_str().unwrap_or_default().into(),
        source: v["source"].as_str().unwrap_or_default().into(),
        created_ms: as_i64(&v["creation_timestamp"]).unwrap_or(0).max(0) as u64,
        aliases: v["aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        remote: None,
    })
}

fn server_versions(
    c: &MlflowClient,
    name: &str,
) -> Result<Vec<(ModelVersion, BTreeMap<String, String>)>> {
    let q = vec![
        ("filter", format!("name = '{name}'")),
        ("max_results", "200".to_string()),
    ];
    let mut out = Vec::new();
    for mv in search_all(c, "model-versions", "model_versions", q)? {
        let tags = mv["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t["key"].as_str()?.to_string(),
                    t["value"].as_str()?.to_string(),
                ))
            })
            .collect();
        out.push((server_version(&mv)?, tags));
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.0.version));
    Ok(out)
}

/// Every item of a paginated registry search (`GET /api/2.0/mlflow/<what>/search`): the
/// `key` arrays of all pages.
fn search_all(
    c: &MlflowClient,
    what: &str,
    key: &str,
    query: Vec<(&str, String)>,
) -> Result<Vec<Value>> {
    let path = format!("/api/2.0/mlflow/{what}/search");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = query.clone();
        if let Some(t) = &token {
            q.push(("page_token", t.clone()));
        }
        let v = c.call(Method::GET, &path, &q, None)?;
        out.extend(v[key].as_array().into_iter().flatten().cloned());
        token = v["next_page_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn server_model(c: &MlflowClient, name: &str) -> Result<RegisteredModel> {
    let v = c.call(
        Method::GET,
        "/api/2.0/mlflow/registered-models/get",
        &[("name", name.to_string())],
        None,
    )?;
    let aliases = v["registered_model"]["aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a["alias"].as_str()?.to_string(),
                as_i64(&a["version"])? as u64,
            ))
        })
        .collect::<BTreeMap<_, _>>();
    let versions: Vec<ModelVersion> = server_versions(c, name)?.into_iter().map(|x| x.0).collect();
    Ok(RegisteredModel::new(name, versions, aliases))
}

/// What [`sync_registry`] delivered.
#[derive(Debug, Default, PartialEq)]
pub struct RegistrySync {
    /// Versions delivered now: (name, local version, server version).
    pub delivered: Vec<(String, u64, u64)>,
    /// Aliases set on the server: (name, alias, server version).
    pub aliases: Vec<(String, String, u64)>,
    /// Versions waiting for their run to be delivered first: (name, local version).
    pub waiting: Vec<(String, u64)>,
}

/// Deliver the local registry to server `c`: each version whose run is on the server becomes a
/// version there (once: the server version carries the local name and number as a tag, so an
/// interrupted sync resumes rather than registering twice), then each alias points at the
/// delivered version.
pub fn sync_registry(store: &LocalStore, c: &MlflowClient) -> Result<RegistrySync> {
    let mut report = RegistrySync::default();
    for model in Registry::Local(store.clone()).list(None)? {
        let mut mapped: BTreeMap<u64, u64> = BTreeMap::new();
        let mut existing: Option<Vec<(ModelVersion, BTreeMap<String, String>)>> = None;
        // Oldest first, so server versions keep the local order.
        for v in model.versions.iter().rev() {
            if let Some(r) = v.remote.as_ref().filter(|r| r.tracking_uri == c.base_url()) {
                mapped.insert(v.version, r.version);
                continue;
            }
            let run = store.get(&v.run_id)?;
            let Some(remote_run) = run.remote.filter(|r| r.synced).map(|r| r.run_id) else {
                report.waiting.push((v.name.clone(), v.version));
                continue;
            };
            let marker = format!("{}/{}", v.name, v.version);
            let known = match &existing {
                Some(e) => e,
                None => existing.insert(match server_versions(c, &v.name) {
                    Ok(list) => list,
                    Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => vec![],
                    Err(e) => return Err(e),
                }),
            };
            let server = match known
                .iter()
                .find(|(_, t)| t.get(tags::LOCAL_VERSION) == Some(&marker))
            {
                Some((sv, _)) => sv.version,
                None => {
                    let sv = server_register(
                        c,
                        &v.name,
                        &remote_run,
                        &[(tags::LOCAL_VERSION, marker.clone())],
                    )?;
                    report
                        .delivered
                        .push((v.name.clone(), v.version, sv.version));
                    sv.version
                }
            };
            let mut updated = v.clone();
            updated.remote = Some(RemoteVersion {
                tracking_uri: c.base_url().to_string(),
                version: server,
            });
            local_update(store, &updated)?;
            mapped.insert(v.version, server);
        }
        for (alias, local) in &model.aliases {
            if let Some(&server) = mapped.get(local) {
                Registry::Server(c.clone(), store.clone()).set_alias(&model.name, alias, server)?;
                report
                    .aliases
                    .push((model.name.clone(), alias.clone(), server));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Artifact, RunKind, RunRecord};
    use crate::Tracker;

    const FILES: [&str; 2] = ["churn_model.json", "preprocessor.json"];

    fn trained(t: &Tracker) -> String {
        let mut r = RunRecord::new(RunKind::Train, "e", "train");
        for f in FILES {
            r.artifacts.push(Artifact::new(format!("model/{f}"), "{}"));
        }
        r.model = Some(crate::ModelFlavor {
            name: "churnkit".into(),
            fields: Default::default(),
            python_function: None,
        });
        t.log(&r).unwrap().stored.run_id
    }

    #[test]
    fn uris_parse_and_name_what_they_mean() {
        let p = |s: &str| s.parse::<ModelRef>();
        assert_eq!(
            p("models:/churn/3").unwrap(),
            ModelRef::Version("churn".into(), 3)
        );
        assert_eq!(
            p("models:/churn@champion").unwrap(),
            ModelRef::Alias("churn".into(), "champion".into())
        );
        assert_eq!(
            p("models:/churn/latest").unwrap(),
            ModelRef::Latest("churn".into())
        );
        for bad in [
            "churn/3",
            "models:/churn/0",
            "models:/churn",
            "models:/../x/1",
            "models:/c@v2",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(
            p("models:/churn@champion").unwrap().to_string(),
            "models:/churn@champion"
        );
    }

    #[test]
    fn the_local_registry_numbers_versions_and_moves_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker {
            local: LocalStore::new(dir.path()),
            server: None,
        };
        let reg = Registry::Local(t.local.clone());
        let (a, b) = (trained(&t), trained(&t));
        assert_eq!(reg.register("churn", &a).unwrap().version, 1);
        assert_eq!(reg.register("churn", &b).unwrap().version, 2);
        reg.set_alias("churn", "champion", 1).unwrap();
        reg.set_alias("churn", "challenger", 2).unwrap();
        let champion = ModelRef::Alias("churn".into(), "champion".into());
        assert_eq!(reg.resolve(&champion).unwrap().run_id, a);
        reg.set_alias("churn", "champion", 2).unwrap();
        let v = reg.resolve(&champion).unwrap();
        assert_eq!((v.version, v.run_id.as_str()), (2, b.as_str()));
        assert_eq!(v.aliases, ["challenger", "champion"]);
        assert_eq!(
            reg.resolve(&ModelRef::Latest("churn".into()))
                .unwrap()
                .version,
            2
        );
        let dir_of = reg.fetch(&v, Path::new("/nonexistent"), &FILES).unwrap();
        assert!(dir_of.join("churn_model.json").exists());
        assert!(reg.set_alias("churn", "champion", 9).is_err());
        let err = reg
            .resolve(&ModelRef::Alias("churn".into(), "gold".into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("(it has: challenger, champion)"),
            "{err}"
        );
        reg.delete_alias("churn", "challenger").unwrap();
        assert_eq!(reg.list(None).unwrap()[0].aliases.len(), 1);
        // The local store's run listing does not see the registry.
        assert_eq!(t.local.scan(None).unwrap().skipped.len(), 0);
        let mut eval = RunRecord::new(RunKind::Evaluate, "e", "evaluate");
        eval.artifacts.push(Artifact::new("x.json", "{}"));
        let e = t.log(&eval).unwrap().stored.run_id;
        assert!(reg
            .register("churn", &e)
            .unwrap_err()
            .to_string()
            .contains("no churnkit model"));
    }

    #[test]
    fn threads_registering_at_once_get_distinct_versions() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker {
            local: LocalStore::new(dir.path()),
            server: None,
        };
        let run = trained(&t);
        let versions: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        Registry::Local(t.local.clone())
                            .register("churn", &run)
                            .unwrap()
                            .version
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = versions.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=8).collect::<Vec<u64>>());
    }
}
