"""`churnkit monitor` against scipy and by hand, on generated customers (issue 25, item 4).

A model is trained (isotonic-calibrated) on one generated table; then
- a batch drawn from the same population (another seed) flags nothing, exits 0, and CBPE's
  estimated ROC AUC is within 0.02 of the realised one on 100,000 rows;
- the same batch with a known shift (Age + 15 years; half the two-year contracts turned into
  month-to-month) flags exactly those two features and exits 10;
- the statistics agree with scipy (KS distance exactly, its p-value to 0.02; chi-square exactly)
  and the PSI of a categorical with a hand computation.
"""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_churnkit

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, churnkit_bin):
    d = tmp_path_factory.mktemp("monitor")
    run_churnkit(churnkit_bin, d, "-q", "generate", "--rows", "20000", "--seed", "3", "--output", "train.csv")
    run_churnkit(churnkit_bin, d, "-q", "--no-track", "pipeline", "--data", "train.csv", "--target", "Churn",
                 "--calibrate", "isotonic")
    run_churnkit(churnkit_bin, d, "-q", "generate", "--rows", "100000", "--seed", "11", "--output", "batch.csv")
    return d


def monitor(bin, d, current, *extra):
    r = run_churnkit(bin, d, "--no-track", "monitor", "--current", current, *extra, check=False)
    report = json.loads((d / "metrics/monitor/drift.json").read_text())
    return r, report


def test_same_population_flags_nothing_and_cbpe_is_close(churnkit_bin, trained):
    r, report = monitor(churnkit_bin, trained, "batch.csv", "--labels", "Churn")
    assert r.returncode == 0, r.stderr
    assert [f["feature"] for f in report["features"] if f["drifted"]] == []
    assert report["dataset_drift"] is False
    est, real = report["estimated"]["roc_auc"], report["realised"]["roc_auc"]
    assert abs(est - real) < 0.02, (est, real)
    for f in report["features"]:
        assert {"feature", "statistic", "p_value", "psi", "drifted"} <= set(f)
    html = (trained / "metrics/monitor/monitor.html").read_text()
    assert "no drift" in html and "data:image/png;base64," in html


