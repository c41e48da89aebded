"""Time cells on a fresh evcxr kernel: `:dep churnkit`, loading the sample, then trivial cells.

Usage: .venv/bin/python bench/evcxr_probe.py STATIC BUILD_DIR
  STATIC  1 for evcxr's default static linking of dependencies into every cell, 0 to try
          `:allow_static_linking 0` (dependencies as dylibs)
  BUILD_DIR  an EVCXR_TMPDIR of its own (a cold build the first time)
Prints one JSON line: per-cell seconds and the median of the last ten (trivial) cells; with
evcxr's `:timing` on, the phases of each cell go to stderr.
"""
import json
import os
import pathlib
import statistics
import sys
import time

import nbformat
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]
static, build_dir = sys.argv[1], sys.argv[2]
first = [":timing"] + ([] if static == "1" else [":allow_static_linking 0"])
sources = first + [
    f':dep churnkit = {{ path = "{REPO}/churnkit", features = ["notebook"] }}',
    f'use churnkit::notebook::*;\nlet df = load_csv("{REPO}/data/sample_data.csv")?;',
    "df",
] + [f"let p{k}: i32 = {k} + 1;\np{k}" for k in range(7)] + ["1 + 1"] * 3
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
os.environ.update(EVCXR_TMPDIR=build_dir, EVCXR_CONFIG_DIR=str(REPO / "jupyter-config/evcxr"))
client = NotebookClient(nb, kernel_name="rust", timeout=3600, startup_timeout=600, allow_errors=True)
times = []
with client.setup_kernel():
    for i, cell in enumerate(nb.cells):
        t0 = time.perf_counter()
        client.execute_cell(cell, i)
        times.append(round(time.perf_counter() - t0, 2))
        for o in cell.outputs:
            if o.get("output_type") == "error":
                print(f"cell {i} error: {o.get('evalue', '')[:300]}", file=sys.stderr)
            elif o.get("output_type") == "stream" and "Took" in o.get("text", "") or "phase" in str(o).lower():
                print(f"cell {i} {sources[i][:30]!r}: {o.get('text', o.get('data', ''))}", file=sys.stderr)
print(json.dumps({"static": static, "times": times, "trivial_median": statistics.median(times[-10:])}))
