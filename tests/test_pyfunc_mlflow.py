"""churnkit's logged models through MLflow's own Python packages.

A training run logged by `churnkit` to the real test server, registered with
`churnkit models register --alias champion`, is loaded by `mlflow.pyfunc.load_model` from the
registry URI and served by `mlflow models serve --env-manager local`; both must give, on raw
Telco rows (blank TotalCharges and all), the churn probabilities `churnkit predict --model` gives,
to 1e-9. The MLflow side never runs churnkit's Rust: it loads the numpy/pandas loader shipped in
the model's `code/` folder. A model in the local store loads the same way from its folder.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import free_port, run_churnkit

TOL = 1e-9


def churnkit_scores(path):
    s = pd.read_csv(path, dtype=str, keep_default_na=False)
    return s["churn_probability"].map(float).to_numpy(), s["churn_prediction"].map(int).to_numpy()


def assert_same(got, expected):
    p = np.asarray([float(x) for x in got["churn_probability"]])
    diff = float(np.abs(p - expected[0]).max())
    assert diff <= TOL, diff
    assert (np.asarray([int(x) for x in got["churn_prediction"]]) == expected[1]).all()


@pytest.fixture(scope="module")
def registered(churnkit_bin, mlflow_uri, telco, tmp_path_factory):
    """A calibrated Telco model trained and registered as NAME@champion on the test server."""
    root = tmp_path_factory.mktemp("pyfunc")
    exp, name = f"pyfunc-{os.getpid()}-{time.time_ns()}", f"churn-pyfunc-{time.time_ns()}"
    run_churnkit(churnkit_bin, root, "-q", "pipeline", "--data", telco, "--target", "Churn",
                 "--calibrate", "isotonic", "--experiment-name", exp, uri=mlflow_uri)
    listing = run_churnkit(churnkit_bin, root, "runs", "--experiment", exp, uri=mlflow_uri).stdout
    train = next(l.split()[1] for l in listing.splitlines() if "train-" in l)
    run_churnkit(churnkit_bin, root, "models", "register", "--run", train, "--experiment", exp,
                 "--name", name, "--alias", "champion", uri=mlflow_uri)
    scored = root / "scored.csv"
    run_churnkit(churnkit_bin, root, "-q", "predict", "--model", f"models:/{name}@champion",
                 "--input", telco, "--output", scored, uri=mlflow_uri)
    return root, name, churnkit_scores(scored)


def test_pyfunc_load_model_from_the_registry_scores_as_churnkit(registered, mlflow_uri, telco):
    root, name, expected = registered
    mlflow.set_tracking_uri(mlflow_uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    raw = pd.read_csv(telco)
    assert not pd.api.types.is_numeric_dtype(raw["TotalCharges"]), "raw rows: blank TotalCharges as text"
    got = model.predict(raw)
    assert list(got.columns) == ["churn_probability", "churn_prediction"]
    assert_same(got, expected)
    # The signature names the feature columns, the example scores, the threshold is a param.
    inputs = model.metadata.get_input_schema().input_names()
    assert "tenure" in inputs and "Contract" in inputs and "customerID" not in inputs
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}@champion")
    example = mlflow.models.Model.load(local).load_input_example(local)
    assert len(model.predict(example)) == len(example) > 0
    strict = model.predict(raw.head(50), params={"threshold": 0.9})
    assert strict["churn_prediction"].sum() < got.head(50)["churn_prediction"].sum()
    # The version points at the run's logged model, as MLflow's own clients register it.
    mv = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    assert mv.source.startswith("models:/m-")


def test_mlflow_models_serve_answers_invocations_with_the_same_scores(registered, mlflow_uri, telco, tmp_path):
    root, name, expected = registered
    port = free_port()
    # As an activated venv has it: `serve` starts the venv's uvicorn by name.
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_uri, PATH=path)
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}@champion",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                assert time.time() < deadline, "mlflow models serve did not answer /ping in 120 s"
                time.sleep(0.5)
        raw = pd.read_csv(telco).head(300)
        split = json.loads(raw.to_json(orient="split", index=False))
        bodies = {
            "dataframe_split": {"columns": split["columns"], "data": split["data"]},
            "dataframe_records": json.loads(raw.to_json(orient="records")),
        }
        for key, body in bodies.items():
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/invocations", data=json.dumps({key: body}).encode(),
                headers={"Content-Type": "application/json"})
            answer = json.loads(urllib.request.urlopen(req, timeout=60).read())
            got = pd.DataFrame(answer["predictions"])
            assert_same(got, (expected[0][:300], expected[1][:300]))
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        log.close()


def test_a_model_in_the_local_store_loads_from_its_folder(churnkit_bin, workdir):
    run_churnkit(churnkit_bin, workdir, "-q", "pipeline")
    runs = sorted((workdir / "mlruns").iterdir())
    folders = [r / "artifacts/model" for r in runs if (r / "artifacts/model/MLmodel").exists()]
    assert len(folders) == 1
    scored = workdir / "scored.csv"
    run_churnkit(churnkit_bin, workdir, "-q", "--no-track", "predict", "--input",
                 "data/sample_data.csv", "--output", scored)
    model = mlflow.pyfunc.load_model(str(folders[0]))
    assert_same(model.predict(pd.read_csv(workdir / "data/sample_data.csv")), churnkit_scores(scored))


def test_spark_udf_scores_a_spark_dataframe_as_churnkit(registered, mlflow_uri, telco, tmp_path):
    """The way past one machine: MLflow's `spark_udf` on the registered model scores a Spark
    DataFrame of raw rows (PySpark in local[2] mode) as `churnkit predict` does, to 1e-9."""
    import shutil
    from conftest import _optional
    if shutil.which("java") is None:
        _optional("a Java runtime for PySpark", "CHURNKIT_REQUIRE_SPARK")
    from pyspark.sql import SparkSession
    root, name, expected = registered
    # Spark's Python workers run this interpreter (with pandas and the model's numpy loader).
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # bind and talk on the loopback only
    spark = (SparkSession.builder.master("local[2]").appName("churnkit-spark-udf")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .config("spark.local.dir", str(tmp_path))
             .getOrCreate())
    try:
        mlflow.set_tracking_uri(mlflow_uri)
        raw = pd.read_csv(telco)
        sdf = spark.createDataFrame(raw).repartition(3)
        udf = mlflow.pyfunc.spark_udf(spark, f"models:/{name}@champion", env_manager="local",
                                      result_type="churn_probability double, churn_prediction long")
        # With a signature, the UDF called without arguments takes its columns by name.
        scored = (sdf.withColumn("s", udf()).select("customerID", "s.churn_probability", "s.churn_prediction")
                  .toPandas())
    finally:
        spark.stop()
    assert len(scored) == len(raw)
    # Spark's partitions reorder the rows: put them back in file order by id.
    got = scored.set_index("customerID").loc[raw["customerID"]].reset_index()
    assert_same(got, expected)
