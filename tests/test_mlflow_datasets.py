"""The datasets churnkit logs with each run (runs/log-inputs), read back by MLflow's own client."""
import json
import os
import time

import mlflow
from conftest import run_churnkit


def test_training_and_evaluation_runs_carry_their_datasets(churnkit_bin, mlflow_uri, workdir):
    exp = f"datasets-{os.getpid()}-{time.time_ns()}"
    run_churnkit(churnkit_bin, workdir, "-q", "pipeline", "--experiment-name", exp, uri=mlflow_uri)
    client = mlflow.MlflowClient(mlflow_uri)
    runs = {r.info.run_name.split("-")[0]: r for r in
            client.search_runs([client.get_experiment_by_name(exp).experiment_id])}
    assert set(runs) == {"train", "evaluate"}, list(runs)
    processed = json.loads((workdir / "data/processed/preprocessor.json").read_text())
    split = processed["split"]

    def inputs(run):
        return {d.dataset.name: d for d in client.get_run(run.info.run_id).inputs.dataset_inputs}

    train = inputs(runs["train"])
    assert set(train) == {"sample_data-train", "sample_data-test"}, list(train)
    contexts = {n: [t.value for t in d.tags if t.key == "mlflow.data.context"] for n, d in train.items()}
    assert contexts == {"sample_data-train": ["training"], "sample_data-test": ["evaluation"]}
    ds = train["sample_data-train"].dataset
    assert json.loads(ds.profile)["num_rows"] == split["train_rows"]
    assert json.loads(train["sample_data-test"].dataset.profile)["num_rows"] == split["test_rows"]
    assert json.loads(ds.source)["uri"] == str((workdir / "data/sample_data.csv").resolve())
    assert ds.source_type == "local" and len(ds.digest) == 16
    columns = [c["name"] for c in json.loads(ds.schema)["mlflow_colspec"]]
    assert columns == [f["name"] for f in processed["features"]] + ["Churn"]
    # The evaluation run used the test split: the same dataset (same digest) as the training
    # run's evaluation input.
    evaluated = inputs(runs["evaluate"])
    assert list(evaluated) == ["sample_data-test"]
    assert evaluated["sample_data-test"].dataset.digest == train["sample_data-test"].dataset.digest
    # Another split of the same file is another dataset.
    run_churnkit(churnkit_bin, workdir, "-q", "pipeline", "--seed", "7", "--experiment-name", exp, uri=mlflow_uri)
    newest = client.search_runs([client.get_experiment_by_name(exp).experiment_id],
                                filter_string="attributes.run_name LIKE 'train%'",
                                order_by=["attributes.start_time DESC"])[0]
    assert inputs(newest)["sample_data-train"].dataset.digest != ds.digest
