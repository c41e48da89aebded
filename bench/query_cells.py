"""The cells' queries at scale: each op on a 1M-row, 12-column frame as a cell on a fresh, warm
Rust kernel (through nbclient, as the notebook tests run them), against the same operation in
pandas on the same frame, in this process, in the same run.

Usage: .venv/bin/python bench/query_cells.py [ROWS]   (scripts/jupyter-setup.sh first)
Prints a Markdown table: the cell's wall time, the cell minus the trivial-cell floor, pandas'
time, and their ratio; then the `:dep` cell, the first cell and the trivial-cell median.
"""
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

import nbformat
import numpy as np
import pandas as pd
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def table(n, path):
    rng = np.random.default_rng(7)
    geo = rng.choice(["France", "Germany", "Spain"], n, p=[0.5, 0.25, 0.25])
    df = pd.DataFrame({
        "CustomerId": np.arange(n) + 15_000_000,
        "Surname": np.char.add("Name", (np.arange(n) % 2999).astype(str)),
        "CreditScore": rng.integers(350, 851, n).astype(float),
        "Geography": geo,
        "Gender": rng.choice(["Female", "Male"], n),
        "Age": np.round(rng.gamma(6, 7, n) + 18),
        "Tenure": rng.integers(0, 11, n).astype(float),
        "Balance": np.where(rng.random(n) < 0.35, 0.0, np.round(rng.lognormal(11, 0.6, n), 2)),
        "NumOfProducts": rng.choice([1, 2, 3, 4], n, p=[0.5, 0.45, 0.04, 0.01]).astype(float),
        "IsActiveMember": rng.integers(0, 2, n).astype(float),
        "EstimatedSalary": np.round(rng.uniform(10, 200_000, n), 2),
        "Exited": (rng.random(n) < 0.2).astype(float),
    })
    df.to_csv(path, index=False)
    return df


# (name, cell source on `df` / `seg`, the same in pandas on `p` / `ps`)
OPS = [
    ("filter", 'df.filter("Age > 50 AND Geography = \'Germany\'")?',
     lambda p, ps: p[(p.Age > 50) & (p.Geography == "Germany")]),
    ("group_by", 'df.group_by(&["Geography", "NumOfProducts"], &["avg(Exited) AS churn_rate", "count(*) AS customers"])?',
     lambda p, ps: p.groupby(["Geography", "NumOfProducts"]).agg(churn_rate=("Exited", "mean"), customers=("Exited", "size"))),
    ("value_counts", 'df.value_counts("Geography")?', lambda p, ps: p.Geography.value_counts()),
    ("cut", 'df.cut("Age", &[18.0, 30.0, 40.0, 50.0, 60.0, 100.0])?',
     lambda p, ps: p.assign(Age_band=pd.cut(p.Age, [18, 30, 40, 50, 60, 100]))),
    ("qcut", 'df.qcut("Balance", 4)?', lambda p, ps: p.assign(Balance_band=pd.qcut(p.Balance, 4, duplicates="drop"))),
    ("crosstab", 'df.crosstab("Geography", "NumOfProducts")?', lambda p, ps: pd.crosstab(p.Geography, p.NumOfProducts)),
    ("join", 'df.join(&seg, &["CustomerId"], "left")?', lambda p, ps: p.merge(ps, on="CustomerId", how="left")),
    ("with_columns", 'df.with_columns(&["Balance / EstimatedSalary AS balance_ratio"])?',
     lambda p, ps: p.assign(balance_ratio=p.Balance / p.EstimatedSalary)),
    ("sort", 'df.sort("Balance", true)?', lambda p, ps: p.sort_values("Balance", ascending=False, kind="stable")),
    ("sql", 'df.sql("SELECT Geography, avg(Balance) AS b, count(*) AS n FROM self WHERE Tenure > 2 GROUP BY Geography ORDER BY b DESC")?',
     lambda p, ps: p[p.Tenure > 2].groupby("Geography").agg(b=("Balance", "mean"), n=("Balance", "size")).sort_values("b", ascending=False)),
    ("select", 'df.select(&["CustomerId", "Age", "Exited"])?', lambda p, ps: p[["CustomerId", "Age", "Exited"]]),
    ("drop", 'df.drop(&["Surname"])?', lambda p, ps: p.drop(columns=["Surname"])),
    ("rename", 'df.rename("Exited", "churned")?', lambda p, ps: p.rename(columns={"Exited": "churned"})),
    ("head", 'df.head(10)?', lambda p, ps: p.head(10)),
    ("tail", 'df.tail(10)?', lambda p, ps: p.tail(10)),
    ("sample", 'df.sample(10000, 7)?', lambda p, ps: p.sample(10000, random_state=7)),
    ("describe", 'df.describe()?', lambda p, ps: p.describe()),
    ("corr", 'df.corr()?', lambda p, ps: p.select_dtypes("number").corr()),
    ("concat", 'concat(&[&df, &df])?', lambda p, ps: pd.concat([p, p])),
    ("churn_flag", 'df.with_churn_flag("Exited")?', lambda p, ps: p.assign(churned=(p.Exited == 1).astype(float))),
]


