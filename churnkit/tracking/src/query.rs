//! Query and compare runs as polars DataFrames, over the local store or a server alike.

pub use crate::filter::Filter;
pub use crate::record::RunRow;
use crate::record::{MetricPoint, RunStatus};
use crate::{LocalStore, MlflowClient};
use churnkit_core::bail;
use churnkit_core::{Error, Result};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Where runs are read from.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum RunSource {
    /// The local store.
    Local(LocalStore),
    /// An MLflow server.
    Server(MlflowClient),
}

impl RunSource {
    /// The server of `MLFLOW_TRACKING_URI` if set, else the local store.
    pub fn from_env() -> Result<Self> {
        Ok(match MlflowClient::from_env()? {
            Some(c) => RunSource::Server(c),
            None => RunSource::Local(LocalStore::from_env()),
        })
    }

    /// Runs of `experiment` matching `filter` (MLflow's syntax, evaluated locally as a server
    /// does: see [`Filter`]), sorted by `order_by` entries like `"metrics.test_f1 DESC"`
    /// (default: newest first).
    pub fn runs(&self, experiment: &str, filter: &str, order_by: &[&str]) -> Result<Vec<RunRow>> {
        self.search(&[experiment], filter, order_by)
    }

    /// [`RunSource::runs`] over several experiments at once (unknown ones have no runs).
    pub fn search(
        &self,
        experiments: &[&str],
        filter: &str,
        order_by: &[&str],
    ) -> Result<Vec<RunRow>> {
        match self {
            RunSource::Server(c) => {
                let mut ids = Vec::new();
                let mut names = BTreeMap::new();
                for e in experiments {
                    if let Some(id) = c.get_experiment_by_name(e)? {
                        names.insert(id.clone(), e.to_string());
                        ids.push(id);
                    }
                }
                if ids.is_empty() {
                    return Ok(vec![]);
                }
                let order: Vec<String> = order_by.iter().map(|s| s.to_string()).collect();
                Ok(c.search_runs(&ids, filter, &order)?
                    .into_iter()
                    .map(|r| {
                        let name = names
                            .get(&r.info.experiment_id)
                            .cloned()
                            .unwrap_or_default();
                        server_row(r, &name)
                    })
                    .collect())
            }
            RunSource::Local(store) => {
                let filter = Filter::parse(filter)?;
                let mut rows = Vec::new();
                for e in experiments {
                    rows.extend(
                        store
                            .list(Some(e))?
                            .into_iter()
                            .map(|s| local_row(&s))
                            .filter(|r| filter.matches(r)),
                    );
                }
                sort_rows(&mut rows, order_by)?;
                Ok(rows)
            }
        }
    }

    /// One run by id.
    pub fn run(&self, run_id: &str) -> Result<RunRow> {
        match self {
            RunSource::Server(c) => {
                let r = c.get_run(run_id)?;
                let experiment = r.info.experiment_id.clone();
                Ok(server_row(r, &experiment))
            }
            RunSource::Local(store) => Ok(local_row(&store.get(run_id)?)),
        }
    }

    /// Every value of a metric of a run, in step order.
    pub fn history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        match self {
            RunSource::Server(c) => Ok(c
                .metric_history(run_id, key)?
                .into_iter()
                .map(|m| MetricPoint {
                    step: m.step,
                    value: Some(m.value).filter(|v| !v.is_nan()),
                })
                .collect()),
            RunSource::Local(store) => {
                let s = store.get(run_id)?;
                if let Some(h) = s.record.metric_history.get(key) {
                    return Ok(h.clone());
                }
                Ok(s.record
                    .metrics
                    .get(key)
                    .map(|v| vec![MetricPoint { step: 0, value: *v }])
                    .unwrap_or_default())
            }
        }
    }
}

fn server_row(r: crate::Run, experiment: &str) -> RunRow {
    RunRow {
        run_id: r.info.run_id,
        run_name: r.info.run_name,
        experiment: experiment.to_string(),
        start_time_ms: r.info.start_time,
        end_time_ms: r.info.end_time,
        status: r.info.status,
        params: r.params,
        metrics: r.metrics,
        tags: r.tags,
    }
}

