"""What churnkit logs, judged by MLflow's own Python client against the real test server."""
import json
import math
import os
import pathlib
import time

import pytest
from conftest import run_churnkit


@pytest.fixture
def mlflow_client(mlflow_uri):
    import mlflow
    mlflow.set_tracking_uri(mlflow_uri)
    return mlflow


def test_search_runs_and_artifacts_through_mlflows_client(workdir, churnkit_bin, mlflow_uri, mlflow_client):
    mlflow = mlflow_client
    d = workdir
    exp = f"py-compat-{os.getpid()}-{time.time_ns()}"
    run_churnkit(churnkit_bin, d, "-q", "pipeline", "--experiment-name", exp, uri=mlflow_uri)
    df = mlflow.search_runs(experiment_names=[exp])
    assert len(df) == 2
    train = df[df["tags.mlflow.runName"].str.startswith("train")].iloc[0]
    evaluate = df[df["tags.mlflow.runName"].str.startswith("evaluate")].iloc[0]
    local = json.loads((d / "models/train_run.json").read_text())
    assert train["params.n_estimators"] == "100"
    assert train["params.max_depth"] == "10"
    assert train["status"] == "FINISHED"
    assert train["metrics.roc_auc"] == pytest.approx(local["metrics"]["roc_auc"], abs=1e-12)
    assert evaluate["tags.churnkit.train_run_id"] == train["run_id"]

    out = d / "dl"
    got = mlflow.artifacts.download_artifacts(
        run_id=train["run_id"], artifact_path="feature_importance.csv", dst_path=str(out))
    assert pathlib.Path(got).read_bytes() == (d / "models/feature_importance.csv").read_bytes()
    png = mlflow.artifacts.download_artifacts(
        run_id=evaluate["run_id"], artifact_path="roc_curve.png", dst_path=str(out))
    assert pathlib.Path(png).read_bytes() == (d / "metrics/roc_curve.png").read_bytes()

    model_dir = mlflow.artifacts.download_artifacts(
        run_id=train["run_id"], artifact_path="model", dst_path=str(out))
    from mlflow.models import Model
    m = Model.load(model_dir)
    assert "churnkit" in m.flavors
    assert m.flavors["churnkit"]["model_file"] == "churn_model.json"
    assert (pathlib.Path(model_dir) / "churn_model.json").read_bytes() == (d / "models/churn_model.json").read_bytes()

    # MLflow 3.x: the model is a logged-model entity linked to the training run.
    exp_id = mlflow.get_experiment_by_name(exp).experiment_id
    models = mlflow.search_logged_models(experiment_ids=[exp_id], output_format="list")
    assert len(models) == 1
    assert models[0].source_run_id == train["run_id"]
    assert str(models[0].status).endswith("READY")

    history = mlflow.MlflowClient().get_metric_history(train["run_id"], "test_roc_auc")
    assert [h.step for h in history] == list(range(10, 101, 10))


def test_an_undefined_auc_reaches_mlflow_as_nan(workdir, churnkit_bin, mlflow_uri, mlflow_client):
    mlflow = mlflow_client
    d = workdir
    exp = f"py-nan-{os.getpid()}-{time.time_ns()}"
    run_churnkit(churnkit_bin, d, "-q", "pipeline")
    # A test set with a single class: ROC AUC is undefined, and must not arrive as 0.
    y = d / "data/processed/y_test.csv"
    lines = y.read_text().splitlines()
    y.write_text(lines[0] + "\n" + "\n".join("0" for _ in lines[1:]) + "\n")
    run_churnkit(churnkit_bin, d, "-q", "evaluate", "--experiment-name", exp, uri=mlflow_uri)
    run = mlflow.search_runs(experiment_names=[exp], output_format="list")[0]
    assert math.isnan(run.data.metrics["roc_auc"])
    assert math.isnan(run.data.metrics["average_precision"])  # no positive row: undefined too
