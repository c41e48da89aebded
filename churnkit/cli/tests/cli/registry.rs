//! The model registry and concurrent logging, through the CLI: against the real MLflow server
//! scripts/test.sh starts (CHURNKIT_TEST_MLFLOW_URI) and against the local store.

use crate::common::{command, fails, ok, workdir};
use churnkit::tracking::client::Method;
use churnkit::tracking::{Auth, LocalStore, MlflowClient};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A name no other test run uses (the server is shared by the whole suite).
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

fn client(uri: &str) -> MlflowClient {
    MlflowClient::new(uri)
        .unwrap()
        .with_auth(Auth::None)
        .with_retries(0, Duration::from_millis(10))
}

/// `churnkit args` in `dir` with `uri` as the tracking server (None: local store only) and the
/// registry cache inside `dir`; stdout.
fn run(dir: &Path, uri: Option<&str>, args: &[&str]) -> String {
    let o = command(dir, uri, args)
        .env("CHURNKIT_MODEL_CACHE", dir.join("cache"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "churnkit {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run ids of `experiment`, newest first, as `churnkit runs` lists them.
fn run_ids(dir: &Path, uri: Option<&str>, experiment: &str) -> Vec<String> {
    run(dir, uri, &["runs", "--experiment", experiment])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect()
}

fn scores(dir: &Path, file: &str) -> Vec<String> {
    fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Two models of different depth trained in `d`, the deeper one last (so models/ holds it).
fn two_models(d: &Path, uri: Option<&str>, exp: &str) -> (String, String) {
    run(d, uri, &["preprocess", "-q"]);
    for depth in ["2", "12"] {
        run(
            d,
            uri,
            &[
                "train",
                "-q",
                "--max-depth",
                depth,
                "--experiment-name",
                exp,
            ],
        );
    }
    let ids = run_ids(d, uri, exp);
    assert_eq!(ids.len(), 2, "{ids:?}");
    (ids[1].clone(), ids[0].clone())
}

#[test]
fn the_local_registry_resolves_aliases_for_predict_and_sync_delivers_it() {
    let d = workdir("registry-local");
    let exp = unique("reg-local");
    let (shallow, deep) = two_models(&d, None, &exp);
    let reg = |args: &[&str]| run(&d, None, &[&["models"], args].concat());
    let out = reg(&[
        "register",
        "--run",
        &shallow,
        "--experiment",
        &exp,
        "--alias",
        "champion",
    ]);
    assert!(out.contains("as version 1 of 'churn'"), "{out}");
    let out = reg(&["register", "--run", &deep, "--experiment", &exp]);
    assert!(out.contains("as version 2"), "{out}");
    // The champion (version 1, the shallow forest) scores differently from models/ (the deep one).
    let input = "data/sample_data.csv";
    run(
        &d,
        None,
        &["predict", "--input", input, "--output", "here.csv"],
    );
    let out = run(
        &d,
        None,
        &[
            "predict",
            "--model",
            "models:/churn@champion",
            "--input",
            input,
            "--output",
            "v1.csv",
        ],
    );
    assert!(out.contains("is version 1 of 'churn'"), "{out}");
    assert_ne!(scores(&d, "v1.csv"), scores(&d, "here.csv"));
    // Moving the alias moves what it scores with: version 2 is the model in models/.
    let out = reg(&["promote", "--version", "2"]);
    assert!(
        out.contains("churn@champion -> version 2 (was version 1)"),
        "{out}"
    );
    run(
        &d,
        None,
        &[
            "predict",
            "--model",
            "models:/churn@champion",
            "--input",
            input,
            "--output",
            "v2.csv",
        ],
    );
    assert_eq!(scores(&d, "v2.csv"), scores(&d, "here.csv"));
    run(
        &d,
        None,
        &[
            "predict",
            "--model",
            "models:/churn/1",
            "--input",
            input,
            "--output",
            "one.csv",
        ],
    );
    assert_eq!(scores(&d, "one.csv"), scores(&d, "v1.csv"));
    let listing = reg(&["list"]);
    let v2 = listing
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("2"))
        .unwrap();
    assert!(v2.contains("champion"), "{listing}");
    fails(
        &d,
        &[
            "predict",
            "--model",
            "models:/churn@gold",
            "--input",
            input,
            "--output",
            "x.csv",
        ],
        4,
        &["no alias 'gold'", "champion"],
    );
    fails(
        &d,
        &[
            "predict",
            "--model",
            "churn@gold",
            "--input",
            input,
            "--output",
            "x.csv",
        ],
        2,
        &["models:/NAME@ALIAS"],
    );
    fails(
        &d,
        &["models", "promote", "--version", "9"],
        4,
        &["no version 9"],
    );
    assert!(!d.join("x.csv").exists());

    // sync delivers the runs, then the versions (pointing at the runs' logged models) and the
    // aliases; a second sync delivers nothing again.
    let Some(uri) = crate::common::mlflow("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let name = unique("churn-synced");
    reg(&[
        "register",
        "--run",
        &deep,
        "--experiment",
        &exp,
        "--name",
        &name,
        "--alias",
        "champion",
    ]);
    reg(&[
        "register",
        "--run",
        &shallow,
        "--experiment",
        &exp,
        "--name",
        &name,
    ]);
    let out = run(&d, Some(&uri), &["sync"]);
    assert!(
        out.contains(&format!("registered {name} version 2 as version 2")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{name}@champion -> version 1")),
        "{out}"
    );
    let again = run(&d, Some(&uri), &["sync"]);
    assert!(!again.contains("registered"), "{again}");
    let c = client(&uri);
    let alias = c
        .call(
            Method::GET,
            "/api/2.0/mlflow/registered-models/alias",
            &[("name", name.clone()), ("alias", "champion".into())],
            None,
        )
        .unwrap();
    let mv = &alias["model_version"];
    assert_eq!(mv["version"], "1");
    assert!(
        mv["source"].as_str().unwrap().starts_with("models:/m-"),
        "{mv}"
    );
    let store = LocalStore::new(d.join("mlruns"));
    let deep_run = store
        .list(None)
        .unwrap()
        .into_iter()
        .find(|r| r.run_id.starts_with(&deep));
    let remote_deep = deep_run.unwrap().remote.unwrap().run_id;
    assert_eq!(mv["run_id"], remote_deep.as_str());
    // The server's champion scores as the local one did.
    run(
        &d,
        Some(&uri),
        &[
            "predict",
            "--model",
            &format!("models:/{name}@champion"),
            "--input",
            input,
            "--output",
            "srv.csv",
        ],
    );
    assert_eq!(scores(&d, "srv.csv"), scores(&d, "here.csv"));
}

#[test]
fn the_server_registry_serves_predict_from_a_cache_fetched_once() {
    let Some(uri) = crate::common::mlflow("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("registry-server");
    let exp = unique("reg-server");
    let u = Some(uri.as_str());
    let (shallow, deep) = two_models(&d, u, &exp);
    // The two side by side, found on the server by the listing's ids.
    let cmp = run(
        &d,
        u,
        &["runs", "--experiment", &exp, "--compare", &shallow, &deep],
    );
    let depth = cmp
        .lines()
        .find(|l| l.starts_with("* max_depth"))
        .unwrap_or_default();
    assert_eq!(
        depth.split_whitespace().collect::<Vec<_>>()[2..],
        ["2", "12"],
        "{cmp}"
    );
    let name = unique("churn");
    let reg = |args: &[&str]| run(&d, u, &[&["models"], args].concat());
    reg(&[
        "register",
        "--run",
        &shallow,
        "--experiment",
        &exp,
        "--name",
        &name,
        "--alias",
        "challenger",
    ]);
    let out = reg(&[
        "register",
        "--run",
        &deep,
        "--experiment",
        &exp,
        "--name",
        &name,
    ]);
    assert!(out.contains("registry of http://127.0.0.1"), "{out}");
    reg(&[
        "promote",
        "--name",
        &name,
        "--version",
        "2",
        "--alias",
        "champion",
    ]);
    let listing = reg(&["list", "--name", &name]);
    let lines: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].contains(" 2 champion ") && lines[0].contains("models:/m-"),
        "{listing}"
    );
    assert!(lines[1].contains(" 1 challenger "), "{listing}");
    let input = "data/sample_data.csv";
    run(
        &d,
        u,
        &["predict", "--input", input, "--output", "here.csv"],
    );
    let champion = format!("models:/{name}@champion");
    for out in ["a.csv", "b.csv"] {
        run(
            &d,
            u,
            &[
                "predict", "--model", &champion, "--input", input, "--output", out,
            ],
        );
    }
    assert_eq!(scores(&d, "a.csv"), scores(&d, "here.csv"));
    assert_eq!(scores(&d, "b.csv"), scores(&d, "here.csv"));
    let cached: Vec<_> = fs::read_dir(d.join("cache")).unwrap().flatten().collect();
    assert_eq!(cached.len(), 1, "one version, fetched once");
    run(
        &d,
        u,
        &[
            "predict",
            "--model",
            &format!("models:/{name}/1"),
            "--input",
            input,
            "--output",
            "c.csv",
        ],
    );
    assert_ne!(scores(&d, "c.csv"), scores(&d, "here.csv"));
    assert_eq!(fs::read_dir(d.join("cache")).unwrap().count(), 2);
    let o = command(
        &d,
        u,
        &["models", "promote", "--name", &name, "--version", "7"],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// 8 `churnkit train` processes at once, each with its own depth, logging to `uri` (or only to
/// the local store): every run arrives once, with its own params.
fn eight_at_once(d: &Path, uri: Option<&str>, exp: &str) {
    run(d, None, &["preprocess", "-q"]);
    let children: Vec<_> = (1..=8)
        .map(|depth| {
            command(
                d,
                uri,
                &[
                    "train",
                    "-q",
                    "--n-estimators",
                    "5",
                    "--max-depth",
                    &depth.to_string(),
                    "--experiment-name",
                    exp,
                ],
            )
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let store = LocalStore::new(d.join("mlruns"));
    let local = store.list(Some(exp)).unwrap();
    let depths: BTreeSet<String> = local
        .iter()
        .map(|r| r.record.params["max_depth"].clone())
        .collect();
    assert_eq!(local.len(), 8);
    assert_eq!(depths.len(), 8, "{depths:?}");
    if let Some(uri) = uri {
        let c = client(uri);
        let id = c.get_experiment_by_name(exp).unwrap().unwrap();
        let runs = c.search_runs(&[id], "", &[]).unwrap();
        assert_eq!(runs.len(), 8, "nothing lost, nothing duplicated");
        let remote: BTreeSet<&str> = runs
            .iter()
            .map(|r| r.params["max_depth"].as_str())
            .collect();
        assert_eq!(remote.len(), 8);
        for r in &runs {
            assert!(r.metrics.contains_key("roc_auc"), "{:?}", r.info);
        }
        assert!(local
            .iter()
            .all(|r| r.remote.as_ref().is_some_and(|x| x.synced)));
    }
}

#[test]
fn eight_processes_logging_at_once_to_the_local_store_lose_nothing() {
    let d = workdir("eight-local");
    eight_at_once(&d, None, &unique("eight-local"));
    // And 8 registrations at once get versions 1 to 8.
    let run_id = LocalStore::new(d.join("mlruns")).list(None).unwrap()[0]
        .run_id
        .clone();
    let children: Vec<_> = (0..8)
        .map(|_| {
            command(
                &d,
                None,
                &[
                    "models", "register", "--run", &run_id, "--name", "eight", "-q",
                ],
            )
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let listing = ok(&d, &["models", "list", "--name", "eight"]);
    let versions: BTreeSet<u64> = listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(versions, (1..=8).collect());
}

#[test]
fn eight_processes_logging_at_once_to_one_server_lose_nothing() {
    let Some(uri) = crate::common::mlflow("CHURNKIT_TEST_MLFLOW_URI") else {
        return;
    };
    let d = workdir("eight-server");
    eight_at_once(&d, Some(&uri), &unique("eight-server"));
}
