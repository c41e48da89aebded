"""churnkit's TreeSHAP against the `shap` package itself, on the same forest and the same rows.

A churnkit forest is trained by the CLI, handed to `shap.TreeExplainer` as a custom tree ensemble
(its nodes, thresholds, missing-value directions, leaf values and covers), and shap's values are
compared with churnkit's own contributions (examples/explain_processed) for every row and feature.
Two forests: depth 10 on the guide's table, and unlimited depth on the messy table (missing
values, so the missing-value directions are compared too). The recursive algorithm that takes over
for paths of more than 12 distinct features is checked against brute-force Shapley values in the
Rust unit tests.
"""
import json
import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest

shap = pytest.importorskip("shap")


def shap_ensemble(model):
    trees = []
    n = len(model["trees"])
    for t in model["trees"]:
        feature = np.array(t["feature"])
        leaf = feature < 0
        left = np.where(leaf, -1, np.array(t["left"]))
        right = np.where(leaf, -1, np.array(t["right"]))
        trees.append({
            "children_left": left, "children_right": right,
            "children_default": np.where(np.array(t["missing_left"]), left, right),
            "features": np.where(leaf, -2, feature), "thresholds": np.array(t["threshold"]),
            # shap sums its trees' outputs; churnkit's forest averages them.
            "values": (np.array(t["value"]) / n).reshape(-1, 1),
            "node_sample_weight": np.array(t["cover"], dtype=np.float64),
        })
    return {"trees": trees, "base_offset": 0.0}


@pytest.mark.parametrize("shape,depth", [("guide", "10"), ("messy", "none")])
def test_contributions_match_shap(churnkit_bin, tmp_path, shape, depth):
    run = lambda *a: subprocess.run([churnkit_bin, "-q", "--no-track", *a], cwd=tmp_path, check=True,
                                    capture_output=True, text=True)
    run("generate", "--rows", "3000", "--seed", "5", "--shape", shape, "--output", "data/c.csv")
    run("pipeline", "--data", "data/c.csv", "--target", "Churn", "--n-estimators", "25", "--max-depth", depth,
        "--max-features", "all")
    example = pathlib.Path(churnkit_bin).parent / "examples/explain_processed"
    if not example.is_file():
        pytest.fail(f"{example} is missing: cargo build --release --all-targets builds it")
    x_path = tmp_path / "data/processed/X_test.csv"
    subprocess.run([str(example), str(tmp_path / "models/churn_model.json"), str(x_path), str(tmp_path / "ours.csv")],
                   check=True, capture_output=True, text=True)
    model = json.loads((tmp_path / "models/churn_model.json").read_text())
    # round_trip: exact parsing, so a value on a split threshold goes the way churnkit sent it.
    x = pd.read_csv(x_path, float_precision="round_trip")
    ours = pd.read_csv(tmp_path / "ours.csv", float_precision="round_trip")
    explainer = shap.TreeExplainer(shap_ensemble(model))
    theirs = np.asarray(explainer.shap_values(x.to_numpy(dtype=np.float64))).reshape(len(x), -1)
    mine = ours[list(x.columns)].to_numpy()
    assert np.abs(mine - theirs).max() < 1e-9, np.abs(mine - theirs).max()
    assert abs(float(np.ravel(explainer.expected_value)[0]) - ours["base_value"][0]) < 1e-12
    # The contributions are not all zero: the comparison has something to compare.
    assert np.abs(mine).max() > 0.01
