"""churnkit vs scikit-learn, same generated files, same split, one run.

For each size: `churnkit generate`, `churnkit preprocess` (timed, peak RSS), then both forests
(100 trees, depth 10, sqrt features, all cores) fit on the same data/processed files. Fit CPU and
wall time come from each tool's own clock around the fit; peak RSS is each whole process's
(os.wait4). Prints a Markdown table. Run through bench/run.sh.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
BIN = os.environ["CHURNKIT_BIN"]


def run_rss(cmd, cwd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    if status != 0:
        sys.exit(f"{cmd} failed: {err}")
    return wall, ru.ru_maxrss / 1024, out


def one(work, label, data_args, rows=None):
    work.mkdir(parents=True, exist_ok=True)
    row = {"data": label}
    if rows is not None:
        w, r, _ = run_rss([BIN, "-q", "generate", "--rows", str(rows), "--seed", "7", "--output", "data/raw.csv"], work)
        row["generate_s"] = w
    w, r, _ = run_rss([BIN, "-q", "preprocess", *data_args], work)
    row["preprocess_s"], row["preprocess_rss"] = w, r
    w, r, _ = run_rss([BIN, "-q", "train"], work)
    ck = json.loads((work / "models/train_run.json").read_text())["metrics"]
    row["ck"] = {"cpu": ck["training_cpu_time"], "wall": ck["training_time"], "rss": r,
                 "acc": ck["test_accuracy"], "f1": ck["test_f1"], "auc": ck["roc_auc"]}
    w, r, out = run_rss([sys.executable, str(HERE / "sklearn_rf.py"), "data/processed"], work)
    sk = json.loads(out)
    row["sk"] = {"cpu": sk["fit_cpu_s"], "wall": sk["fit_wall_s"], "rss": r,
                 "acc": sk["accuracy"], "f1": sk["f1"], "auc": sk["roc_auc"]}
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--telco", default=os.environ.get("CHURNKIT_TELCO"))
    ap.add_argument("--work", default=os.path.join(os.environ.get("CHURNKIT_CACHE", "/tmp"), "bench"))
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    rows = []
    for n in [int(s) for s in a.sizes.split(",") if s]:
        rows.append(one(work / f"gen{n}", f"generated {n:,}", ["--data", "data/raw.csv"], rows=n))
        print(f"done {n}", file=sys.stderr)
    if a.telco and pathlib.Path(a.telco).exists():
        rows.append(one(work / "telco", "Telco 7,043", ["--data", a.telco, "--target", "Churn"]))
    import sklearn
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"scikit-learn {sklearn.__version__}; churnkit {BIN}\n")
    print("| data | tool | fit CPU s | fit wall s | peak RSS MiB | test acc | test F1 | ROC AUC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        for tool, k in (("churnkit", "ck"), ("scikit-learn", "sk")):
            m = r[k]
            print(f"| {r['data']} | {tool} | {m['cpu']:.2f} | {m['wall']:.2f} | {m['rss']:.0f} | "
                  f"{m['acc']:.4f} | {m['f1']:.4f} | {m['auc']:.4f} |")
        ck, sk = r["ck"], r["sk"]
        print(f"| {r['data']} | **ratio sklearn/churnkit** | **{sk['cpu'] / max(ck['cpu'], 0.01):.1f}x** | "
              f"{sk['wall'] / max(ck['wall'], 1e-3):.1f}x | {sk['rss'] / ck['rss']:.1f}x | | | "
              f"Δ {ck['auc'] - sk['auc']:+.4f} |")
    print("\n| data | generate s | preprocess s | preprocess peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for r in rows:
        g = f"{r['generate_s']:.2f}" if "generate_s" in r else "-"
        print(f"| {r['data']} | {g} | {r['preprocess_s']:.2f} | {r['preprocess_rss']:.0f} |")


if __name__ == "__main__":
    main()
