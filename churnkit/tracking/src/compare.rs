//! Runs side by side, as MLflow's compare view shows them: the params of each run with the ones
//! that differ marked, every metric with its difference from the first run and the best value
//! marked. Runs are found by id or by the id prefix `churnkit runs` prints, in the local store
//! and on the server alike.

use crate::query::{list_runs, RunRow, RunSource, Where};
use crate::{LocalStore, MlflowClient};
use churnkit_core::{bail, ensure};
use churnkit_core::{Error, Result};
use std::collections::BTreeSet;

/// Whether a smaller value of `metric` is the better one: errors, losses, false alarms, time
/// and size. Every other metric churnkit logs (accuracy, F1, AUC, lift, profit...) is better
/// when larger.
pub fn lower_is_better(metric: &str) -> bool {
    const LOWER: [&str; 5] = [
        "brier_score",
        "false_alarm_rate",
        "training_time",
        "training_cpu_time",
        "model_size_mb",
    ];
    LOWER.contains(&metric)
        || ["loss", "error", "_time", "_seconds"]
            .iter()
            .any(|s| metric.contains(s))
}

/// One param across the compared runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// Param name.
    pub key: String,
    /// Its value per run (`None`: the run did not log it).
    pub values: Vec<Option<String>>,
    /// True when the runs that logged it do not all share one value.
    pub differs: bool,
}

/// One metric across the compared runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Metric name.
    pub key: String,
    /// Its value per run (`None`: not logged; NaN: undefined).
    pub values: Vec<Option<f64>>,
    /// Each run's value minus the first run's (`None` where either is missing or NaN).
    pub delta: Vec<Option<f64>>,
    /// The runs holding the best value (several on a tie); empty when every run has the same
    /// value or fewer than two have one.
    pub best: Vec<usize>,
    /// Whether smaller is better for it ([`lower_is_better`]).
    pub lower_is_better: bool,
}

/// Runs side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The runs, in the order asked for.
    pub runs: Vec<RunRow>,
    /// Every param any run logged, in name order.
    pub params: Vec<ParamRow>,
    /// Every metric any run logged, in name order.
    pub metrics: Vec<MetricRow>,
}

impl Comparison {
    /// Compare `runs` (at least two).
    pub fn new(runs: Vec<RunRow>) -> Result<Self> {
        if runs.len() < 2 {
            bail!(
                params,
                "compare needs at least two runs, got {}",
                runs.len()
            );
        }
        let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
        let params = param_keys
            .into_iter()
            .map(|k| {
                let values: Vec<Option<String>> =
                    runs.iter().map(|r| r.params.get(k).cloned()).collect();
                // A run that did not log it (an evaluation beside trainings) is no difference.
                let distinct: BTreeSet<&String> = values.iter().flatten().collect();
                ParamRow {
                    key: k.clone(),
                    differs: distinct.len() > 1,
                    values,
                }
            })
            .collect();
        let metric_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
        let metrics =
            metric_keys
                .into_iter()
                .map(|k| {
                    let values: Vec<Option<f64>> =
                        runs.iter().map(|r| r.metrics.get(k).copied()).collect();
                    let finite = |v: &Option<f64>| v.filter(|x| !x.is_nan());
                    let first = finite(&values[0]);
                    let delta = values.iter().map(|v| Some(finite(v)? - first?)).collect();
                    let lower = lower_is_better(k);
                    let known: Vec<(usize, f64)> = values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| Some((i, finite(v)?)))
                        .collect();
                    let best = match known.iter().map(|x| x.1).reduce(|a, b| {
                        if lower {
                            a.min(b)
                        } else {
                            a.max(b)
                        }
                    }) {
                        Some(b) if known.len() >= 2 && known.iter().any(|x| x.1 != b) => {
                            known.iter().filter(|x| x.1 == b).map(|x| x.0).collect()
                        }
                        _ => vec![],
                    };
                    MetricRow {
                        key: k.clone(),
                        values,
                        delta,
                        best,
                        lower_is_better: lower,
                    }
                })
                .collect();
        Ok(Comparison {
            runs,
            params,
            metrics,
        })
    }
}

