//! The tracking layer against a real `mlflow server` (started by scripts/test.sh, which sets
//! CHURNKIT_TEST_MLFLOW_URI, CHURNKIT_TEST_MLFLOW_AUTH_URI and CHURNKIT_REQUIRE_MLFLOW=1).
//! Without those variables the tests say so and pass only when MLflow is not required.

use crate::common::{command, error_line, workdir};
use churnkit::tracking::client::Method;
use churnkit::tracking::{
    best_run, search_runs, Artifact, Auth, Delivery, LocalStore, Metric, MlflowClient, RunKind,
    RunRecord, RunSource, RunStatus, Tracker,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn server(var: &str) -> Option<String> {
    crate::common::mlflow(var)
}

/// An experiment name no other test run uses.
fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn churnkit(dir: &Path, uri: Option<&str>, args: &[&str]) -> std::process::Output {
    let o = command(dir, uri, args).output().unwrap();
    assert!(
        o.status.success(),
        "churnkit {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn a_damaged_local_run_is_a_file_system_error_in_sync() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("damaged");
    let exp = unique("damaged");
    churnkit(
        &d,
        None,
        &[
            "pipeline",
            "-q",
            "--max-depth",
            "3",
            "--experiment-name",
            &exp,
        ],
    );
    let store = LocalStore::new(d.join("mlruns"));
    let train = store
        .list(Some(&exp))
        .unwrap()
        .into_iter()
        .find(|r| r.record.kind == RunKind::Train)
        .unwrap();
    let lost = store
        .run_dir(&train.run_id)
        .join("artifacts/feature_importance.csv");
    fs::remove_file(&lost).unwrap();
    let o = command(&d, Some(&uri), &["sync"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // A damaged run store is the machine's problem (5), not a rejection by MLflow (6).
    assert_eq!(o.status.code(), Some(5), "{err}");
    let line = error_line(&o);
    assert!(line.contains("feature_importance.csv"), "{line}");
    assert!(store.get(&train.run_id).unwrap().needs_sync());
}

fn client(uri: &str) -> MlflowClient {
    MlflowClient::new(uri)
        .unwrap()
        .with_auth(Auth::None)
        .with_retries(0, Duration::from_millis(10))
}

fn experiment_runs(c: &MlflowClient, name: &str) -> Vec<churnkit::tracking::Run> {
    let id = c
        .get_experiment_by_name(name)
        .unwrap()
        .expect("experiment exists");
    c.search_runs(&[id], "", &[]).unwrap()
}

#[test]
fn train_and_evaluate_are_logged_and_read_back() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("full");
    let exp = unique("full");
    churnkit(
        &d,
        Some(&uri),
        &["pipeline", "-q", "--experiment-name", &exp],
    );
    let c = client(&uri);
    let runs = experiment_runs(&c, &exp);
    assert_eq!(runs.len(), 2, "one training and one evaluation run");
    let train = runs
        .iter()
        .find(|r| r.info.run_name.starts_with("train"))
        .unwrap();
    let eval = runs
        .iter()
        .find(|r| r.info.run_name.starts_with("evaluate"))
        .unwrap();
    assert_eq!(train.info.status, RunStatus::Finished);
    assert!(train.info.end_time.unwrap() >= train.info.start_time && train.info.start_time > 0);
    let local: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("models/train_run.json")).unwrap())
            .unwrap();
    for p in [
        "n_estimators",
        "max_depth",
        "min_samples_split",
        "min_samples_leaf",
        "random_state",
        "train_size",
        "test_size",
    ] {
        assert_eq!(
            train.params[p],
            local["params"][p].as_str().unwrap(),
            "param {p}"
        );
    }
    for m in [
        "train_accuracy",
        "test_accuracy",
        "test_precision",
        "test_recall",
        "test_f1",
        "roc_auc",
        "training_time",
        "model_size_mb",
    ] {
        assert_eq!(
            train.metrics[m],
            local["metrics"][m].as_f64().unwrap(),
            "metric {m}"
        );
    }
    assert_eq!(train.tags["seed"], "42");
    assert_eq!(train.tags["data.sha256"].len(), 64);
    assert_eq!(train.tags["churnkit.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(eval.tags["churnkit.train_run_id"], train.info.run_id);
    assert_eq!(eval.tags["mlflow.parentRunId"], train.info.run_id);
    assert!(eval.metrics.contains_key("average_precision"));
    // Artifacts come back byte-identical.
    for f in [
        "confusion_matrix.png",
        "roc_curve.png",
        "precision_recall_curve.png",
        "classification_report.json",
        "business_metrics.json",
    ] {
        let remote = c.download_artifact(&eval.info.artifact_uri, f).unwrap();
        assert_eq!(remote, fs::read(d.join("metrics").join(f)).unwrap(), "{f}");
    }
    let imp = c
        .download_artifact(&train.info.artifact_uri, "feature_importance.csv")
        .unwrap();
    assert_eq!(
        imp,
        fs::read(d.join("models/feature_importance.csv")).unwrap()
    );
    let model = c
        .download_artifact(&train.info.artifact_uri, "model/churn_model.json")
        .unwrap();
    assert_eq!(model, fs::read(d.join("models/churn_model.json")).unwrap());
    let mlmodel = String::from_utf8(
        c.download_artifact(&train.info.artifact_uri, "model/MLmodel")
            .unwrap(),
    )
    .unwrap();
    assert!(
        mlmodel.contains("churnkit:") && mlmodel.contains(&train.info.run_id),
        "{mlmodel}"
    );
    assert!(train.tags["mlflow.log-model.history"].contains("\"artifact_path\":\"model\""));
    let listed: Vec<String> = c
        .list_artifacts(&eval.info.run_id, "")
        .unwrap()
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert!(listed.contains(&"roc_curve.png".to_string()), "{listed:?}");
    // The metric history: test AUC as trees are added, ending at the final AUC.
    let h = c
        .metric_history(&train.info.run_id, "test_roc_auc")
        .unwrap();
    assert_eq!(h.len(), 10);
    assert_eq!(h.last().unwrap().step, 100);
    assert!((h.last().unwrap().value - train.metrics["roc_auc"]).abs() < 1e-9);
    // And the local store holds the same runs, marked synced.
    let stored = LocalStore::new(d.join("mlruns")).list(Some(&exp)).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| !s.needs_sync()));
}

#[test]
fn the_guides_depth_sweep_gives_four_comparable_runs() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("sweep");
    let exp = unique("depth-tuning");
    churnkit(&d, None, &["preprocess", "-q"]);
    for depth in ["5", "10", "15", "20"] {
        churnkit(
            &d,
            Some(&uri),
            &[
                "train",
                "-q",
                "--max-depth",
                depth,
                "--experiment-name",
                &exp,
            ],
        );
    }
    let source = RunSource::Server(client(&uri));
    let df = search_runs(&source, &exp, "", &["params.max_depth ASC"]).unwrap();
    assert_eq!(df.height(), 4);
    let depths: Vec<String> = df
        .column("params.max_depth")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    let mut sorted = depths.clone();
    sorted.sort_by_key(|d| d.parse::<u32>().unwrap());
    assert_eq!(sorted, ["5", "10", "15", "20"]);
    let f1 = df.column("metrics.test_f1").unwrap().f64().unwrap();
    assert_eq!(f1.null_count(), 0);
    let best = best_run(&source, &exp, "test_f1").unwrap().unwrap();
    let max = f1.iter().flatten().fold(f64::MIN, f64::max);
    assert_eq!(best.metrics["test_f1"], max);
    let filtered = search_runs(&source, &exp, "params.max_depth = '5'", &[]).unwrap();
    assert_eq!(filtered.height(), 1);
    // The same queries over the local store give the same runs.
    let local = RunSource::Local(LocalStore::new(d.join("mlruns")));
    let ldf = search_runs(&local, &exp, "", &["metrics.test_f1 DESC"]).unwrap();
    assert_eq!(ldf.height(), 4);
    assert_eq!(
        best_run(&local, &exp, "test_f1").unwrap().unwrap().metrics["test_f1"],
        max
    );
}

