"""The "team" MLflow server of scripts/team-server.sh (PostgreSQL backend store, artifacts proxied
into a SeaweedFS S3 bucket), judged by MLflow's own Python client, by boto3 straight at the bucket
and by psycopg2 straight at the database.

Needs CHURNKIT_TEST_MLFLOW_TEAM_URI and the rest of DIR/team.env exported (scripts/team-server.sh
start DIR writes it); skips without the URI, fails without it when CHURNKIT_REQUIRE_TEAM is set.
The MLflow clients here run without any S3 credential or endpoint: artifacts go through the
server's proxy, as on a team server.
"""
import os
import select
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from conftest import _optional

URI_VAR = "CHURNKIT_TEST_MLFLOW_TEAM_URI"
NEEDED = ("CHURNKIT_TEST_TEAM_S3_ENDPOINT", "CHURNKIT_TEST_TEAM_S3_BUCKET", "CHURNKIT_TEST_TEAM_S3_ACCESS_KEY",
          "CHURNKIT_TEST_TEAM_S3_SECRET_KEY", "CHURNKIT_TEST_TEAM_PG_DSN")
# What would let a client reach S3 itself: none of it may be needed.
S3_CLIENT_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                  "MLFLOW_S3_ENDPOINT_URL")


@pytest.fixture(scope="module")
def team():
    uri = os.environ.get(URI_VAR)
    if not uri:
        _optional(f"a team MLflow server ({URI_VAR}; scripts/team-server.sh start DIR writes DIR/team.env)",
                  "CHURNKIT_REQUIRE_TEAM")
    missing = [v for v in NEEDED if not os.environ.get(v)]
    if missing:
        pytest.fail(f"{URI_VAR} is set but {', '.join(missing)} not: export all of DIR/team.env")
    return {"uri": uri, **{v: os.environ[v] for v in NEEDED}}


@pytest.fixture
def mlflow_team(team, monkeypatch):
    for v in S3_CLIENT_VARS:
        monkeypatch.delenv(v, raising=False)
    import mlflow
    mlflow.set_tracking_uri(team["uri"])
    return mlflow


