"""run-pipeline.sh in native mode, as on a machine without Docker: in a copy of the checkout it must
build churnkit, start its own MLflow server, run preprocess -> train -> evaluate tracked there,
say which mode it used and stop the server it started.

The copy shares this checkout's venv and cargo target directory (only the churnkit crate is
rebuilt for the new path). MLflow listens on a free port (CHURNKIT_MLFLOW_PORT) so a server on
5000 does not matter.
"""
import os
import sqlite3
import subprocess

import pytest
from conftest import REPO, copy_checkout, free_port, port_open




@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return copy_checkout(tmp_path_factory.mktemp("checkout"))


def test_native_mode_runs_the_pipeline_tracked_in_its_own_mlflow(checkout):
    port = free_port()
    env = dict(os.environ, CHURNKIT_MODE="native", CHURNKIT_MLFLOW_PORT=str(port),
               CHURNKIT_VENV=os.environ.get("CHURNKIT_VENV", str(REPO / ".venv")))
    for var in ("MLFLOW_TRACKING_URI", "CHURNKIT_KEEP_MLFLOW"):
        env.pop(var, None)
    r = subprocess.run(["./run-pipeline.sh"], cwd=checkout, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "==> mode: native" in out, out
    assert f"starting MLflow at http://127.0.0.1:{port}" in out, out
    assert "(mode: native)" in out and f"http://127.0.0.1:{port}/#/experiments" in out, out
    assert "stopped the MLflow server it started" in out + r.stderr
    assert not port_open(port), "the MLflow server it started is still listening"

    for f in ["data/processed/X_train.csv", "models/churn_model.json", "metrics/business_metrics.json",
              "metrics/roc_curve.png"]:
        assert (checkout / f).stat().st_size > 0, f

    # The runs are in the server's store: one train and one evaluate run, finished, with metrics.
    db = sqlite3.connect(checkout / "mlflow-data/mlflow.db")
    rows = db.execute(
        "select r.run_uuid, r.status, (select count(*) from metrics m where m.run_uuid = r.run_uuid) "
        "from runs r join experiments e on e.experiment_id = r.experiment_id "
        "where e.name = 'churn-prediction'").fetchall()
    assert len(rows) == 2, rows
    assert all(status == "FINISHED" and n_metrics > 0 for _, status, n_metrics in rows), rows
    # Only the train run has n_estimators, at the CLI's default.
    params = db.execute("select value from params where key = 'n_estimators'").fetchall()
    assert params == [("100",)], params