#[test]
fn large_batches_are_split_and_non_finite_metrics_survive() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let c = client(&uri);
    let exp = c.get_or_create_experiment(&unique("batches")).unwrap();
    let run = c
        .create_run(&exp, "batches", 1_700_000_000_000, &BTreeMap::new())
        .unwrap();
    let params: Vec<(String, String)> = (0..250)
        .map(|i| (format!("p{i:03}"), i.to_string()))
        .collect();
    let tags: Vec<(String, String)> = (0..150).map(|i| (format!("t{i:03}"), "x".into())).collect();
    let mut metrics: Vec<Metric> = (0..2500)
        .map(|i| Metric {
            key: format!("m{i:04}"),
            value: i as f64 / 7.0,
            timestamp: 1,
            step: 0,
        })
        .collect();
    for (k, v) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
    ] {
        metrics.push(Metric {
            key: k.into(),
            value: v,
            timestamp: 1,
            step: 0,
        });
    }
    c.log_batch(&run.run_id, &params, &metrics, &tags).unwrap();
    let back = c.get_run(&run.run_id).unwrap();
    assert_eq!(back.params.len(), 250);
    assert_eq!(back.metrics.len(), 2503);
    assert!(back.tags.keys().filter(|k| k.starts_with('t')).count() >= 150);
    assert_eq!(back.metrics["m2499"], 2499.0 / 7.0);
    assert!(back.metrics["nan"].is_nan(), "NaN must not become 0");
    // MLflow itself stores infinities as the largest finite doubles (as its Python client does).
    assert_eq!(back.metrics["inf"], f64::MAX);
    assert_eq!(back.metrics["neg_inf"], -f64::MAX);
    // A param re-logged with the same value is fine, with another value it is a clear error.
    c.log_batch(&run.run_id, &[("p000".into(), "0".into())], &[], &[])
        .unwrap();
    let err = c
        .log_batch(&run.run_id, &[("p000".into(), "changed".into())], &[], &[])
        .unwrap_err();
    assert_eq!(err.code(), Some("INVALID_PARAMETER_VALUE"), "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("p000"), "{err}");
    c.end_run(&run.run_id, RunStatus::Finished, 1_700_000_001_000)
        .unwrap();
    // Unknown endpoints answer HTML: a typed HTTP error, not a JSON parse failure.
    let e = c
        .call(Method::GET, "/api/2.0/mlflow/no-such-endpoint", &[], None)
        .unwrap_err();
    assert_eq!(e.http_status(), Some(404), "{e}");
    assert_eq!(e.code(), None, "{e}");
    assert!(!e.is_transient(), "{e}");
}

