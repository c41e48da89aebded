//! A blocking client for MLflow's REST API (reqwest + rustls).
//!
//! Behaviour worth knowing, as observed on real servers (see `../shared/docs/mlflow-rest.md`):
//! non-finite metric values are sent as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (a bare
//! `NaN` would be stored as 0); batches are split to the server's limits (100 params, 100 tags,
//! 1000 metrics, 1000 items per request); errors carry MLflow's `error_code`; connection errors
//! and 5xx responses are retried with exponential backoff, 4xx never.

use crate::record::{keys::tags, ModelFlavor, RunStatus};
use churnkit_core::{bail, ensure};
use churnkit_core::{Error, Result};
use reqwest::blocking::Client;
/// HTTP methods for [`MlflowClient::call`].
pub use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How requests authenticate.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP Basic (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// Bearer token (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

impl Auth {
    /// From MLflow's environment variables (the token wins over user/password, as in MLflow).
    pub fn from_env() -> Self {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        if let Some(t) = var("MLFLOW_TRACKING_TOKEN") {
            return Auth::Bearer(t);
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Auth::Basic { user, password },
            _ => Auth::None,
        }
    }
}

/// One metric value at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name.
    pub key: String,
    /// Value; NaN and infinities are allowed and sent as strings.
    #[serde(with = "metric_value")]
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Step.
    pub step: i64,
}

/// Metric values as MLflow's JSON: a number, or "NaN" / "Infinity" / "-Infinity".
pub mod metric_value {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize, non-finite values as strings.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if *v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(*v)
        }
    }

    /// Deserialize a number or one of the strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum V {
            N(f64),
            S(String),
        }
        match V::deserialize(d)? {
            V::N(n) => Ok(n),
            V::S(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => other.parse().map_err(serde::de::Error::custom),
            },
        }
    }
}

/// A run as the server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Experiment id.
    pub experiment_id: String,
    /// Run name.
    pub run_name: String,
    /// Lifecycle state.
    pub status: RunStatus,
    /// Start, ms since the epoch.
    pub start_time: i64,
    /// End, ms since the epoch (None while running).
    pub end_time: Option<i64>,
    /// Where its artifacts live (`mlflow-artifacts:/...` with the artifact proxy).
    pub artifact_uri: String,
}

/// A run with its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Identity and status.
    pub info: RunInfo,
    /// Latest value per metric.
    pub metrics: BTreeMap<String, f64>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// Limits of one `log-batch` request, as enforced by MLflow servers.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Tags per request.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Metrics per request.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Items (params + tags + metrics) per request.
pub const MAX_ITEMS_PER_BATCH: usize = 1000;
/// Longest param value MLflow keeps (3.x cuts longer ones silently, 2.x rejects them).
pub const MAX_PARAM_VALUE_LEN: usize = 6000;

/// The MLflow REST client.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    base: String,
    http: Client,
    auth: Auth,
    retries: u32,
    backoff: Duration,
}

/// A server error that is a lost insert race: SQLite's or PostgreSQL's unique-constraint failure.
fn is_duplicate_row(e: &Error) -> bool {
    let m = e.to_string();
    e.http_status() == Some(400)
        && (m.contains("UNIQUE constraint failed") || m.contains("duplicate key value"))
}

