"""Speed and scale of the whole job, side by side in one run (issue 15's figures).

For each size: `churnkit generate`, `churnkit preprocess` (wall, peak RSS), `churnkit train`
(whole-process CPU from rusage, and the fit alone from the bench_fit example), then on the same data/processed files:
scikit-learn's RandomForestClassifier (fit CPU, and the whole script: read CSV, fit, predict
train and test), LightGBM's random-forest mode with equivalent settings and LightGBM gbdt.
Then predict throughput (bench_predict example, one thread) and, with --big, generate +
pipeline on 10M rows (wall, peak RSS). Prints Markdown tables. Run through bench/scale.sh.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
BIN = os.environ["CHURNKIT_BIN"]
PREDICT_BENCH = os.environ["CHURNKIT_PREDICT_BENCH"]
FIT_BENCH = os.environ["CHURNKIT_FIT_BENCH"]


def run(cmd, cwd, env=None):
    """(wall s, CPU s (user + sys of the process and its children), peak RSS MiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    if status != 0:
        sys.exit(f"{cmd} failed: {err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out


def size(work, rows):
    work.mkdir(parents=True, exist_ok=True)
    r = {"rows": rows}
    run([BIN, "-q", "generate", "--rows", str(rows), "--seed", "7", "--output", "data/raw.csv"], work)
    r["preprocess_wall"], r["preprocess_cpu"], r["preprocess_rss"], _ = run(
        [BIN, "-q", "--no-track", "preprocess", "--data", "data/raw.csv"], work)
    r["train_wall"], r["train_cpu"], r["train_rss"], _ = run([BIN, "-q", "--no-track", "train"], work)
    m = json.loads((work / "models/train_run.json").read_text())["metrics"]
    # train's own fit also scores the training rows as it grows the trees; the fit alone (same
    # trees, checked) is measured apart, and is what every ratio divides by.
    r["fit_scored_cpu"], r["auc"] = m["training_cpu_time"], m["roc_auc"]
    _, _, _, out = run([FIT_BENCH, str(work)], work)
    fit = json.loads(out)
    if not fit["same_trees_as_saved"]:
        sys.exit("bench_fit grew other trees than train")
    r["fit_cpu"] = fit["fit_cpu_s"]
    for tool in ["sklearn", "lgbm-rf", "lgbm-gbdt"]:
        _, cpu, rss, out = run([sys.executable, str(HERE / "peers.py"), tool, "data/processed"], work)
        peer = json.loads(out)
        r[tool] = {"fit_cpu": peer["fit_cpu_s"], "auc": peer["roc_auc"], "script_cpu": cpu, "rss": rss,
                   "predict": peer["predict_rows_per_s_one_core"]}
    _, _, _, out = run([PREDICT_BENCH, str(work)], work)
    r["predict"] = json.loads(out)
    return r


def big(work, rows):
    work.mkdir(parents=True, exist_ok=True)
    g = run([BIN, "-q", "generate", "--rows", str(rows), "--seed", "7", "--output", "data/raw.csv"], work)
    p = run([BIN, "-q", "--no-track", "pipeline", "--data", "data/raw.csv"], work)
    return {"rows": rows, "generate_wall": g[0], "generate_rss": g[2], "pipeline_wall": p[0],
            "pipeline_cpu": p[1], "pipeline_rss": p[2],
            "auc": json.loads((work / "models/train_run.json").read_text())["metrics"]["roc_auc"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--big", type=int, default=0, help="also generate + pipeline this many rows")
    ap.add_argument("--work", default="/tmp/churnkit-scale")
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    rows = [size(work / f"n{n}", n) for n in map(int, a.sizes.split(","))]
    print(json.dumps(rows, indent=1), file=sys.stderr)
    print("| rows | churnkit train CPU s | its fit CPU s (fit + scoring) | train / fit | scikit-learn fit CPU s | "
          "sklearn fit / churnkit fit | sklearn script CPU s | script / churnkit train | "
          "LightGBM rf fit CPU s | rf / churnkit fit | LightGBM gbdt fit CPU s | AUC churnkit / sklearn / rf / gbdt |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        sk, rf, gb = r["sklearn"], r["lgbm-rf"], r["lgbm-gbdt"]
        print(f"| {r['rows']:,} | {r['train_cpu']:.2f} | {r['fit_cpu']:.2f} ({r['fit_scored_cpu']:.2f}) | {r['train_cpu'] / r['fit_cpu']:.2f}x | "
              f"{sk['fit_cpu']:.2f} | **{sk['fit_cpu'] / r['fit_cpu']:.1f}x** | {sk['script_cpu']:.2f} | "
              f"**{sk['script_cpu'] / r['train_cpu']:.1f}x** | {rf['fit_cpu']:.2f} | **{rf['fit_cpu'] / r['fit_cpu']:.1f}x** | "
              f"{gb['fit_cpu']:.2f} | {r['auc']:.4f} / {sk['auc']:.4f} / {rf['auc']:.4f} / {gb['auc']:.4f} |")
    print()
    print("| rows | preprocess wall s | preprocess peak RSS MiB | predict rows/s, one core: churnkit | "
          "scikit-learn | LightGBM rf | LightGBM gbdt |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rows']:,} | {r['preprocess_wall']:.2f} | {r['preprocess_rss']:.0f} | "
              f"{r['predict']['rows_per_s_one_core'] / 1e6:.2f} M | {r['sklearn']['predict'] / 1e6:.3f} M | "
              f"{r['lgbm-rf']['predict'] / 1e6:.2f} M | {r['lgbm-gbdt']['predict'] / 1e6:.2f} M |")
    if a.big:
        b = big(work / f"big{a.big}", a.big)
        print()
        print("| rows | generate wall s | pipeline wall s | pipeline CPU s | pipeline peak RSS MiB | ROC AUC |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {b['rows']:,} | {b['generate_wall']:.1f} | {b['pipeline_wall']:.1f} | {b['pipeline_cpu']:.1f} | "
              f"{b['pipeline_rss']:.0f} | {b['auc']:.4f} |")


if __name__ == "__main__":
    main()