fn record(exp: &str) -> RunRecord {
    let mut r = RunRecord::new(RunKind::Train, exp, "offline");
    (r.start_time_ms, r.end_time_ms) = (1_700_000_000_000, 1_700_000_005_000);
    r.params = BTreeMap::from([
        ("max_depth".into(), "7".into()),
        ("seed".into(), "1".into()),
    ]);
    r.metrics = BTreeMap::from([("roc_auc".into(), Some(0.9)), ("undefined".into(), None)]);
    r.tags = BTreeMap::from([("seed".into(), "1".into())]);
    r.artifacts = vec![Artifact::new("artifact.txt", "payload")];
    r
}

#[test]
fn a_run_made_while_the_server_is_down_is_synced_exactly_once() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("down");
    let exp = unique("offline");
    let store = LocalStore::new(d.join("mlruns"));
    // A port nobody listens on: the server is "down" before the run.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_uri = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let down = Tracker {
        local: store.clone(),
        server: Some(client(&dead_uri)),
    };
    let logged = down.log(&record(&exp)).unwrap();
    assert!(
        matches!(logged.delivery, Delivery::Local { reason: Some(_) }),
        "{:?}",
        logged.delivery
    );
    assert!(store.get(&logged.stored.run_id).unwrap().needs_sync());
    let up = Tracker {
        local: store.clone(),
        server: Some(client(&uri)),
    };
    let first = up.sync().unwrap();
    assert_eq!(first.delivered.len(), 1);
    let second = up.sync().unwrap();
    assert_eq!((second.delivered.len(), second.already_synced), (0, 1));
    let c = client(&uri);
    let runs = experiment_runs(&c, &exp);
    assert_eq!(runs.len(), 1, "delivered exactly once");
    let r = &runs[0];
    assert_eq!(r.tags["churnkit.local_run_id"], logged.stored.run_id);
    assert_eq!(r.params["max_depth"], "7");
    assert!(r.metrics["undefined"].is_nan());
    assert_eq!(
        c.download_artifact(&r.info.artifact_uri, "artifact.txt")
            .unwrap(),
        b"payload"
    );
}