/// The query that opens MLflow 3's UI in its model-training view.
pub const UI_VIEW: &str = "workflowType=machine_learning";

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    // MLflow encodes int64 fields as numbers, protobuf's JSON as strings: accept both.
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn kv(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t.get("key")?.as_str()?.to_string(),
                        t.get("value")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl MlflowClient {
    /// A client for `tracking_uri` (e.g. `http://127.0.0.1:5000`), with credentials from the
    /// environment. Retries: `CHURNKIT_HTTP_RETRIES` (default 3).
    pub fn new(tracking_uri: &str) -> Result<Self> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("churnkit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::rejected(format!("HTTP client: {e}")))?;
        let retries = std::env::var("CHURNKIT_HTTP_RETRIES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        Ok(MlflowClient {
            base: tracking_uri.trim_end_matches('/').to_string(),
            http,
            auth: Auth::from_env(),
            retries,
            backoff: Duration::from_millis(500),
        })
    }

    /// The client for `MLFLOW_TRACKING_URI` when it is an http(s) URL; `None` otherwise
    /// (unset, or a local path: churnkit then uses its own local store).
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var("MLFLOW_TRACKING_URI") {
            Ok(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Self::new(&u).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Replace the credentials.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Set retries and the first backoff delay (it doubles each time).
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    /// The server URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A link to a run in the MLflow UI, in its model-training view: MLflow 3's UI opens an
    /// experiment in its GenAI view (traces, latency, tokens) unless the URL asks for
    /// `workflowType=machine_learning`.
    pub fn run_url(&self, experiment_id: &str, run_id: &str) -> String {
        format!(
            "{}/#/experiments/{experiment_id}/runs/{run_id}?{UI_VIEW}",
            self.base
        )
    }

    /// A link to an experiment's runs table in the MLflow UI (model-training view).
    pub fn experiment_url(&self, experiment_id: &str) -> String {
        format!("{}/#/experiments/{experiment_id}?{UI_VIEW}", self.base)
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> Result<reqwest::blocking::Response> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), &url).query(query);
            req = match &self.auth {
                Auth::None => req,
                Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
                Auth::Bearer(t) => req.bearer_auth(t),
            };
            req = match &body {
                Some(Body::Json(v)) => req.json(v),
                Some(Body::Bytes(b)) => req
                    .header("Content-Type", "application/octet-stream")
                    .body(b.clone()),
                None => req,
            };
            let outcome = req.send();
            let retry = match &outcome {
                Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
                Ok(r) => r.status().is_server_error(),
            };
            if !retry || attempt >= self.retries {
                return match outcome {
                    Ok(r) => Ok(r),
                    Err(e) => Err(Error::transient(format!(
                        "cannot reach MLflow at {}: {}",
                        self.base,
                        e.source_chain()
                            .lines()
                            .last()
                            .unwrap_or("connection failed")
                    ))),
                };
            }
            std::thread::sleep(self.backoff * 2u32.saturating_pow(attempt));
            attempt += 1;
        }
    }

    fn check(url: &str, r: reqwest::blocking::Response) -> Result<Vec<u8>> {
        let status = r.status();
        let bytes = r
            .bytes()
            .map_err(|e| Error::transient(format!("unexpected answer from {url}: {e}")))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        // 5xx may pass; 4xx is the server saying no.
        let failure = |message: String| {
            let e = if status.is_server_error() {
                Error::transient(message)
            } else {
                Error::rejected(message)
            };
            e.with_status(status.as_u16())
        };
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(code) = v.get("error_code").and_then(Value::as_str) {
                let message = v.get("message").and_then(Value::as_str).unwrap_or("");
                let first = message.lines().next().unwrap_or_default();
                return Err(
                    failure(format!("MLflow {code} (HTTP {}): {first}", status.as_u16()))
                        .with_code(code),
                );
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut body: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if status == reqwest::StatusCode::UNAUTHORIZED {
            body = format!(
                "authentication failed: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) [{body}]"
            );
        }
        let body: String = body.chars().take(300).collect();
        Err(failure(format!(
            "HTTP {} from {url}: {body}",
            status.as_u16()
        )))
    }

    /// A JSON API call.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let r = self.send(method, path, query, body.map(Body::Json))?;
        let bytes = Self::check(&url, r)?;
        if bytes.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::rejected(format!("unexpected answer from {url}: not JSON: {e}")))
    }

    /// `GET /health`: Ok when the server answers.
    pub fn health(&self) -> Result<()> {
        let r = self.send(Method::GET, "/health", &[], None)?;
        Self::check(&format!("{}/health", self.base), r).map(|_| ())
    }

    /// The experiment id for `name`, or `None`.
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<String>> {
        match self.call(
            Method::GET,
            "/api/2.0/mlflow/experiments/get-by-name",
            &[("experiment_name", name.to_string())],
            None,
        ) {
            Ok(v) => Ok(v["experiment"]["experiment_id"].as_str().map(String::from)),
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Get or create the experiment `name`; returns its id.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if let Some(id) = self.get_experiment_by_name(name)? {
            return Ok(id);
        }
        match self.call(
            Method::POST,
            "/api/2.0/mlflow/experiments/create",
            &[],
            // What other MLflow 3 clients set for model development (not GenAI) experiments.
            Some(json!({
                "name": name,
                "tags": [{"key": tags::MLFLOW_EXPERIMENT_KIND, "value": "custom_model_development"}],
            })),
        ) {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| {
                    Error::rejected(format!(
                        "unexpected answer from {}: experiments/create returned no id",
                        self.base
                    ))
                }),
            // Someone created it between our two calls.
            Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => self
                .get_experiment_by_name(name)?
                .ok_or_else(|| Error::transient(format!("experiment '{name}' vanished"))),
            Err(e) => Err(e),
        }
    }

    fn parse_run(&self, v: &Value) -> Result<Run> {
        let info = &v["info"];
        let s = |k: &str| info[k].as_str().unwrap_or_default().to_string();
        let run_id = s("run_id");
        ensure!(
            !run_id.is_empty(),
            rejected,
            "unexpected answer from {}: a run without run_id",
            self.base
        );
        let metrics = v["data"]["metrics"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| serde_json::from_value::<Metric>(m.clone()).ok())
                    .map(|m| (m.key, m.value))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Run {
            info: RunInfo {
                run_id,
                experiment_id: s("experiment_id"),
                run_name: s("run_name"),
                // An unknown state (a newer server's) reads as still running.
                status: RunStatus::parse(&s("status")).unwrap_or(RunStatus::Running),
                start_time: as_i64(&info["start_time"]).unwrap_or(0),
                end_time: as_i64(&info["end_time"]),
                artifact_uri: s("artifact_uri"),
            },
            metrics,
            params: kv(&v["data"]["params"]),
            tags: kv(&v["data"]["tags"]),
        })
    }

    /// Create a run.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tags: &BTreeMap<String, String>,
    ) -> Result<RunInfo> {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "churnkit".into());
        let mut all = tags.clone();
        all.entry(tags::MLFLOW_USER.into()).or_insert(user.clone());
        all.entry(tags::MLFLOW_SOURCE_NAME.into())
            .or_insert_with(|| "churnkit".into());
        all.entry(tags::MLFLOW_SOURCE_TYPE.into())
            .or_insert_with(|| "LOCAL".into());
        let tag_list: Vec<Value> = all
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self.call(
            Method::POST,
            "/api/2.0/mlflow/runs/create",
            &[],
            Some(json!({
                "experiment_id": experiment_id,
                "user_id": user,
                "run_name": run_name,
                "start_time": start_time,
                "tags": tag_list,
            })),
        )?;
        Ok(self.parse_run(&v["run"])?.info)
    }

    /// Fetch a run.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        let v = self.call(
            Method::GET,
            "/api/2.0/mlflow/runs/get",
            &[("run_id", run_id.to_string())],
            None,
        )?;
        self.parse_run(&v["run"])
    }

    /// Log params, metrics and tags, split into requests within the server's limits.
    pub fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[Metric],
        tags: &[(String, String)],
    ) -> Result<()> {
        if let Some((k, v)) = params.iter().find(|(_, v)| v.len() > MAX_PARAM_VALUE_LEN) {
            bail!(
                rejected,
                "param '{k}' is {} characters long; MLflow keeps at most {MAX_PARAM_VALUE_LEN}",
                v.len()
            );
        }
        let (mut p, mut m, mut t) = (0, 0, 0);
        while p < params.len() || m < metrics.len() || t < tags.len() {
            let np = (params.len() - p).min(MAX_PARAMS_PER_BATCH);
            let nt = (tags.len() - t).min(MAX_TAGS_PER_BATCH);
            let nm = (metrics.len() - m)
                .min(MAX_METRICS_PER_BATCH)
                .min(MAX_ITEMS_PER_BATCH - np - nt);
            let body = json!({
                "run_id": run_id,
                "params": params[p..p + np].iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
                "tags": tags[t..t + nt].iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
                "metrics": &metrics[m..m + nm],
            });
            self.call(
                Method::POST,
                "/api/2.0/mlflow/runs/log-batch",
                &[],
                Some(body),
            )?;
            p += np;
            t += nt;
            m += nm;
        }
        Ok(())
    }

    /// Set a run's final status and end time.
    pub fn end_run(&self, run_id: &str, status: RunStatus, end_time: i64) -> Result<()> {
        self.call(
            Method::POST,
            "/api/2.0/mlflow/runs/update",
            &[],
            Some(json!({"run_id": run_id, "status": status.as_str(), "end_time": end_time})),
        )
        .map(|_| ())
    }

    /// The proxy path for `artifact_uri` + `path`; errors if the server does not proxy.
    fn proxy_path(&self, artifact_uri: &str, path: &str) -> Result<String> {
        let rest = artifact_uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
            Error::rejected(format!(
                "artifacts of this server live at '{artifact_uri}', which churnkit cannot reach; start `mlflow server` with the artifact proxy (the default, or --serve-artifacts)"
            ))
        })?;
        // `mlflow-artifacts://host:port/EXP/...` carries an authority; `mlflow-artifacts:/EXP/...` not.
        let rest = match rest.strip_prefix("//") {
            Some(r) => r.split_once('/').map_or("", |(_, p)| p),
            None => rest.trim_start_matches('/'),
        };
        Ok(format!(
            "/api/2.0/mlflow-artifacts/artifacts/{}/{}",
            rest.trim_end_matches('/'),
            path.trim_start_matches('/')
        ))
    }

    /// Upload `bytes` as artifact `path` under `artifact_uri` (a run's or a logged model's).
    pub fn upload_artifact(&self, artifact_uri: &str, path: &str, bytes: Vec<u8>) -> Result<()> {
        let p = self.proxy_path(artifact_uri, path)?;
        let url = format!("{}{p}", self.base);
        let r = self.send(Method::PUT, &p, &[], Some(Body::Bytes(bytes)))?;
        Self::check(&url, r).map(|_| ())
    }

    /// Download artifact `path` under `artifact_uri`.
    pub fn download_artifact(&self, artifact_uri: &str, path: &str) -> Result<Vec<u8>> {
        let p = self.proxy_path(artifact_uri, path)?;
        let url = format!("{}{p}", self.base);
        let r = self.send(Method::GET, &p, &[], None)?;
        Self::check(&url, r)
    }

    /// Files directly under `path` of a run's artifacts: (path, is_dir, size).
    pub fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<(String, bool, u64)>> {
        let v = self.call(
            Method::GET,
            "/api/2.0/mlflow/artifacts/list",
            &[("run_id", run_id.to_string()), ("path", path.to_string())],
            None,
        )?;
        Ok(v["files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["path"].as_str().unwrap_or_default().to_string(),
                            f["is_dir"].as_bool().unwrap_or(false),
                            as_i64(&f["file_size"]).unwrap_or(0) as u64,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Search runs of experiments (MLflow filter and order_by syntax), all pages.
    pub fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
        order_by: &[String],
    ) -> Result<Vec<Run>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": experiment_ids,
                "filter": filter,
                "order_by": order_by,
                "max_results": 1000,
                "run_view_type": "ACTIVE_ONLY",
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.call(Method::POST, "/api/2.0/mlflow/runs/search", &[], Some(body))?;
            let runs = v["runs"].as_array().cloned().unwrap_or_default();
            for r in &runs {
                out.push(self.parse_run(r)?);
            }
            // 2.9.2 sends a token even on the last page: stop on an empty page too.
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() && !runs.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every logged value of one metric, all pages, in step order.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("run_id", run_id.to_string()),
                ("metric_key", key.to_string()),
                ("max_results", "25000".to_string()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v = self.call(Method::GET, "/api/2.0/mlflow/metrics/get-history", &q, None)?;
            let page = v["metrics"].as_array().cloned().unwrap_or_default();
            for m in &page {
                out.push(serde_json::from_value(m.clone()).map_err(|e| {
                    Error::rejected(format!("unexpected answer from {}: metric: {e}", self.base))
                })?);
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() && !page.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort_by_key(|m: &Metric| (m.step, m.timestamp));
        Ok(out)
    }

    /// Record the datasets a run used (`runs/log-inputs`).
    pub fn log_inputs(&self, run_id: &str, inputs: &[crate::record::DatasetInput]) -> Result<()> {
        if inputs.is_empty() {
            return Ok(());
        }
        let datasets: Vec<Value> = inputs
            .iter()
            .map(|d| {
                json!({
                    "dataset": {
                        "name": d.name,
                        "digest": d.digest,
                        "source_type": d.source_type,
                        "source": d.source,
                        "schema": d.schema,
                        "profile": d.profile,
                    },
                    "tags": [{"key": "mlflow.data.context", "value": d.context}],
                })
            })
            .collect();
        let body = json!({"run_id": run_id, "datasets": datasets});
        let mut attempt = 0;
        loop {
            match self.call(
                Method::POST,
                "/api/2.0/mlflow/runs/log-inputs",
                &[],
                Some(body.clone()),
            ) {
                Ok(_) => return Ok(()),
                // The server checks whether an experiment has the dataset, then inserts it: two
                // runs logging the same split at once race, and the loser gets its database's
                // unique-constraint error as a 400. Again, it finds the winner's row.
                Err(e) if attempt < 5 && is_duplicate_row(&e) => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * attempt));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Log a model so the MLflow UI shows it. On MLflow 3.x: a logged model (created, files
    /// uploaded to its own artifact location, linked to the run as an output, marked ready).
    /// On every server: the files under the run's `model/` folder with an `MLmodel` file and
    /// the `mlflow.log-model.history` tag (what 2.x UIs read). Returns the 3.x model id, if any.
    pub fn log_model(
        &self,
        run: &RunInfo,
        files: &[(String, Vec<u8>)],
        flavor: &ModelFlavor,
    ) -> Result<Option<String>> {
        let now = crate::now_ms();
        let created = crate::utc_string(now);
        // 3.x logged-model entity; a 404 (HTML) means the server predates it.
        let model_id = match self.call(
            Method::POST,
            "/api/2.0/mlflow/logged-models",
            &[],
            Some(json!({
                "experiment_id": run.experiment_id,
                "name": "model",
                "source_run_id": run.run_id,
                "model_type": "churnkit",
            })),
        ) {
            Ok(v) => {
                let info = &v["model"]["info"];
                let id = info["model_id"].as_str().unwrap_or_default().to_string();
                let uri = info["artifact_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let mlmodel = flavor.mlmodel_yaml(&run.run_id, &created, Some(&id));
                self.upload_artifact(&uri, "MLmodel", mlmodel.into_bytes())?;
                for (name, bytes) in files {
                    self.upload_artifact(&uri, name, bytes.clone())?;
                }
                self.call(
                    Method::POST,
                    "/api/2.0/mlflow/runs/outputs",
                    &[],
                    Some(json!({"run_id": run.run_id, "models": [{"model_id": id, "step": 0}]})),
                )?;
                self.call(
                    Method::PATCH,
                    &format!("/api/2.0/mlflow/logged-models/{id}"),
                    &[],
                    Some(json!({"model_id": id, "status": "LOGGED_MODEL_READY"})),
                )?;
                Some(id)
            }
            // A 3.x server answers unknown routes with MLflow JSON; older ones with HTML.
            Err(e) if matches!(e.http_status(), Some(404 | 405)) && e.code().is_none() => None,
            Err(e) => return Err(e),
        };
        let mlmodel = flavor.mlmodel_yaml(&run.run_id, &created, model_id.as_deref());
        self.upload_artifact(&run.artifact_uri, "model/MLmodel", mlmodel.into_bytes())?;
        for (name, bytes) in files {
            self.upload_artifact(&run.artifact_uri, &format!("model/{name}"), bytes.clone())?;
        }
        let mut flavors = serde_json::Map::new();
        flavors.insert(flavor.name.clone(), json!(flavor.fields));
        let history = json!([{
            "run_id": run.run_id,
            "artifact_path": "model",
            "utc_time_created": created,
            "flavors": flavors,
        }]);
        let mut tag_list = vec![(tags::MLFLOW_LOG_MODEL_HISTORY.into(), history.to_string())];
        if let Some(id) = &model_id {
            tag_list.push((tags::MODEL_ID.into(), id.clone()));
        }
        self.log_batch(&run.run_id, &[], &[], &tag_list)?;
        Ok(model_id)
    }
}

enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

trait SourceChain {
    fn source_chain(&self) -> String;
}

impl SourceChain for reqwest::Error {
    /// reqwest's Display stops at "error sending request"; the cause is further down.
    fn source_chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            s.push('\n');
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_become_strings_and_back() {
        let m = |v| Metric {
            key: "k".into(),
            value: v,
            timestamp: 1,
            step: 0,
        };
        let text =
            serde_json::to_string(&[m(f64::NAN), m(f64::INFINITY), m(f64::NEG_INFINITY), m(0.5)])
                .unwrap();
        assert!(
            text.contains("\"NaN\"")
                && text.contains("\"Infinity\"")
                && text.contains("\"-Infinity\"")
        );
        let back: Vec<Metric> = serde_json::from_str(&text).unwrap();
        assert!(back[0].value.is_nan());
        assert_eq!(back[1].value, f64::INFINITY);
        assert_eq!(back[2].value, f64::NEG_INFINITY);
        assert_eq!(back[3].value, 0.5);
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Basic {
            user: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{a:?}").contains("secret"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}