/// The runs named by `ids`, each a full run id or a unique prefix of one (as `churnkit runs`
/// shows them: 12 characters), local or remote. Looked up among the runs of `experiment` in
/// the local store and on the server, then among every local run, then on the server by exact
/// id (a run of another experiment). An id that matches nothing or several runs is an error
/// naming it.
pub fn find_runs<S: AsRef<str>>(
    store: &LocalStore,
    server: Option<&MlflowClient>,
    experiment: &str,
    ids: &[S],
) -> Result<Vec<RunRow>> {
    let listing = list_runs(store, server, experiment, None)?;
    let mut candidates: Vec<(Vec<String>, RunRow)> = Vec::new();
    let local_ids = |s: &crate::StoredRun| {
        let mut v = vec![s.run_id.clone()];
        v.extend(s.remote.as_ref().map(|r| r.run_id.clone()));
        v
    };
    let scan = store.scan(None)?;
    for s in &scan.runs {
        candidates.push((local_ids(s), crate::query::local_row(s)));
    }
    for (place, row) in listing.rows {
        if place == Where::Server {
            candidates.push((vec![row.run_id.clone()], row));
        }
    }
    ids.iter()
        .map(|id| {
            let id = id.as_ref();
            ensure!(!id.is_empty(), params, "an empty run id");
            let hits: Vec<&RunRow> = candidates
                .iter()
                .filter(|(keys, _)| keys.iter().any(|k| k.starts_with(id)))
                .map(|(_, r)| r)
                .collect();
            match hits.as_slice() {
                [one] => Ok((*one).clone()),
                [] => match server {
                    Some(c) => RunSource::Server(c.clone())
                        .run(id)
                        .map_err(|e| e.prefixed(format!("run '{id}' is not in the local store"))),
                    None => Err(Error::params(format!(
                        "no run '{id}' in the local store ({})",
                        store.root().display()
                    ))),
                },
                many => Err(Error::params(format!(
                    "run id '{id}' is ambiguous: it starts {} runs; give more characters",
                    many.len()
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunStatus;
    use std::collections::BTreeMap;

    fn row(id: &str, depth: &str, auc: f64, brier: Option<f64>) -> RunRow {
        let mut metrics = BTreeMap::from([("roc_auc".to_string(), auc)]);
        if let Some(b) = brier {
            metrics.insert("brier_score".into(), b);
        }
        RunRow {
            run_id: id.into(),
            run_name: id.into(),
            experiment: "e".into(),
            start_time_ms: 0,
            end_time_ms: None,
            status: RunStatus::Finished,
            params: BTreeMap::from([
                ("max_depth".to_string(), depth.to_string()),
                ("seed".into(), "42".into()),
            ]),
            metrics,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn marks_differing_params_deltas_and_the_best_in_each_direction() {
        let c = Comparison::new(vec![
            row("a", "5", 0.80, Some(0.15)),
            row("b", "10", 0.84, Some(0.13)),
            row("c", "10", 0.84, None),
        ])
        .unwrap();
        let p: Vec<(&str, bool)> = c
            .params
            .iter()
            .map(|p| (p.key.as_str(), p.differs))
            .collect();
        assert_eq!(p, [("max_depth", true), ("seed", false)]);
        let mut partial = row("d", "5", 0.8, None);
        partial.params.remove("seed");
        let c2 = Comparison::new(vec![row("a", "5", 0.8, None), partial]).unwrap();
        assert_eq!(c2.params[1].values, [Some("42".to_string()), None]);
        assert!(
            !c2.params[1].differs,
            "absent in one run is not a difference"
        );
        let auc = c.metrics.iter().find(|m| m.key == "roc_auc").unwrap();
        assert_eq!(auc.best, [1, 2], "a tie marks both");
        assert!((auc.delta[1].unwrap() - 0.04).abs() < 1e-12);
        let brier = c.metrics.iter().find(|m| m.key == "brier_score").unwrap();
        assert!(brier.lower_is_better);
        assert_eq!(brier.best, [1]);
        assert_eq!(brier.delta[2], None);
        // Equal values everywhere: nothing is best.
        let same =
            Comparison::new(vec![row("a", "5", 0.8, None), row("b", "5", 0.8, None)]).unwrap();
        assert!(same.metrics[0].best.is_empty() && !same.params[0].differs);
        assert!(Comparison::new(vec![row("a", "5", 0.8, None)]).is_err());
        assert!(
            lower_is_better("expected_calibration_error") && !lower_is_better("top_decile_lift")
        );
    }
}