pub(crate) fn local_row(s: &crate::StoredRun) -> RunRow {
    let r = &s.record;
    RunRow {
        run_id: s.run_id.clone(),
        run_name: r.run_name.clone(),
        experiment: r.experiment.clone(),
        start_time_ms: r.start_time_ms as i64,
        end_time_ms: Some(r.end_time_ms as i64),
        status: RunStatus::Finished,
        params: r.params.clone(),
        metrics: r
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), v.unwrap_or(f64::NAN)))
            .collect(),
        tags: r.tags.clone(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Num(f64),
    Text(String),
}

fn field(r: &RunRow, kind: &str, key: &str) -> Option<Value> {
    match kind {
        "metrics" | "metric" => r.metrics.get(key).map(|v| Value::Num(*v)),
        "params" | "param" | "parameters" => r.params.get(key).map(|v| Value::Text(v.clone())),
        "tags" | "tag" => r.tags.get(key).map(|v| Value::Text(v.clone())),
        _ => match key {
            "run_id" => Some(Value::Text(r.run_id.clone())),
            "run_name" => Some(Value::Text(r.run_name.clone())),
            "status" => Some(Value::Text(r.status.as_str().into())),
            "start_time" => Some(Value::Num(r.start_time_ms as f64)),
            "end_time" => r.end_time_ms.map(|v| Value::Num(v as f64)),
            _ => None,
        },
    }
}

fn split_ident(ident: &str) -> (String, String) {
    let ident = ident.trim();
    match ident.split_once('.') {
        Some((k, rest)) => (
            k.to_ascii_lowercase(),
            rest.trim_matches(['`', '"']).to_string(),
        ),
        None => ("attributes".into(), ident.trim_matches('`').to_string()),
    }
}

