"""TreeSHAP, churnkit against the `shap` package, on the same rows: speed and agreement.

1. Speed: `shap.TreeExplainer` on a scikit-learn forest (100 trees, depth 10) against
   `churnkit predict --explain` with a churnkit forest of the same size, on the same 10k rows,
   in CPU seconds (shap's tree explainer runs on one core; churnkit's on all of them).
2. Agreement: churnkit's own forest handed to `shap.TreeExplainer` as a custom tree ensemble
   (its nodes, thresholds, leaf values and covers), and shap's values compared with churnkit's
   contributions for every row and feature.

Needs `shap` and scikit-learn (not in the test venv). Usage:
  python bench/shap_bench.py CHURNKIT_BIN WORK_DIR [--rows 12500]
Prints one JSON line.
"""
import argparse
import csv
import json
import pathlib
import resource
import subprocess
import time

import numpy as np
import pandas as pd
import shap
from sklearn.ensemble import RandomForestClassifier

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("work")
ap.add_argument("--rows", type=int, default=12_500)
a = ap.parse_args()
work = pathlib.Path(a.work)
work.mkdir(parents=True, exist_ok=True)
env_run = lambda *args: subprocess.run([a.bin, "-q", *args], cwd=work, check=True, capture_output=True)
raw = work / "data/customers.csv"
env_run("generate", "--rows", str(a.rows), "--seed", "11", "--output", str(raw))
env_run("--no-track", "pipeline", "--data", str(raw), "--n-estimators", "100", "--max-depth", "10")

x_train = pd.read_csv(work / "data/processed/X_train.csv")
names = list(x_train.columns)
x = x_train.to_numpy(dtype=np.float64)
y = pd.read_csv(work / "data/processed/y_train.csv").to_numpy().ravel()
explain_rows = x[:10_000]

# 1. scikit-learn forest + shap.TreeExplainer.
filled = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
rf = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=42, n_jobs=-1).fit(filled, y)
t0 = time.process_time()
sk_values = shap.TreeExplainer(rf).shap_values(filled[:10_000], check_additivity=False)
shap_cpu = time.process_time() - t0

# churnkit: predict --explain on the raw rows the processed training rows came from (any 10k
# rows of the same table: the cost depends on the forest and the row count).
rows_csv = work / "explain.csv"
with open(raw) as src, open(rows_csv, "w", newline="") as dst:
    for i, line in enumerate(src):
        if i > 10_000:
            break
        dst.write(line)
before = resource.getrusage(resource.RUSAGE_CHILDREN)
w0 = time.perf_counter()
env_run("predict", "--input", str(rows_csv), "--output", str(work / "scored.csv"), "--explain", str(len(names)))
wall = time.perf_counter() - w0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
churnkit_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

# 2. Agreement: churnkit's forest as a shap custom ensemble, on the processed training rows,
# against churnkit's own contributions for the same rows (examples/explain_processed).
model = json.loads((work / "models/churn_model.json").read_text())
trees = []
n_trees = len(model["trees"])
for t in model["trees"]:
    feature = np.array(t["feature"])
    leaf = feature < 0
    left = np.where(leaf, -1, np.array(t["left"]))
    right = np.where(leaf, -1, np.array(t["right"]))
    default = np.where(np.array(t["missing_left"]), left, right)
    trees.append({
        "children_left": left, "children_right": right, "children_default": default,
        "features": np.where(leaf, -2, feature), "thresholds": np.array(t["threshold"]),
        # shap sums its trees; churnkit averages them.
        "values": (np.array(t["value"]) / n_trees).reshape(-1, 1),
        "node_sample_weight": np.array(t["cover"], dtype=np.float64),
    })
explainer = shap.TreeExplainer({"trees": trees, "base_offset": 0.0})
x10k = work / "x10k.csv"
x_train.iloc[:10_000].to_csv(x10k, index=False, na_rep="")
example = pathlib.Path(a.bin).parent / "examples/explain_processed"
r = subprocess.run([str(example), str(work / "models/churn_model.json"), str(x10k), str(work / "ours.csv")],
                   check=True, capture_output=True, text=True)
timing = json.loads(r.stderr.strip().splitlines()[-1])
ours = pd.read_csv(work / "ours.csv")
t0 = time.process_time()
theirs = explainer.shap_values(explain_rows)
shap_own_cpu = time.process_time() - t0
diff = np.abs(ours[names].to_numpy() - np.asarray(theirs).reshape(len(explain_rows), -1))
out = {
    "rows_explained": 10_000,
    "trees": 100,
    "max_depth": 10,
    "shap_version": shap.__version__,
    "shap_on_sklearn_forest_cpu_s": round(shap_cpu, 2),
    "shap_on_churnkit_forest_cpu_s": round(shap_own_cpu, 2),
    "churnkit_explain_cpu_s": timing["explain_cpu_s"],
    "churnkit_explain_wall_s": timing["explain_wall_s"],
    "churnkit_predict_explain_cpu_s": round(churnkit_cpu, 2),
    "cpu_ratio_vs_sklearn_forest": round(shap_cpu / timing["explain_cpu_s"], 1),
    "cpu_ratio_same_forest": round(shap_own_cpu / timing["explain_cpu_s"], 1),
    "max_abs_diff_vs_shap": float(diff.max()),
    "base_value_diff": abs(float(np.ravel(explainer.expected_value)[0]) - float(ours["base_value"][0])),
}
print(json.dumps(out))