/// A TCP proxy to the real server that cuts every connection after `limit` HTTP requests and
/// then refuses new ones: the server "fails mid-run" for the client.
fn flaky_proxy(target: &str, limit: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { break };
            if seen.load(Ordering::SeqCst) >= limit {
                break; // dropping the listener: later connections are refused
            }
            let Ok(mut upstream) = TcpStream::connect(&target) else {
                break;
            };
            let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let requests = buf[..n]
                        .windows(11)
                        .filter(|w| w == b" HTTP/1.1\r\n")
                        .count();
                    if seen.fetch_add(requests, Ordering::SeqCst) + requests > limit {
                        break;
                    }
                    if upstream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = upstream.shutdown(std::net::Shutdown::Both);
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_server_failing_mid_run_is_resumed_not_duplicated() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("midrun");
    let exp = unique("midrun");
    let store = LocalStore::new(d.join("mlruns"));
    let c = client(&uri);
    c.get_or_create_experiment(&exp).unwrap();
    // get-by-name and runs/create get through; the log-batch that follows does not.
    let proxy = flaky_proxy(&uri, 2);
    let flaky = Tracker {
        local: store.clone(),
        server: Some(client(&proxy)),
    };
    let logged = flaky.log(&record(&exp)).unwrap();
    assert!(
        matches!(logged.delivery, Delivery::Local { reason: Some(_) }),
        "{:?}",
        logged.delivery
    );
    let stored = store.get(&logged.stored.run_id).unwrap();
    let remote = stored
        .remote
        .clone()
        .expect("the remote run id was recorded before the failure");
    assert!(!remote.synced);
    let half = c.get_run(&remote.run_id).unwrap();
    assert_eq!(half.info.status, RunStatus::Running);
    assert!(half.params.is_empty());
    let report = Tracker {
        local: store.clone(),
        server: Some(c.clone()),
    }
    .sync()
    .unwrap();
    assert_eq!(
        report.delivered,
        vec![(logged.stored.run_id.clone(), remote.run_id.clone())]
    );
    let runs = experiment_runs(&c, &exp);
    assert_eq!(runs.len(), 1, "resumed, not duplicated");
    assert_eq!(runs[0].info.status, RunStatus::Finished);
    assert_eq!(runs[0].params["max_depth"], "7");
    assert_eq!(
        c.metric_history(&remote.run_id, "roc_auc").unwrap().len(),
        1
    );
}

#[test]
fn basic_auth_works_with_credentials_and_fails_clearly_without() {
    let Some(uri) = server("CHURNKIT_TEST_MLFLOW_AUTH_URI") else {
        return;
    };
    let password = std::env::var("CHURNKIT_TEST_MLFLOW_ADMIN_PASSWORD").expect("admin password");
    let anonymous = client(&uri);
    let err = anonymous
        .get_or_create_experiment(&unique("auth"))
        .unwrap_err();
    assert_eq!(err.http_status(), Some(401), "{err}");
    assert!(
        err.to_string().contains("MLFLOW_TRACKING_USERNAME"),
        "{err}"
    );
    let admin = client(&uri).with_auth(Auth::Basic {
        user: "admin".into(),
        password: password.clone(),
    });
    let exp = admin.get_or_create_experiment(&unique("auth")).unwrap();
    let run = admin
        .create_run(&exp, "authed", 1_700_000_000_000, &BTreeMap::new())
        .unwrap();
    admin
        .log_batch(&run.run_id, &[("a".into(), "1".into())], &[], &[])
        .unwrap();
    assert_eq!(admin.get_run(&run.run_id).unwrap().params["a"], "1");
    let wrong = client(&uri).with_auth(Auth::Basic {
        user: "admin".into(),
        password: "wrong".into(),
    });
    assert_eq!(
        wrong.get_run(&run.run_id).unwrap_err().http_status(),
        Some(401)
    );
    // The CLI picks the credentials up from MLflow's variables.
    let d = workdir("auth");
    let o = command(
        &d,
        Some(&uri),
        &["pipeline", "-q", "--experiment-name", "auth-cli"],
    )
    .env("MLFLOW_TRACKING_USERNAME", "admin")
    .env("MLFLOW_TRACKING_PASSWORD", &password)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = command(&d, Some(&uri), &["train", "-q"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{err}");
    let line = error_line(&o);
    assert!(
        line.contains("401") && line.contains("MLFLOW_TRACKING_USERNAME"),
        "{err}"
    );
}
