"""Tracking from cells, through the real engine and a real MLflow server: runs started, filled
and ended from cells land on the server and in mlruns/, and `search_runs` with MLflow's filter
syntax answers the same rows from either as MLflow's own `search_runs` does."""
import os
import time
import uuid

import pytest

from test_queries import Engine, engine  # noqa: F401  (the engine fixture)


@pytest.fixture
def tracked(engine, workdir, mlflow_uri, monkeypatch):
    """Two experiments of runs logged from cells to the server and to workdir/mlruns."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.setenv("CHURNKIT_HTTP_RETRIES", "0")
    project = engine("project_open", root=str(workdir))
    df = engine("load_csv", path=str(workdir / "data/sample_data.csv"))
    chart = engine("churn_distribution", frame=df["h"], target="Churn")
    tag = uuid.uuid4().hex[:8]
    exps = [f"cells-a-{tag}", f"cells-b-{tag}"]
    specs = [  # experiment, name, max_depth, auc, segment
        (0, "train-d4", "4", 0.81, "all"), (0, "train-d8", "8", 0.87, "germany"),
        (0, "Train-d8b", "8", 0.84, "germany 50+"), (0, "train-d12", "12", 0.86, "all"),
        (1, "eval-d8", "8", 0.88, "all"), (1, "eval-none", None, 0.79, "spain"),
    ]
    for e, name, depth, auc, segment in specs:
        run = engine("start_run", project=project, experiment=exps[e], name=name)
        params = [["segment", segment]] + ([["max_depth", depth]] if depth else [])
        engine("log_params", run=run, params=params)
        # Logged three times: a history of three steps, the last as the value.
        for v in (auc - 0.02, auc - 0.01, auc):
            engine("log_metrics", run=run, metrics=[["roc_auc", v]])
        engine("log_metrics", run=run, metrics=[["lift", auc * 3]])
        engine("set_tags", run=run, tags=[["owner", "analyst"], ["stage", "dev" if e == 0 else "review"]])
        assert engine("log_artifact", run=run, name="charts/churn", object=chart) == "charts/churn.png"
        assert engine("log_artifact", run=run, name="sample", object=df["h"]) == "sample.csv"
        engine("end_run", run=run)
        time.sleep(0.02)  # distinct start times: the default order is newest first
    return project, exps, specs


FILTERS = [
    ("", []),
    ("metrics.roc_auc > 0.85 and params.max_depth = '8'", []),
    ("metrics.roc_auc >= 0.84", ["metrics.roc_auc DESC"]),
    ("params.max_depth != '8'", ["attributes.run_name ASC"]),
    ("attributes.run_name LIKE 'train%'", ["metrics.roc_auc ASC"]),
    ("attributes.run_name ILIKE 'train%'", ["metrics.roc_auc ASC"]),
    ("params.segment LIKE 'germany%'", []),
    ("tags.stage = 'review' and metrics.lift < 2.5", []),
    ("params.max_depth IS NULL", []),
    ("attributes.status = 'FINISHED' AND metrics.roc_auc < 0.85", ["params.max_depth DESC"]),
    ("tags.\"owner\" = 'analyst' and metrics.roc_auc <= 0.86", ["metrics.lift DESC"]),
]


@pytest.mark.parametrize("filter_,order_by", FILTERS)
def test_search_runs_answers_what_mlflow_answers_on_the_server_and_from_mlruns(
        engine, tracked, mlflow_uri, monkeypatch, filter_, order_by):
    import mlflow
    project, exps, _ = tracked
    mlflow.set_tracking_uri(mlflow_uri)
    want = mlflow.search_runs(experiment_names=exps, filter_string=filter_, order_by=order_by or None)
    want = want["tags.mlflow.runName"].tolist() if len(want) else []
    server = engine.frame(engine("search_runs", project=project, experiments=exps, filter=filter_,
                                 order_by=order_by))
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    local = engine.frame(engine("search_runs", project=project, experiments=exps, filter=filter_,
                                order_by=order_by))
    assert server.run_name.tolist() == want, filter_
    assert local.run_name.tolist() == want, filter_
    if len(local):
        assert set(local.experiment) <= set(exps)


def test_a_cell_run_reaches_the_server_whole(engine, tracked, mlflow_uri):
    from mlflow import MlflowClient
    project, exps, specs = tracked
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name(exps[0]).experiment_id],
                              filter_string="attributes.run_name = 'train-d8'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params == {"segment": "germany", "max_depth": "8"}
    assert run.data.metrics["roc_auc"] == pytest.approx(0.87)
    history = client.get_metric_history(run.info.run_id, "roc_auc")
    assert [m.step for m in history] == [0, 1, 2]
    assert [round(m.value, 10) for m in history] == [0.85, 0.86, 0.87]
    assert run.data.tags["owner"] == "analyst"
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"sample.csv", "charts"} <= files
    png = client.download_artifacts(run.info.run_id, "charts/churn.png")
    assert open(png, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_what_mlflow_refuses_is_refused_locally_and_a_run_ends_once(engine, tracked, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException
    project, exps, _ = tracked
    with pytest.raises(MlflowException):
        mlflow.search_runs(experiment_names=exps, filter_string="params.max_depth > 8")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    e = engine.error("search_runs", project=project, experiments=exps, filter="params.max_depth > 8",
                     order_by=[])
    assert "does not apply" in e and "\n" not in e, e
    run = engine("start_run", project=project, experiment=exps[0], name="once")
    engine("log_params", run=run, params=[["a", "1"]])
    e = engine.error("log_params", run=run, params=[["a", "2"]])
    assert "already '1'" in e
    e = engine.error("log_metrics", run=run, metrics=[["bad name!", 1.0]])
    assert "not allowed" in e
    run_id = engine("end_run", run=run)
    assert engine.error("end_run", run=run).startswith(f"this run was ended and logged as {run_id}")