fn sort_rows(rows: &mut [RunRow], order_by: &[&str]) -> Result<()> {
    let mut keys = Vec::new();
    for o in order_by {
        let mut parts = o.split_whitespace();
        let ident = parts.next().unwrap_or_default();
        let desc = match parts.next().map(|d| d.to_ascii_uppercase()) {
            None => false,
            Some(d) if d == "ASC" => false,
            Some(d) if d == "DESC" => true,
            Some(d) => {
                bail!(params, "order_by '{o}': '{d}' is not ASC or DESC")
            }
        };
        keys.push((split_ident(ident), desc));
    }
    if keys.is_empty() {
        keys.push((("attributes".into(), "start_time".into()), true));
    }
    rows.sort_by(|a, b| {
        for ((kind, key), desc) in &keys {
            let (x, y) = (field(a, kind, key), field(b, kind, key));
            // Missing and NaN values sort last, whatever the direction (as MLflow does).
            let ord = match (x, y) {
                (Some(Value::Num(p)), Some(Value::Num(q))) if p.is_nan() || q.is_nan() => {
                    p.is_nan().cmp(&q.is_nan())
                }
                (Some(Value::Num(p)), Some(Value::Num(q))) => {
                    let o = p.total_cmp(&q);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
                (Some(Value::Text(p)), Some(Value::Text(q))) => {
                    let o = p.cmp(&q);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => std::cmp::Ordering::Equal,
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.run_id.cmp(&b.run_id)
    });
    Ok(())
}

/// Rows of runs as a DataFrame: run_id, run_name, start_time (UTC text), duration_s, status,
/// then `params.*` (text) and `metrics.*` (f64, null when absent) in name order.
pub fn runs_frame(rows: &[RunRow], only_params: Option<&BTreeSet<String>>) -> Result<DataFrame> {
    let params: BTreeSet<String> = match only_params {
        Some(p) => p.clone(),
        None => rows.iter().flat_map(|r| r.params.keys().cloned()).collect(),
    };
    let metrics: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.metrics.keys().cloned())
        .collect();
    let text = |f: &dyn Fn(&RunRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let mut cols = vec![
        Column::new("run_id".into(), text(&|r| r.run_id.clone())),
        Column::new("run_name".into(), text(&|r| r.run_name.clone())),
        Column::new(
            "start_time".into(),
            text(&|r| crate::utc_string(r.start_time_ms.max(0) as u64)[..19].to_string()),
        ),
        Column::new(
            "duration_s".into(),
            rows.iter()
                .map(RunRow::duration_s)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new("status".into(), text(&|r| r.status.to_string())),
    ];
    for p in &params {
        cols.push(Column::new(
            format!("params.{p}").into(),
            rows.iter()
                .map(|r| r.params.get(p).cloned())
                .collect::<Vec<Option<String>>>(),
        ));
    }
    for m in &metrics {
        cols.push(Column::new(
            format!("metrics.{m}").into(),
            rows.iter()
                .map(|r| r.metrics.get(m).copied())
                .collect::<Vec<Option<f64>>>(),
        ));
    }
    Ok(DataFrame::new(rows.len(), cols)?)
}

/// `search_runs(source, experiment, filter, order_by)`: one row per run, as [`runs_frame`].
///
/// ```no_run
/// use churnkit_tracking::{search_runs, RunSource};
/// let source = RunSource::from_env()?;
/// let df = search_runs(&source, "depth-tuning", "metrics.test_f1 > 0.5", &["metrics.test_f1 DESC"])?;
/// println!("{df}");
/// # Ok::<(), churnkit_tracking::Error>(())
/// ```
pub fn search_runs(
    source: &RunSource,
    experiment: &str,
    filter: &str,
    order_by: &[&str],
) -> Result<DataFrame> {
    runs_frame(&source.runs(experiment, filter, order_by)?, None)
}

/// A metric's history as a DataFrame with columns `step` and `value`.
pub fn metric_history(source: &RunSource, run_id: &str, key: &str) -> Result<DataFrame> {
    let h = source.history(run_id, key)?;
    let n = h.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "step".into(),
                h.iter().map(|p| p.step).collect::<Vec<i64>>(),
            ),
            Column::new(
                "value".into(),
                h.iter().map(|p| p.value).collect::<Vec<Option<f64>>>(),
            ),
        ],
    )
    .map_err(Error::from)
}

/// Runs side by side: the params whose values differ between them, and every metric.
pub fn compare<S: AsRef<str>>(source: &RunSource, run_ids: &[S]) -> Result<DataFrame> {
    let rows: Vec<RunRow> = run_ids
        .iter()
        .map(|id| source.run(id.as_ref()))
        .collect::<Result<_, _>>()?;
    let all: BTreeSet<String> = rows.iter().flat_map(|r| r.params.keys().cloned()).collect();
    let differing: BTreeSet<String> = all
        .into_iter()
        .filter(|k| {
            let vals: BTreeSet<Option<&String>> = rows.iter().map(|r| r.params.get(k)).collect();
            vals.len() > 1
        })
        .collect();
    runs_frame(&rows, Some(&differing))
}

/// The run of `experiment` with the highest `metric` (runs without it, or NaN, are ignored).
pub fn best_run(source: &RunSource, experiment: &str, metric: &str) -> Result<Option<RunRow>> {
    Ok(source
        .runs(experiment, "", &[])?
        .into_iter()
        .filter(|r| r.metrics.get(metric).is_some_and(|v| !v.is_nan()))
        .max_by(|a, b| {
            a.metrics[metric]
                .total_cmp(&b.metrics[metric])
                .then(b.run_id.cmp(&a.run_id))
        }))
}

/// Where a listed run lives.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// Only in the local store (no server, or not delivered yet).
    Local,
    /// In the local store and delivered to the server.
    Synced,
    /// On the server only (logged from elsewhere).
    Server,
}

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Where::Local => "local",
            Where::Synced => "synced",
            Where::Server => "server",
        })
    }
}

