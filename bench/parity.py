"""churnkit's defaults against scikit-learn with a sensible, hand-written schema, on raw tables.

For each table and each of a few outer stratified splits (25% held out, seeds 0, 1, ...):
train.csv and test.csv are written with the raw text untouched. churnkit runs its *default* `pipeline --target T --final`
on train.csv (its own inference, missing handling and evaluation split, then a refit on every
training row) and `predict` on test.csv. scikit-learn's RandomForestClassifier (same
hyperparameters: 100 trees, max_depth 10, sqrt features, bootstrap) is fitted on the same
train.csv rows with a schema a careful person would write for that table: ids and names
dropped, missing markers as NaN, impossible values as NaN, categoricals ordinal-encoded in
sorted order, missing values left to the forest (scikit-learn >= 1.4). Both are repeated over
forest seeds on each split, and the mean held-out ROC AUCs over all splits and seeds compared
(one split's mean still moves by about 0.002 with which rows it holds out).

Usage: python bench/parity.py CHURNKIT_BIN WORKDIR [--telco FILE] [--splits 3] [--seeds 4]
Prints a markdown table, then one JSON line per table.
"""
import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OrdinalEncoder

NA = ["NA", "N/A", "n/a", "#N/A", "NaN", "nan", "-nan", "null", "NULL", "Null", "None", "<NA>", "?", ""]


def sensible(name):
    """The hand-written schema of each table: (target, positive, dropped, categorical,
    valid ranges). Everything else is numeric."""
    if name == "telco":
        cats = ["gender", "Partner", "Dependents", "PhoneService", "MultipleLines", "InternetService",
                "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
                "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod"]
        return "Churn", "Yes", ["customerID"], cats, {"tenure": (0, None)}
    if name.startswith("guide"):
        return "Churn", "1", ["CustomerID"], ["Contract", "PaymentMethod"], {"Age": (0, 120), "Tenure": (0, None)}
    if name.startswith("messy"):
        return ("Churn", "Yes", ["RowNumber", "CustomerID", "AccountNo", "Surname", "Country"],
                ["Gender", "Contract", "PaymentMethod", "PaperlessBilling"], {"Age": (0, 120), "Tenure": (0, None)})
    raise ValueError(name)


def sklearn_auc(train, test, name, seed):
    target, positive, dropped, cats, ranges = sensible(name)
    frames = []
    for df in (train, test):
        df = df.drop(columns=dropped)
        y = (df.pop(target) == positive).astype(int).to_numpy()
        for c in df.columns:
            if c not in cats:
                df[c] = pd.to_numeric(df[c].str.strip().replace(NA, np.nan))
            else:
                df[c] = df[c].str.strip().replace(NA, np.nan)
        for c, (lo, hi) in ranges.items():
            bad = (df[c] < lo) if lo is not None else False
            if hi is not None:
                bad = bad | (df[c] > hi)
            df.loc[bad, c] = np.nan
        # TotalCharges = tenure x MonthlyCharges, where the guide's tables have both.
        t = next((c for c in df.columns if c.lower() == "totalcharges"), None)
        ten = next((c for c in df.columns if c.lower() == "tenure"), None)
        m = next((c for c in df.columns if c.lower() == "monthlycharges"), None)
        if t and ten and m:
            df[t] = df[t].fillna(df[ten] * df[m])
        frames.append((df, y))
    (xtr, ytr), (xte, yte) = frames
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                         encoded_missing_value=np.nan)
    if cats:
        xtr[cats] = enc.fit_transform(xtr[cats].astype(object))
        xte[cats] = enc.transform(xte[cats].astype(object))
    rf = RandomForestClassifier(n_estimators=100, max_depth=10, max_features="sqrt",
                                random_state=seed, n_jobs=-1)
    rf.fit(xtr.to_numpy(float), ytr)
    return roc_auc_score(yte, rf.predict_proba(xte.to_numpy(float))[:, 1])


def churnkit_auc(bin, work, test, name, seed):
    target, positive, *_ = sensible(name)
    run = lambda *a: subprocess.run([bin, "-q", "--no-track", *map(str, a)], cwd=work, check=True,
                                    capture_output=True, text=True)
    run("pipeline", "--data", "train.csv", "--target", target, "--seed", seed, "--final")
    run("predict", "--input", "test.csv", "--output", "scored.csv")
    scored = pd.read_csv(work / "scored.csv")
    y = (test[target].str.strip() == positive).astype(int).to_numpy()
    return roc_auc_score(y, scored["churn_probability"])


def compare(bin, work, source, name, splits=3, seeds=4):
    """Mean held-out ROC AUC of churnkit's defaults and of scikit-learn over `splits` outer
    splits and `seeds` forest seeds on each."""
    work = pathlib.Path(work) / name
    work.mkdir(parents=True, exist_ok=True)
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    target, positive, *_ = sensible(name)
    ours, theirs = [], []
    for split in range(splits):
        train, test = train_test_split(raw, test_size=0.25, stratify=raw[target], random_state=split)
        train.to_csv(work / "train.csv", index=False)
        test.drop(columns=[target]).to_csv(work / "test.csv", index=False)
        ours.append([churnkit_auc(bin, work, test, name, s) for s in range(1, seeds + 1)])
        theirs.append([sklearn_auc(train, test, name, s) for s in range(1, seeds + 1)])
    return {"table": name, "rows": len(raw), "test_rows": len(test), "churnkit": float(np.mean(ours)),
            "sklearn": float(np.mean(theirs)), "churnkit_by_split": np.mean(ours, axis=1).tolist(),
            "sklearn_by_split": np.mean(theirs, axis=1).tolist()}


def tables(bin, work, telco=None):
    """The tables of the comparison: generated guide and messy tables, and Telco if given."""
    work = pathlib.Path(work)
    work.mkdir(parents=True, exist_ok=True)
    out = []
    for shape, rows in [("guide", 20_000), ("messy", 10_000)]:
        path = work / f"{shape}.csv"
        subprocess.run([bin, "-q", "generate", "--rows", str(rows), "--seed", "3", "--shape", shape,
                        "--output", str(path)], check=True)
        out.append((f"{shape}-{rows // 1000}k", path))
    if telco:
        out.append(("telco", pathlib.Path(telco)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("work")
    ap.add_argument("--telco")
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=4)
    a = ap.parse_args()
    results = [compare(a.bin, a.work, path, name, a.splits, a.seeds)
               for name, path in tables(a.bin, a.work, a.telco)]
    print("| table | rows | held-out rows | churnkit defaults | scikit-learn, sensible schema | difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['table']} | {r['rows']:,} | {r['test_rows']:,} | {r['churnkit']:.4f} | {r['sklearn']:.4f} "
              f"| {r['churnkit'] - r['sklearn']:+.4f} |")
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    sys.exit(main())