# The same ops as engine requests (`d` and `s` are the handles of the two tables), timed in
# this process through the engine's C function: the work without the kernel's cell overhead.
REQUESTS = {
    "filter": lambda d, s: ("filter", dict(frame=d, condition="Age > 50 AND Geography = 'Germany'")),
    "group_by": lambda d, s: ("group_by", dict(frame=d, keys=["Geography", "NumOfProducts"],
                                               aggs=["avg(Exited) AS churn_rate", "count(*) AS customers"])),
    "value_counts": lambda d, s: ("value_counts", dict(frame=d, column="Geography")),
    "cut": lambda d, s: ("cut", dict(frame=d, column="Age", edges=[18, 30, 40, 50, 60, 100], name=None)),
    "qcut": lambda d, s: ("qcut", dict(frame=d, column="Balance", q=4, name=None)),
    "crosstab": lambda d, s: ("crosstab", dict(frame=d, row="Geography", column="NumOfProducts")),
    "join": lambda d, s: ("join", dict(frame=d, other=s, on=["CustomerId"], how="left")),
    "with_columns": lambda d, s: ("with_columns", dict(frame=d, exprs=["Balance / EstimatedSalary AS balance_ratio"])),
    "sort": lambda d, s: ("sort", dict(frame=d, column="Balance", descending=True)),
    "sql": lambda d, s: ("sql", dict(tables=[["self", d]], query="SELECT Geography, avg(Balance) AS b, count(*) AS n FROM self WHERE Tenure > 2 GROUP BY Geography ORDER BY b DESC")),
    "select": lambda d, s: ("select", dict(frame=d, columns=["CustomerId", "Age", "Exited"])),
    "drop": lambda d, s: ("drop_columns", dict(frame=d, columns=["Surname"])),
    "rename": lambda d, s: ("rename", dict(frame=d, **{"from": "Exited", "to": "churned"})),
    "head": lambda d, s: ("head", dict(frame=d, n=10)),
    "tail": lambda d, s: ("tail", dict(frame=d, n=10)),
    "sample": lambda d, s: ("sample", dict(frame=d, n=10000, seed=7)),
    "describe": lambda d, s: ("describe", dict(frame=d)),
    "corr": lambda d, s: ("corr", dict(frame=d)),
    "concat": lambda d, s: ("concat", dict(frames=[d, d])),
    "churn_flag": lambda d, s: ("churn_flag", dict(frame=d, target="Exited", positive=None, name="churned")),
}


def engine_times(csv, seg_csv):
    sys.path.insert(0, str(REPO / "tests"))
    from test_queries import Engine
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or pathlib.Path.home() / ".cache/churnkit/target")
    e = Engine(target / "release/libchurnkit_engine.so")
    d, s = e("load_csv", path=str(csv))["h"], e("load_csv", path=str(seg_csv))["h"]
    out = {}
    for name, req in REQUESTS.items():
        best = float("inf")
        for _ in range(3):
            method, fields = req(d, s)
            t0 = time.perf_counter()
            r = e(method, **fields)
            best = min(best, time.perf_counter() - t0)
            e("release", h=r["h"])
        out[name] = best
    return out


def main():
    tmp = pathlib.Path(tempfile.mkdtemp())
    csv = tmp / "bank.csv"
    p = table(ROWS, csv)
    ps = p[["CustomerId"]].iloc[::2].assign(segment=lambda d: np.where(d.CustomerId % 3 == 0, "gold", "blue"))
    ps.to_csv(tmp / "segments.csv", index=False)

    sources = [
        f':dep churnkit-cells = {{ path = "{REPO}/churnkit/cells" }}',
        "use churnkit_cells::*;\nlet one = 1;",
        f'let df = load_csv("{csv}")?;\nlet seg = load_csv("{tmp / "segments.csv"}")?;\ndf.height',
    ] + [f"let probe_{k}: i32 = {k} + 1;\nprobe_{k}" for k in range(7)]
    # The floor of a cell without a `let` (as the op cells are: evcxr types no new variable).
    sources += [f"{k} + 1" for k in range(7)]
    sources += [src for _, src, _ in OPS]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    client = NotebookClient(nb, kernel_name="rust", timeout=3600, startup_timeout=600)
    times = []
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            t0 = time.perf_counter()
            client.execute_cell(cell, i)
            times.append(time.perf_counter() - t0)
            err = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
            if "rror" in err or "panicked" in err:
                raise SystemExit(f"cell {i} failed: {err[:500]}")
    trivial = statistics.median(times[3:10])
    floor = statistics.median(times[10:17])
    cells = dict(zip([n for n, _, _ in OPS], times[17:]))

    pandas_t = {}
    for name, _, f in OPS:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            f(p, ps)
            best = min(best, time.perf_counter() - t0)
        pandas_t[name] = best
    t0 = time.perf_counter()
    pd.read_csv(csv)
    read_pandas = time.perf_counter() - t0

    engine_t = engine_times(csv, tmp / "segments.csv")
    print(f"{ROWS:,} rows x 12 columns. Cells on a warm kernel (wall, with the kernel's per-cell cost:"
          f" a cell without `let` {floor:.3f} s, with one {trivial:.3f} s, medians of 7); the op itself"
          f" in the engine and in pandas, in this process (best of 3)\n")
    print("| op | cell s | engine op s | pandas s | engine / pandas |")
    print("|---|---:|---:|---:|---:|")
    for name in cells:
        print(f"| {name} | {cells[name]:.3f} | {engine_t[name]:.4f} | {pandas_t[name]:.4f} | {engine_t[name] / max(pandas_t[name], 1e-6):.2f} |")
    print(f"| load_csv (1M-row table) | {times[2]:.3f} (both tables) | | {read_pandas:.3f} | |")
    print(f"\n`:dep` cell {times[0]:.2f} s, first cell {times[1]:.2f} s, trivial `let` cell {trivial:.3f} s")
    worst = max(cells.values()) - floor
    print(f"slowest op {worst:.3f} s over the floor (goal 0.5 s)")
    print(json.dumps({"rows": ROWS, "floor": floor, "trivial": trivial, "dep": times[0], "first": times[1],
                      "cells": cells, "engine": engine_t, "pandas": pandas_t}), file=sys.stderr)


if __name__ == "__main__":
    main()