def s3_client(team, secret=None):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url=team["CHURNKIT_TEST_TEAM_S3_ENDPOINT"], region_name="us-east-1",
        aws_access_key_id=team["CHURNKIT_TEST_TEAM_S3_ACCESS_KEY"],
        aws_secret_access_key=secret or team["CHURNKIT_TEST_TEAM_S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def pg_query(team, sql, args=()):
    import psycopg2
    conn = psycopg2.connect(team["CHURNKIT_TEST_TEAM_PG_DSN"], connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def test_a_run_lands_in_postgres_and_its_artifact_in_the_s3_bucket(team, mlflow_team):
    mlflow = mlflow_team
    client = mlflow.MlflowClient()
    exp_name = f"team-{os.getpid()}-{time.time_ns()}"
    exp_id = mlflow.create_experiment(exp_name)
    # Proxied artifacts: the experiment points at the server, not at s3:// (which needs keys).
    assert client.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/{exp_id}"
    text = f"churnkit team-server check {uuid.uuid4()}\n"
    with mlflow.start_run(experiment_id=exp_id, run_name="team-artifact") as run:
        mlflow.log_params({"n_estimators": 100, "max_depth": 10})
        mlflow.log_metrics({"roc_auc": 0.8125, "accuracy": 0.75})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_text(text, "notes/check.txt")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"

    # MLflow's client reads it all back, the artifact through the proxy.
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"n_estimators": "100", "max_depth": "10"}
    assert got.data.metrics == {"roc_auc": 0.8125, "accuracy": 0.75, "loss": pytest.approx(1.0 / 3)}
    assert [h.value for h in client.get_metric_history(run_id, "loss")] == pytest.approx([1.0, 0.5, 1.0 / 3])
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/check.txt"]
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/check.txt") == text

    # The bytes are in the bucket, under the experiment and the run.
    s3 = s3_client(team)
    bucket = team["CHURNKIT_TEST_TEAM_S3_BUCKET"]
    prefix = f"{exp_id}/{run_id}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert keys == [f"{prefix}artifacts/notes/check.txt"], keys
    assert s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == text.encode()
    # ...and the store checks its keys (so the proxy is the only way in for a client).
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as refused:
        s3_client(team, secret="not-the-secret").get_object(Bucket=bucket, Key=keys[0])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # The run's rows are in PostgreSQL.
    assert pg_query(team, "SELECT name FROM experiments WHERE experiment_id = %s", (int(exp_id),)) == [(exp_name,)]
    assert pg_query(team, "SELECT name, status, lifecycle_stage, artifact_uri FROM runs WHERE run_uuid = %s",
                    (run_id,)) == [("team-artifact", "FINISHED", "active", run.info.artifact_uri)]
    assert dict(pg_query(team, "SELECT key, value FROM params WHERE run_uuid = %s", (run_id,))) == {
        "n_estimators": "100", "max_depth": "10"}
    assert dict(pg_query(team, "SELECT key, value FROM latest_metrics WHERE run_uuid = %s", (run_id,))) == {
        "roc_auc": 0.8125, "accuracy": 0.75, "loss": pytest.approx(1.0 / 3)}
    assert pg_query(team, "SELECT count(*) FROM metrics WHERE run_uuid = %s AND key = 'loss'", (run_id,)) == [(3,)]


# One writer: 5 runs, each with its params and metrics, named w<W>-r<I>; it prints "ready" once
# MLflow is imported, waits for "go" on stdin (so all of them write at once), then prints
# "run-id ID" for each (MLflow prints its own "View run" lines on stdout too).
WRITER = textwrap.dedent("""
    import sys
    import mlflow
    uri, exp_id, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mlflow.set_tracking_uri(uri)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(5):
        with mlflow.start_run(experiment_id=exp_id, run_name=f"w{w}-r{i}") as run:
            mlflow.log_params({"worker": w, "index": i})
            mlflow.log_metric("value", w * 10 + i)
            mlflow.log_metrics({"half": (w * 10 + i) / 2, "step_sum": 0.0})
            for step in range(1, 4):
                mlflow.log_metric("step_sum", float(step), step=step)
        print("run-id", run.info.run_id, flush=True)
""")
WRITERS, RUNS_EACH = 8, 5


def test_eight_processes_logging_at_once_lose_and_duplicate_nothing(team, mlflow_team, tmp_path):
    mlflow = mlflow_team
    client = mlflow.MlflowClient()
    exp_id = mlflow.create_experiment(f"team-concurrency-{os.getpid()}-{time.time_ns()}")
    env = {k: v for k, v in os.environ.items() if k not in S3_CLIENT_VARS and k != "MLFLOW_TRACKING_URI"}
    procs = []
    try:
        for w in range(WRITERS):
            err = open(tmp_path / f"writer{w}.err", "w")
            procs.append(subprocess.Popen([sys.executable, "-c", WRITER, team["uri"], exp_id, str(w)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                          text=True, env=env))
            err.close()
        deadline = time.monotonic() + 180
        for w, p in enumerate(procs):
            ready, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = p.stdout.readline() if ready else "(no answer in 180 s)"
            assert line.strip() == "ready", f"writer {w}: {line!r}\n{(tmp_path / f'writer{w}.err').read_text()}"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reported = set()
        for w, p in enumerate(procs):
            out, _ = p.communicate(timeout=max(1.0, deadline + 120 - time.monotonic()))
            assert p.returncode == 0, f"writer {w} exited {p.returncode}:\n{(tmp_path / f'writer{w}.err').read_text()}"
            ids = [line.split()[1] for line in out.splitlines() if line.startswith("run-id ")]
            assert len(ids) == RUNS_EACH, f"writer {w} printed {out!r}"
            reported.update(ids)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert len(reported) == WRITERS * RUNS_EACH

    runs = client.search_runs([exp_id], max_results=1000)
    names = sorted(r.info.run_name for r in runs)
    want = sorted(f"w{w}-r{i}" for w in range(WRITERS) for i in range(RUNS_EACH))
    assert names == want, f"{len(runs)} runs: {names}"
    assert {r.info.run_id for r in runs} == reported
    for r in runs:
        w, i = (int(x[1:]) for x in r.info.run_name.split("-"))
        assert r.info.status == "FINISHED", r.info.run_name
        assert r.data.params == {"worker": str(w), "index": str(i)}, r.info.run_name
        assert r.data.metrics == {"value": w * 10 + i, "half": (w * 10 + i) / 2, "step_sum": 3.0}, r.info.run_name
        assert sorted((h.step, h.value) for h in client.get_metric_history(r.info.run_id, "step_sum")) == [
            (0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)], r.info.run_name

    # The same count in PostgreSQL itself: no run row, param or metric point twice.
    e = int(exp_id)
    assert pg_query(team, "SELECT count(*), count(DISTINCT name) FROM runs WHERE experiment_id = %s", (e,)) == [(40, 40)]
    assert pg_query(team, "SELECT count(*) FROM params p JOIN runs r USING (run_uuid) WHERE r.experiment_id = %s",
                    (e,)) == [(80,)]
    assert pg_query(team, "SELECT count(*) FROM metrics m JOIN runs r USING (run_uuid) WHERE r.experiment_id = %s",
                    (e,)) == [(40 * 6,)]
