#!/usr/bin/env python3
"""Clear outputs and execution counts of notebooks in place, so committed notebooks diff cleanly.

Usage: scripts/strip-notebooks.py [--check] notebooks/*.ipynb   (--check: fail if any has outputs)
"""
import json
import sys

check = "--check" in sys.argv
dirty = []
for path in [a for a in sys.argv[1:] if a != "--check"]:
    nb = json.load(open(path))
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            cell["outputs"], cell["execution_count"] = [], None
            changed = True
    if changed:
        dirty.append(path)
        if not check:
            with open(path, "w") as f:
                json.dump(nb, f, indent=1)
                f.write("\n")
if check and dirty:
    sys.exit(f"notebooks with outputs (run scripts/strip-notebooks.py): {', '.join(dirty)}")
