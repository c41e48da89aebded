"""Fit a peer on churnkit's processed files and print JSON: scikit-learn's random forest, or
LightGBM in random-forest mode (settings equivalent to churnkit's defaults: 100 trees, depth 10,
a bootstrap-sized bag per tree, sqrt(features) per node, leaves down to one row) or as gbdt (100
iterations, its defaults otherwise). The whole process (read CSV, fit, predict train and test) is
what bench/scale.py times from outside; fit CPU is timed inside, and afterwards predict
throughput on one core.
Usage: python bench/peers.py sklearn|lgbm-rf|lgbm-gbdt DATA_PROCESSED_DIR
"""
import json
import math
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

tool, d = sys.argv[1], sys.argv[2].rstrip("/")
x_train = pd.read_csv(f"{d}/X_train.csv").to_numpy(dtype=np.float64)
x_test = pd.read_csv(f"{d}/X_test.csv").to_numpy(dtype=np.float64)
y_train = pd.read_csv(f"{d}/y_train.csv").to_numpy().ravel()
y_test = pd.read_csv(f"{d}/y_test.csv").to_numpy().ravel()
m = x_train.shape[1]

if tool == "sklearn":
    from sklearn.ensemble import RandomForestClassifier
    model = RandomForestClassifier(n_estimators=100, max_depth=10, min_samples_split=2, min_samples_leaf=1,
                                   max_features="sqrt", random_state=42, n_jobs=-1)
else:
    import lightgbm as lgb
    common = dict(n_estimators=100, n_jobs=2, random_state=42, verbose=-1, max_bin=255)
    if tool == "lgbm-rf":
        model = lgb.LGBMClassifier(boosting_type="rf", max_depth=10, num_leaves=1024, min_child_samples=1,
                                   min_child_weight=1e-3, bagging_fraction=1 - 1 / math.e, bagging_freq=1,
                                   feature_fraction_bynode=max(1, int(math.sqrt(m))) / m, **common)
    else:
        model = lgb.LGBMClassifier(boosting_type="gbdt", **common)
cpu0, wall0 = time.process_time(), time.perf_counter()
model.fit(x_train, y_train)
fit_cpu, fit_wall = time.process_time() - cpu0, time.perf_counter() - wall0
p_train = model.predict_proba(x_train)[:, 1]
p_test = model.predict_proba(x_test)[:, 1]
# Predict throughput on one core over the training rows, the best of two (as bench_predict).
if tool == "sklearn":
    model.set_params(n_jobs=1)
    one_core = lambda: model.predict_proba(x_train)
else:
    one_core = lambda: model.predict_proba(x_train, num_threads=1)
best = math.inf
for _ in range(2):
    t = time.perf_counter()
    one_core()
    best = min(best, time.perf_counter() - t)
print(json.dumps({"tool": tool, "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall,
                  "roc_auc": roc_auc_score(y_test, p_test), "train_rows": len(y_train),
                  "train_mean": float(p_train.mean()), "predict_rows_per_s_one_core": len(y_train) / best}))