def test_known_shift_flags_exactly_the_shifted_features(churnkit_bin, trained):
    batch = pd.read_csv(trained / "batch.csv", dtype=str, keep_default_na=False)
    age = pd.to_numeric(batch["Age"], errors="coerce")
    batch["Age"] = np.where(age.notna(), (age + 15).astype("Int64").astype(str), batch["Age"])
    two = batch.index[batch["Contract"] == "Two year"]
    batch.loc[two[::2], "Contract"] = "Month-to-month"
    batch.to_csv(trained / "shifted.csv", index=False)
    r, report = monitor(churnkit_bin, trained, "shifted.csv")
    assert r.returncode == 10, (r.returncode, r.stderr)
    assert "churnkit: drift: 2 of" in r.stderr and "Age" in r.stderr and "Contract" in r.stderr, r.stderr
    drifted = sorted(f["feature"] for f in report["features"] if f["drifted"])
    assert drifted == ["Age", "Contract"], report["features"]

    # Against scipy and by hand, on the raw columns (the preprocessor's scaling is monotone and
    # its category codes one to one, so the statistics are the same).
    train = pd.read_csv(trained / "train.csv", dtype=str, keep_default_na=False)
    state = json.loads((trained / "data/processed/preprocessor.json").read_text())
    rows = len(pd.read_csv(trained / "data/processed/y_train.csv"))
    feats = {f["feature"]: f for f in report["features"]}
    # The reference is the processed training rows: read them back as the preprocessor wrote them.
    # round_trip: exact parsing, or values tied with the batch's would differ in the last bit.
    x_train = pd.read_csv(trained / "data/processed/X_train.csv", float_precision="round_trip")
    assert len(x_train) == rows
    contract = next(f for f in state["features"] if f["name"] == "Contract")
    cats = contract["categories"]
    ref_codes = x_train["Contract"].to_numpy()
    ref_counts = np.array([np.sum(ref_codes == k) for k in range(len(cats))] + [np.isnan(ref_codes).sum()], float)
    cur = batch["Contract"].map({c: k for k, c in enumerate(cats)})
    cur_counts = np.array([np.sum(cur == k) for k in range(len(cats))] + [cur.isna().sum()], float)
    keep = (ref_counts + cur_counts) > 0
    chi2, p, _, _ = scipy_stats.chi2_contingency(np.vstack([ref_counts[keep], cur_counts[keep]]))
    assert feats["Contract"]["statistic"] == pytest.approx(chi2, rel=1e-10)
    assert feats["Contract"]["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
    rs, cs = np.maximum(ref_counts / ref_counts.sum(), 1e-4), np.maximum(cur_counts / cur_counts.sum(), 1e-4)
    assert feats["Contract"]["psi"] == pytest.approx(float(np.sum((cs - rs) * np.log(cs / rs))), rel=1e-10)
    for name in ["Tenure", "MonthlyCharges"]:
        num = next(f for f in state["features"] if f["name"] == name)
        ref = x_train[name].dropna().to_numpy()
        cur_raw = pd.to_numeric(batch[name], errors="coerce").dropna().to_numpy()
        cur_scaled = (cur_raw - num["mean"]) / num["std"]
        if num.get("clip"):
            lo, hi = (num["clip"]["lower"] - num["mean"]) / num["std"], (num["clip"]["upper"] - num["mean"]) / num["std"]
            cur_scaled = np.clip(cur_scaled, lo, hi)
        res = scipy_stats.ks_2samp(ref, cur_scaled)
        assert feats[name]["statistic"] == pytest.approx(res.statistic, abs=1e-9), name
        assert abs(feats[name]["p_value"] - res.pvalue) < 0.02, (name, feats[name]["p_value"], res.pvalue)


def test_monitoring_run_on_mlflow_is_linked_to_the_model(churnkit_bin, trained, mlflow_uri):
    from mlflow.tracking import MlflowClient

    r = run_churnkit(churnkit_bin, trained, "-q", "monitor", "--current", "batch.csv", "--experiment-name",
                     "monitor-test", uri=mlflow_uri, check=False)
    assert r.returncode == 0, r.stderr
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("monitor-test")
    run = client.search_runs([exp.experiment_id], "tags.`churnkit.step` = 'monitor'")[0]
    train = json.loads((trained / "models/train_run.json").read_text())
    # The model's hash: the same tag the training and evaluation runs carry.
    import hashlib
    sha = hashlib.sha256((trained / "models/churn_model.json").read_bytes()).hexdigest()
    assert run.data.tags["model.sha256"] == sha
    assert train["tags"].get("model.sha256", sha) == sha
    report = json.loads((trained / "metrics/monitor/drift.json").read_text())
    assert run.data.metrics["drifted_features"] == 0
    assert run.data.metrics["estimated_roc_auc"] == pytest.approx(report["estimated"]["roc_auc"], abs=1e-12)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"drift.json", "monitor.html"} <= names


def test_scores_are_compared_with_rows_the_model_has_not_seen(tmp_path, churnkit_bin):
    # An uncalibrated forest is surer of its own training rows than of anyone new: compared with
    # the training rows' scores, a batch from the same population looked drifted (PSI 0.13).
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", "5000", "--seed", "4", "--shape", "messy",
                 "--output", "m.csv")
    run_churnkit(churnkit_bin, tmp_path, "-q", "--no-track", "pipeline", "--data", "m.csv", "--target", "Churn")
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", "5000", "--seed", "9", "--shape", "messy",
                 "--output", "b.csv")
    r, report = monitor(churnkit_bin, tmp_path, "b.csv")
    assert r.returncode == 0, r.stderr
    assert report["scores"]["drifted"] is False and report["scores"]["psi"] < 0.05, report["scores"]