/// The runs of an experiment across the local store and a server.
#[derive(Debug, Clone, PartialEq)]
pub struct RunListing {
    /// Each run and where it lives, in display order.
    pub rows: Vec<(Where, RunRow)>,
    /// Problems worth a warning: unreadable local entries, an unreachable server.
    pub warnings: Vec<String>,
}

/// Every run of `experiment` in the local store and, if given, on the server (a delivered run
/// once, as `Synced`), best `sort_metric` first (runs without it last) or newest first. An
/// unreachable server is not an error: the local runs come back with a warning.
pub fn list_runs(
    store: &LocalStore,
    server: Option<&MlflowClient>,
    experiment: &str,
    sort_metric: Option<&str>,
) -> Result<RunListing> {
    let mut rows = Vec::new();
    let mut synced = BTreeSet::new();
    let scan = store.scan(Some(experiment))?;
    let mut warnings: Vec<String> = scan
        .skipped
        .iter()
        .map(|(name, e)| format!("skipping local run {name}: {e}"))
        .collect();
    for s in scan.runs {
        let place = match s.remote.as_ref() {
            Some(r) if r.synced => {
                synced.insert(r.run_id.clone());
                Where::Synced
            }
            _ => Where::Local,
        };
        rows.push((place, local_row(&s)));
    }
    if let Some(client) = server {
        match RunSource::Server(client.clone()).runs(experiment, "", &[]) {
            Ok(remote) => rows.extend(
                remote
                    .into_iter()
                    .filter(|r| !synced.contains(&r.run_id))
                    .map(|r| (Where::Server, r)),
            ),
            Err(e) if e.is_transient() => {
                warnings.push(format!("server not reached ({e}); showing local runs only"))
            }
            Err(e) => return Err(e),
        }
    }
    match sort_metric {
        Some(m) => rows.sort_by(|x, y| {
            let v = |r: &RunRow| r.metrics.get(m).copied().filter(|v| !v.is_nan());
            match (v(&x.1), v(&y.1)) {
                (Some(p), Some(q)) => q.total_cmp(&p),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => std::cmp::Ordering::Equal,
            }
        }),
        None => rows.sort_by_key(|r| std::cmp::Reverse(r.1.start_time_ms)),
    }
    Ok(RunListing { rows, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, f1: f64, depth: &str) -> RunRow {
        RunRow {
            run_id: id.into(),
            run_name: format!("run-{id}"),
            experiment: "e".into(),
            start_time_ms: 1000,
            end_time_ms: Some(3500),
            status: RunStatus::Finished,
            params: BTreeMap::from([
                ("max_depth".to_string(), depth.to_string()),
                ("seed".into(), "42".into()),
            ]),
            metrics: BTreeMap::from([("test_f1".to_string(), f1)]),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn filters_and_sorts_like_mlflow() {
        let rows = vec![
            row("a", 0.5, "5"),
            row("b", 0.7, "10"),
            row("c", f64::NAN, "15"),
        ];
        let f = Filter::parse("metrics.test_f1 > 0.6 AND params.max_depth = '10'").unwrap();
        let hit: Vec<&str> = rows
            .iter()
            .filter(|r| f.matches(r))
            .map(|r| r.run_id.as_str())
            .collect();
        assert_eq!(hit, ["b"]);
        let mut sorted = rows.clone();
        sort_rows(&mut sorted, &["metrics.test_f1 DESC"]).unwrap();
        let ids: Vec<&str> = sorted.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert!(Filter::parse("metrics.x ~ 3").is_err());
        assert!(sort_rows(&mut sorted, &["metrics.test_f1 SIDEWAYS"]).is_err());
    }

    #[test]
    fn frame_has_params_and_metrics_columns() {
        let rows = vec![row("a", 0.5, "5"), row("b", 0.7, "10")];
        let df = runs_frame(&rows, None).unwrap();
        assert_eq!(df.height(), 2);
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(names.contains(&"params.max_depth".to_string()));
        assert!(names.contains(&"metrics.test_f1".to_string()));
        assert_eq!(
            df.column("duration_s").unwrap().f64().unwrap().get(0),
            Some(2.5)
        );
    }
}
