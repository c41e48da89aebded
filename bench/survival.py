"""Survival speed, churnkit against lifelines on the same generated table, one run.

    .venv/bin/python bench/survival.py [ROWS] [LIFELINES_COX_ROWS]

Writes ROWS customers (default 1,000,000) with 19 numeric covariates, a two-level plan and whole
-month durations with a known hazard, then times:
- `churnkit survival --by plan` end to end (read the CSV, Kaplan-Meier all + per plan, log-rank,
  the Cox design and fit on 20 covariates, concordance, lifetime values, charts, files): CPU s;
- churnkit's phases inside that command (Kaplan-Meier + log-rank, Cox, lifetime values), as
  it prints them;
- lifelines: KaplanMeierFitter (all + per plan) + multivariate_logrank_test on ROWS, and
  CoxPHFitter on LIFELINES_COX_ROWS (default ROWS) with the same covariates: CPU s.
"""
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CHURNKIT_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/churnkit")


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def table(n, seed=7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 19))
    plan = rng.choice(["basic", "plus"], size=n, p=[0.6, 0.4])
    beta = np.linspace(-0.5, 0.5, 19)
    lp = X @ beta + 0.6 * (plan == "plus")
    t = rng.exponential(1 / (0.02 * np.exp(lp)))
    c = rng.uniform(0, 72, size=n)
    df = pd.DataFrame(np.round(X, 5), columns=[f"x{i}" for i in range(19)])
    df["plan"] = plan
    df["months"] = np.ceil(np.minimum(t, c)).astype(int)
    df["Churn"] = np.where(t <= c, "Yes", "No")
    return df


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    cox_rows = int(sys.argv[2]) if len(sys.argv) > 2 else rows
    df = table(rows)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "surv.csv")
        df.to_csv(path, index=False)
        c0, w0 = cpu_children(), time.perf_counter()
        out = subprocess.run([BIN, "--no-track", "survival", "--data", path, "--event", "Churn",
                        "--duration", "months", "--by", "plan"], cwd=d, check=True, capture_output=True, text=True).stdout
        ck_cpu, ck_wall = cpu_children() - c0, time.perf_counter() - w0
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    e = (df["Churn"] == "Yes").astype(int)
    c0 = cpu_self()
    KaplanMeierFitter().fit(df["months"], e)
    for _, part in df.groupby("plan"):
        KaplanMeierFitter().fit(part["months"], (part["Churn"] == "Yes").astype(int))
    multivariate_logrank_test(df["months"], df["plan"], e)
    ll_km = cpu_self() - c0
    X = df[[f"x{i}" for i in range(19)]].copy()
    X["plan=plus"] = (df["plan"] == "plus").astype(float)
    X["T"], X["E"] = df["months"], e
    c0 = cpu_self()
    CoxPHFitter().fit(X.iloc[:cox_rows], "T", "E")
    ll_cox = cpu_self() - c0
    print(f"rows {rows}, covariates 20, events {int(e.sum())}")
    print(f"churnkit survival (whole command: read, KM x3, log-rank, Cox, concordance, values, charts): "
          f"{ck_cpu:.2f} CPU s, {ck_wall:.2f} s wall")
    print("churnkit phases:", [l for l in out.splitlines() if l.startswith("survival done")][0])
    print(f"lifelines KM x3 + log-rank: {ll_km:.2f} CPU s")
    print(f"lifelines CoxPHFitter on {cox_rows} rows: {ll_cox:.2f} CPU s"
          + ("" if cox_rows == rows else f" (x{rows / cox_rows:.0f} for {rows} rows, linear: {ll_cox * rows / cox_rows:.1f})"))
    full = ll_cox * rows / cox_rows
    phases = dict(re.findall(r"(Kaplan-Meier and log-rank|Cox design|Cox fit|lifetime values) ([0-9.]+)s", out))
    km, fit = float(phases["Kaplan-Meier and log-rank"]), float(phases["Cox fit"])
    print(f"ratios: KM + log-rank lifelines/churnkit {ll_km / km:.1f}x; Cox fit lifelines/churnkit {full / fit:.1f}x; "
          f"lifelines (KM + log-rank + Cox fit) / churnkit whole command {(ll_km + full) / ck_cpu:.1f}x")


if __name__ == "__main__":
    main()
