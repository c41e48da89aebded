"""churnkit against scikit-learn: the forest on the same processed files and split, and the
default pipeline + predict on raw tables against scikit-learn with a hand-written schema.

Both fit the processed data churnkit wrote (100 trees, depth 10, sqrt features); their test
ROC AUCs must agree within 0.01 and their importances must rank the same top features.
"""
import json
import subprocess
import sys

import pytest
from conftest import REPO, run_churnkit


def sklearn_on(processed):
    r = subprocess.run(
        [sys.executable, str(REPO / "bench/sklearn_rf.py"), str(processed)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(r.stdout)


def compare(workdir):
    ours = json.loads((workdir / "models/train_run.json").read_text())
    theirs = sklearn_on(workdir / "data/processed")
    auc_ours, auc_theirs = ours["metrics"]["roc_auc"], theirs["roc_auc"]
    assert abs(auc_ours - auc_theirs) < 0.01, (auc_ours, auc_theirs)
    imp = [l.split(",")[0] for l in (workdir / "models/feature_importance.csv").read_text().splitlines()[1:]]
    names = (workdir / "data/processed/X_train.csv").read_text().splitlines()[0].split(",")
    sk = [n for _, n in sorted(zip(theirs["importances"], names), reverse=True)]
    assert set(imp[:3]) == set(sk[:3]), (imp, sk)
    return auc_ours, auc_theirs


def test_telco_auc_matches_sklearn(tmp_path, churnkit_bin, telco):
    run_churnkit(churnkit_bin, tmp_path, "-q", "pipeline", "--data", telco, "--target", "Churn")
    ours, theirs = compare(tmp_path)
    assert 0.82 < theirs < 0.86, theirs


@pytest.mark.parametrize("rows", [20_000])
def test_generated_data_matches_sklearn(tmp_path, churnkit_bin, rows):
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", rows, "--seed", "11", "--output", "data/g.csv")
    run_churnkit(churnkit_bin, tmp_path, "-q", "pipeline", "--data", "data/g.csv")
    ours, _ = compare(tmp_path)
    assert ours > 0.8, ours


def _raw_parity(churnkit_bin, tmp_path, name, source):
    sys.path.insert(0, str(REPO / "bench"))
    import parity

    r = parity.compare(churnkit_bin, tmp_path, source, name, splits=3, seeds=4)
    # Defaults, inference included, against a hand-written schema: within 0.003 on average.
    assert abs(r["churnkit"] - r["sklearn"]) < 0.003, r
    return r


@pytest.mark.parametrize("shape,rows", [("guide", 20_000), ("messy", 10_000)])
def test_default_pipeline_and_predict_match_sklearn_on_raw_generated_tables(tmp_path, churnkit_bin, shape, rows):
    path = tmp_path / f"{shape}.csv"
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", rows, "--seed", "3", "--shape", shape,
                 "--output", path)
    r = _raw_parity(churnkit_bin, tmp_path, f"{shape}-{rows // 1000}k", path)
    assert r["churnkit"] > 0.88, r


def test_default_pipeline_and_predict_match_sklearn_on_raw_telco(tmp_path, churnkit_bin, telco):
    r = _raw_parity(churnkit_bin, tmp_path, "telco", telco)
    assert 0.82 < r["churnkit"] < 0.86, r
