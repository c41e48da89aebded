"""Execute both notebooks on the real evcxr Rust kernel through nbclient and check what they show.

The project is laid out in a temporary directory (data/, notebooks/, churnkit -> this crate),
`churnkit pipeline` trains the model in models/ and logs to the MLflow test server, then each
notebook runs cell by cell: it loads the sample, preprocesses, trains (the sweep) and evaluates in
memory. A cell fails the test if it errors, if its stderr shows a Rust panic
(evcxr keeps going after one), or if expected outputs are missing. Executed copies and timings go
to $CHURNKIT_CACHE/notebooks-executed/.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import time

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from conftest import REPO

CACHE = pathlib.Path(os.environ.get("CHURNKIT_CACHE", pathlib.Path.home() / ".cache/churnkit"))
REQUIRED = bool(os.environ.get("CHURNKIT_REQUIRE_NOTEBOOKS"))
NOISE = re.compile(r"^\s*(Compiling|Checking|Finished|Downloaded|Downloading|Updating|Locking|Adding|Blocking|Loading startup)\b")


def rust_kernel_available():
    try:
        KernelSpecManager().get_kernel_spec("rust")
        return True
    except NoSuchKernel:
        return False


if REQUIRED and not rust_kernel_available():
    raise RuntimeError("CHURNKIT_REQUIRE_NOTEBOOKS is set but the 'rust' kernel is missing: run scripts/jupyter-setup.sh")
pytestmark = pytest.mark.skipif(not rust_kernel_available(), reason="no Rust kernel (run scripts/jupyter-setup.sh)")


@pytest.fixture(scope="module")
def project(tmp_path_factory, churnkit_bin):
    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    shutil.copy(REPO / "data/sample_data.csv", root / "data/sample_data.csv")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    (root / "churnkit").symlink_to(REPO / "churnkit")
    env = dict(os.environ)
    if os.environ.get("CHURNKIT_TEST_MLFLOW_URI"):
        env["MLFLOW_TRACKING_URI"] = os.environ["CHURNKIT_TEST_MLFLOW_URI"]
    env["CHURNKIT_RUNS_DIR"] = str(root / "mlruns")
    r = subprocess.run([churnkit_bin, "-q", "pipeline"], cwd=root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return root, env


def outputs_text(cell, kind):
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == kind:
            out.append(o.get("text", ""))
    return "".join(out)


def html(cell):
    return "".join(
        o.get("data", {}).get("text/html", "") if isinstance(o.get("data", {}).get("text/html", ""), str)
        else "".join(o["data"]["text/html"])
        for o in cell.get("outputs", []) if "data" in o
    )


def images(cell):
    n = 0
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        n += 1 if "image/png" in data or "image/svg+xml" in data else 0
        h = data.get("text/html", "")
        h = "".join(h) if isinstance(h, list) else h
        n += h.count("data:image/png;base64,")
    return n


def run_notebook(name, root, env, tag=""):
    path = root / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="rust", timeout=3600, startup_timeout=600,
                            resources={"metadata": {"path": str(path.parent)}})
    # The kernel inherits this process's environment: point it at the test server.
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    times = {}
    try:
        t0 = time.perf_counter()
        with client.setup_kernel():
            startup = time.perf_counter() - t0
            for i, cell in enumerate(nb.cells):
                c0 = time.perf_counter()
                client.execute_cell(cell, i)
                times[i] = time.perf_counter() - c0
                err = outputs_text(cell, "stderr")
                assert "panicked at" not in err, f"{name} cell {i} panicked:\n{err}"
                # evcxr prints an error returned through `?` to stderr and carries on: any
                # stderr line but cargo's progress is a failure.
                bad = [l for l in err.splitlines() if l.strip() and not NOISE.match(l)]
                assert not bad, f"{name} cell {i} wrote to stderr:\n{err}"
            total = time.perf_counter() - t0
            # Trivial cells on the warm kernel, for the timing figures (not kept in the copy).
            trivial = []
            n_cells = len(nb.cells)
            for k in range(7):
                probe = nbformat.v4.new_code_cell(f"let probe_{k}: i32 = {k} + 1;\nprobe_{k}")
                nb.cells.append(probe)
                c0 = time.perf_counter()
                client.execute_cell(probe, len(nb.cells) - 1)
                trivial.append(time.perf_counter() - c0)
                assert str(k + 1) in json.dumps(nb.cells[-1].outputs), nb.cells[-1].outputs
            del nb.cells[n_cells:]
    finally:
        os.environ.clear()
        os.environ.update(old)
    out_dir = CACHE / "notebooks-executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_name = f"{tag}-{name}" if tag else name
    nbformat.write(nb, out_dir / out_name)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timing = {
        "notebook": name,
        "kernel_startup_s": round(startup, 2),
        "total_s": round(total, 2),
        "dep_cell_s": round(times[code_cells[0]], 2),
        "first_let_cell_s": round(times[code_cells[1]], 2),
        "trivial_cell_median_s": round(statistics.median(trivial), 3),
        "cells_s": {i: round(t, 2) for i, t in times.items()},
    }
    (out_dir / (out_name + ".timings.json")).write_text(json.dumps(timing, indent=1))
    print(json.dumps(timing))
    return nb


def code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def check_exploration(nb, rows, cols, n_numeric, n_categorical):
    cells = code(nb)
    # cells: 0 :dep, 1 setup, 2 df, 3 summary, 4 churn, 5 schema + tests, 6 numeric charts,
    # 7 churn rates + correlations, 8 importance, 9 evaluation, 10 survival curves,
    # 11 hazard ratios, 12 one customer's curve and reasons, 13 drift of a batch, 14 runs,
    # 15 compare
    assert "<table" in html(cells[2]) and f"shape: ({rows}, {cols})" in html(cells[2])
    summary = html(cells[3])
    assert summary.count("<table") == 2 and "mean" in summary and "missing" in summary
    assert images(cells[4]) == 1
    tests = html(cells[5])
    assert f"{n_numeric} numeric, {n_categorical} categorical features" in tests, tests[:300]
    assert "chi-square" in tests and "mann-whitney-u" in tests
    assert images(cells[6]) == min(n_numeric, 4)
    assert images(cells[7]) == min(n_categorical, 4) + 1
    assert images(cells[8]) == 1 and "importance" in html(cells[8])
    assert images(cells[9]) == 3 and "weighted avg" in html(cells[9])
    curves = html(cells[10])
    assert images(cells[10]) == 1 and f"{rows} customers" in curves and "log-rank p = " in curves, curves[:400]
    assert "Month-to-month" in curves and "median_lifetime" in curves
    hazards = html(cells[11])
    assert images(cells[11]) == 1 and "hazard_ratio" in hazards and "Contract=" in hazards, hazards[:400]
    assert images(cells[12]) == 2 and "Customer 0" in html(cells[12])
    # The whole table against its own training rows: nothing drifts.
    batch = html(cells[13])
    assert images(cells[13]) == 1 and f"0 of {n_numeric + n_categorical} features drifted" in batch, batch[:400]
    runs = html(cells[14])
    assert "train-random-forest-d10-n100" in runs and "metrics.roc_auc" in runs, runs[:500]
    assert "Best run by ROC AUC" in html(cells[15])
    return cells


def test_exploration_notebook(project):
    root, env = project
    cells = check_exploration(run_notebook("exploration.ipynb", root, env), 100, 8, 4, 2)
    assert "Age<br/>" in html(cells[2]) and "f64" in html(cells[2])
    # The pipeline trained on this table: its model and its own split are shown (Phase 5).
    model = html(cells[8])
    assert "scores: the pipeline&#39;s model" in model and "churn_probability" in model, model[:300]


def test_exploration_notebook_on_telco(project, telco):
    root, env = project
    env = dict(env, CHURNKIT_DATA=str(telco), CHURNKIT_TARGET="Churn")
    cells = check_exploration(run_notebook("exploration.ipynb", root, env, tag="telco"), 7043, 21, 4, 15)
    assert "customerID" in html(cells[5]) and "string id" in html(cells[5])
    # The pipeline's model reads the sample's columns, not Telco's: one is trained here.
    assert "a model trained here" in html(cells[8]) and "churn_probability" in html(cells[8])
    # TotalCharges has 11 blank cells in the Telco file: counted as missing.
    assert re.search(r"TotalCharges</td><td[^>]*>11<", html(cells[3])), html(cells[3])[-1500:]


def check_analysis(nb, rows, target_values):
    cells = code(nb)
    # cells: 0 :dep, 1 setup, 2 load + flag, 3 columns, 4 segments, 5 tenure bands, 6 join,
    # 7 cross-validation, 8 scoring, 9 the run and search_runs
    head = html(cells[2])
    assert "shape: (5, " in head and "churned" in head, head[:400]
    columns = html(cells[3])
    assert "id: " in columns and "segment: " in columns and "chi-square" in columns, columns[:600]
    segments = html(cells[4])
    assert segments.count("<table") == 3 and "churn_rate" in segments, segments[:600]
    assert f"<td>{rows}</td>" in segments or f">{rows}<" in segments, segments[:800]
    bands = html(cells[5])
    assert "(-1, 6]" in bands and "(6, 12]" in bands and images(cells[5]) == 1, bands[:800]
    # Bands in their order, not as text sorts them: (6, 12] before (12, 24].
    assert bands.index("(6, 12]") < bands.index("(12, 24]")
    joined = html(cells[6])
    assert "tier" in joined and "spend_to_date" in joined and "[" in joined, joined[:800]
    cv = html(cells[7])
    assert cv.count("<table") == 2 and "mean" in cv and "sd" in cv and "log_loss" in cv, cv[:600]
    assert "5-fold cross-validated" in cv and ("a real difference" in cv or "not a real difference" in cv)
    scored = html(cells[8])
    assert "churn_probability" in scored and "reason_2_feature" in scored and "score_decile" in scored, scored[:800]
    found = html(cells[9])
    assert "segments-by-" in found and "metrics.top_segment_lift" in found, found[:800]
    return cells


def test_analysis_notebook(project):
    root, env = project
    cells = check_analysis(run_notebook("analysis.ipynb", root, env), 100, "0/1")
    # The sample is the table the pipeline trained on: its model scores it.
    assert "from the pipeline&#39;s model" in html(cells[8])


def test_analysis_notebook_on_telco(project, telco):
    root, env = project
    env = dict(env, CHURNKIT_DATA=str(telco), CHURNKIT_TARGET="Churn")
    cells = check_analysis(run_notebook("analysis.ipynb", root, env, tag="telco"), 7043, "Yes/No")
    assert "segment: Contract" in html(cells[3]), html(cells[3])[:600]
    # The pipeline's model was trained on the sample's columns: the notebook says so and trains.
    assert "a model trained here" in html(cells[8])


def test_experiment_comparison_notebook(project):
    root, env = project
    nb = run_notebook("experiment_comparison.ipynb", root, env)
    cells = code(nb)
    # cells: 0 :dep, 1 setup, 2 sweep, 3 runs, 4 charts, 5 best, 6 the champion
    sweep = html(cells[2])
    assert "shape: (7, 12)" in sweep and "max_depth" in sweep and "min_samples_leaf" in sweep
    runs = html(cells[3])
    assert re.search(r"shape: \(\d+, \d+\)", runs) and "train-random-forest-d3-n100" in runs
    assert images(cells[4]) == 4
    best = html(cells[5])
    assert "Best: train-random-forest-d" in best and images(cells[5]) == 1
    champion = html(cells[6])
    assert re.search(r"churn-notebook version \d+ is the champion", champion), champion[:600]
    assert "champion" in champion and "churn_probability" in champion and "shape: (100, 3)" in champion, champion[:1500]


def test_modeling_notebook(project):
    root, env = project
    nb = run_notebook("modeling.ipynb", root, env)
    cells = code(nb)
    # cells: 0 :dep, 1 setup, 2 tests, 3 charts, 4 baseline, 5 grid, 6 feature engineering,
    # 7 decisions (gains, profit, lift, calibration), 8 one customer's reasons, the mean |SHAP|,
    # the beeswarm, Gini and permutation importance
    tests = html(cells[2])
    assert "shape: (6, 7)" in tests and "chi-square" in tests and "mann-whitney-u" in tests, tests[:400]
    assert images(cells[3]) == 4
    assert "Baseline: test F1" in html(cells[4]) and images(cells[4]) == 1
    grid = html(cells[5])
    assert "shape: (6, 12)" in grid and "min_samples_leaf" in grid, grid[:400]
    compared = html(cells[6])
    assert "ratio_feature" in compared or "n_features" in compared, compared[:600]
    decisions = html(cells[7])
    assert "hold" in decisions and "profit-optimal on the out-of-bag scores" in decisions, decisions[:600]
    assert "cumulative_capture" in decisions and images(cells[7]) == 4
    assert images(cells[8]) == 5 and "Permutation importance" not in decisions


def test_the_kernelspec_survives_its_kernels(tmp_path):
    """evcxr_jupyter 0.22 re-installs a plain kernel.json over the spec under $JUPYTER_PATH when
    the spec has no (or another) version.txt; that drops EVCXR_TMPDIR, and every later kernel
    rebuilds the dependencies from scratch. scripts/jupyter-setup.sh installs evcxr's own
    version.txt beside our spec: three kernels in a row leave it as it is and see the build
    directory."""
    from jupyter_client.manager import start_new_kernel

    spec = KernelSpecManager().get_kernel_spec("rust")
    kernel_json = pathlib.Path(spec.resource_dir) / "kernel.json"
    before = kernel_json.read_text()
    tmpdir = json.loads(before)["env"]["EVCXR_TMPDIR"]
    env = dict(os.environ, JUPYTER_PATH=str(pathlib.Path(spec.resource_dir).parents[1]))
    for i in range(3):
        km, kc = start_new_kernel(kernel_name="rust", env=env, cwd=str(tmp_path))
        try:
            seen = []
            kc.execute_interactive('std::env::var("EVCXR_TMPDIR").unwrap_or_default()', timeout=120,
                                   output_hook=lambda m: seen.append(m))
            shown = "".join(str(m["content"].get("data", {}).get("text/plain", "")) for m in seen)
            assert tmpdir in shown, (i, shown)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        assert kernel_json.read_text() == before, f"kernel {i + 1} rewrote {kernel_json}"


def test_lab_renders_an_executed_notebook_in_a_real_browser(project, tmp_path):
    """Jupyter Lab started the way the README says (scripts/lab.sh, in a copy of this checkout),
    opened in headless Chromium: the executed exploration notebook's tables and charts are
    rendered in the page (HTML tables laid out, PNGs decoded), not only present in the JSON."""
    from conftest import copy_checkout, free_port, headless_chromium

    root, env = project
    checkout = copy_checkout(tmp_path / "checkout")
    for name in ("exploration.ipynb", "analysis.ipynb"):
        executed = CACHE / "notebooks-executed" / name
        if not executed.exists():
            run_notebook(name, root, env)
        shutil.copy(executed, checkout / "notebooks" / f"executed-{name}")
    lab_port, mlflow_port, token = free_port(), free_port(), "browser-test"
    lab_env = dict(os.environ, JUPYTER_PORT=str(lab_port), MLFLOW_PORT=str(mlflow_port), JUPYTER_TOKEN=token,
                   CHURNKIT_MLFLOW_DIR=str(tmp_path / "mlflow"), CHURNKIT_VENV=str(REPO / ".venv"),
                   # The copy shares this checkout's venv: its kernelspec must keep pointing here.
                   CHURNKIT_EVCXR_CONFIG_DIR=str(REPO / "jupyter-config/evcxr"))
    lab_env.pop("MLFLOW_TRACKING_URI", None)
    lab = subprocess.Popen(["bash", "scripts/lab.sh"], cwd=checkout, env=lab_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    driver = None
    try:
        out = []
        for line in lab.stdout:
            out.append(line)
            if line.startswith("lab: ready"):
                break
        else:
            pytest.fail("lab.sh ended before Lab was ready:\n" + "".join(out))
        driver = headless_chromium("1400,1800")
        driver.get(f"http://127.0.0.1:{lab_port}/lab/tree/executed-exploration.ipynb?token={token}")
        # Only the notebook on show: Lab keeps earlier documents open in hidden tabs.
        count = """const root = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)') || document;
        return {
            tables: [...root.querySelectorAll('.jp-OutputArea-output table')].filter(t => t.getBoundingClientRect().width > 100).length,
            images: [...root.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.complete && i.naturalWidth > 100).length,
            text: (root.querySelector('.jp-Notebook') || document.body).textContent,
            // A table wider than its output area must sit in a box that scrolls sideways, or its
            // last columns are cut off.
            cut: [...root.querySelectorAll('.jp-OutputArea-output table')].filter(t => {
                const area = t.closest('.jp-OutputArea-output');
                if (t.getBoundingClientRect().right <= area.getBoundingClientRect().right + 1) return false;
                for (let e = t.parentElement; e && e !== area.parentElement; e = e.parentElement) {
                    const o = getComputedStyle(e).overflowX;
                    if ((o === 'auto' || o === 'scroll') && e.scrollWidth > e.clientWidth) return false;
                }
                return true;
            }).map(t => t.innerText.slice(0, 60))
        };"""
        deadline, seen = time.time() + 120, {}
        while time.time() < deadline:
            seen = driver.execute_script(count)
            if seen["tables"] >= 4 and seen["images"] >= 9:
                break
            time.sleep(1)
        shots = CACHE / "browser"
        shots.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shots / "exploration-in-lab.png"))
        assert seen["tables"] >= 4 and seen["images"] >= 9, {k: v for k, v in seen.items() if k != "text"}
        # The rendered page holds the notebook's words, not raw JSON or escaped HTML.
        assert "Churn exploration" in seen["text"] and "Data summary" in seen["text"], seen["text"][:500]
        assert "&lt;table" not in seen["text"] and "data:image/png" not in seen["text"]
        assert seen["cut"] == [], f"tables cut off: {seen['cut']}"
        # The analysis notebook: its query results render as tables, none cut off.
        driver.get(f"http://127.0.0.1:{lab_port}/lab/tree/executed-analysis.ipynb?token={token}")
        deadline = time.time() + 120
        while time.time() < deadline:
            seen = driver.execute_script(count)
            if "A churn analysis of your own" in seen["text"] and seen["tables"] >= 12:
                break
            time.sleep(1)
        driver.save_screenshot(str(shots / "analysis-in-lab.png"))
        assert seen["tables"] >= 12 and seen["images"] >= 1, {k: v for k, v in seen.items() if k != "text"}
        assert "churn_rate" in seen["text"] and "cross-validated" in seen["text"], seen["text"][:500]
        assert seen["cut"] == [], f"tables cut off: {seen['cut']}"
        spec = json.loads((pathlib.Path(KernelSpecManager().get_kernel_spec("rust").resource_dir) / "kernel.json").read_text())
        assert spec["env"]["EVCXR_CONFIG_DIR"] == str(REPO / "jupyter-config/evcxr"), spec
    finally:
        if driver:
            driver.quit()
        os.killpg(lab.pid, signal.SIGINT)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
