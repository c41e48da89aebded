"""Fit scikit-learn's RandomForestClassifier on churnkit's processed files; print JSON metrics.

Same files, same split, same hyperparameters as `churnkit train`, so the two can be compared.
Usage: python bench/sklearn_rf.py DATA_PROCESSED_DIR [--n-estimators 100 --max-depth 10 --seed 42]
"""
import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

ap = argparse.ArgumentParser()
ap.add_argument("processed")
ap.add_argument("--n-estimators", type=int, default=100)
ap.add_argument("--max-depth", type=int, default=10)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--n-jobs", type=int, default=-1)
a = ap.parse_args()

d = a.processed.rstrip("/")
x_train = pd.read_csv(f"{d}/X_train.csv").to_numpy(dtype=np.float64)
x_test = pd.read_csv(f"{d}/X_test.csv").to_numpy(dtype=np.float64)
y_train = pd.read_csv(f"{d}/y_train.csv").to_numpy().ravel()
y_test = pd.read_csv(f"{d}/y_test.csv").to_numpy().ravel()

model = RandomForestClassifier(
    n_estimators=a.n_estimators,
    max_depth=a.max_depth,
    min_samples_split=2,
    min_samples_leaf=1,
    random_state=a.seed,
    n_jobs=a.n_jobs,
)
cpu0, wall0 = time.process_time(), time.perf_counter()
model.fit(x_train, y_train)
fit_cpu, fit_wall = time.process_time() - cpu0, time.perf_counter() - wall0
proba = model.predict_proba(x_test)[:, 1]
pred = (proba > 0.5).astype(int)
json.dump(
    {
        "fit_cpu_s": fit_cpu,
        "fit_wall_s": fit_wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "accuracy": accuracy_score(y_test, pred),
        "precision": precision_score(y_test, pred, zero_division=0),
        "recall": recall_score(y_test, pred, zero_division=0),
        "f1": f1_score(y_test, pred, zero_division=0),
        "roc_auc": roc_auc_score(y_test, proba),
        "importances": model.feature_importances_.tolist(),
    },
    sys.stdout,
)
print()
