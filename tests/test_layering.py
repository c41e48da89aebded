"""The layers hold: what each crate depends on (`cargo tree`, normal dependencies only) and what
its source may mention. churnkit-core is the machine-learning core: no network, terminal,
processes or file layout. churnkit-tracking builds on the core's types only. The `churnkit`
library that notebooks load carries neither clap nor indicatif.
"""
import re
import shutil
import subprocess

import pytest
from conftest import REPO

import module_graph

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")


def deps(package):
    r = subprocess.run(["cargo", "tree", "--offline", "--locked", "-p", package, "-e", "normal",
                        "--prefix", "none", "--format", "{p}"],
                       cwd=REPO, capture_output=True, text=True, check=True)
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def test_notebooks_load_no_cli_crates():
    d = deps("churnkit")
    assert "churnkit-core" in d and "churnkit-tracking" in d
    for forbidden in ("clap", "indicatif", "churnkit-cli"):
        assert forbidden not in d, forbidden


def test_cells_compile_against_the_protocol_alone():
    # Every notebook cell compiles against churnkit-cells and what it depends on.
    assert deps("churnkit-cells") == {"churnkit-cells", "churnkit-protocol"}
    assert deps("churnkit-protocol") == {"churnkit-protocol"}
    assert "churnkit-protocol" in deps("churnkit-engine")


def test_unsafe_lives_only_where_the_engine_is_loaded_or_exported():
    # The workspace forbids `unsafe`; the two notebook crates deny it and allow it in one module
    # each: the dlopen side (cells/src/engine.rs) and the C entry points (engine's `mod ffi`).
    allowed = {"cells/src/engine.rs", "engine/src/lib.rs"}
    users = {str(p.relative_to(REPO / "churnkit")) for p in (REPO / "churnkit").rglob("*.rs")
             if re.search(r"\bunsafe\s*(\{|fn|extern)|no_mangle", p.read_text())}
    assert users == allowed, users
    engine = (REPO / "churnkit/engine/src/lib.rs").read_text()
    before_ffi, ffi = engine.split("#[allow(unsafe_code)]\nmod ffi {", 1)
    code = "\n".join(l for l in before_ffi.splitlines() if not l.strip().startswith("//"))
    assert "unsafe" not in code.replace("unsafe_code", ""), "unsafe outside `mod ffi`"
    assert "#[allow(unsafe_code)]\nmod engine;" in (REPO / "churnkit/cells/src/lib.rs").read_text()
    for crate in ("engine", "cells"):
        assert 'unsafe_code = "deny"' in (REPO / "churnkit" / crate / "Cargo.toml").read_text()


def test_the_core_has_no_network_and_tracking_no_workflow():
    core = deps("churnkit-core")
    for forbidden in ("reqwest", "hyper", "churnkit-tracking", "churnkit", "clap", "indicatif"):
        assert forbidden not in core, forbidden
    tracking = deps("churnkit-tracking")
    assert "churnkit-core" in tracking
    for forbidden in ("churnkit", "churnkit-cli", "clap", "indicatif"):
        assert forbidden not in tracking, forbidden


def sources(crate):
    return {p: p.read_text() for p in (REPO / "churnkit" / crate / "src").rglob("*.rs")}


# What the core must not do or know: spawn processes, open sockets, read the terminal or the
# environment, know the workflow's file layout.
CORE_FORBIDDEN = [r"Command::new", r"std::net", r"reqwest", r"IsTerminal", r"/proc/",
                  r"std::env::var", r"\"data/processed", r"\"models/", r"\"metrics/",
                  r"churn_model\.json\"", r"mlruns"]
# Tracking may spawn git for a tag and talk HTTP, but knows no workflow file names.
TRACKING_FORBIDDEN = [r"\"data/processed", r"\"models/", r"\"metrics/", r"churn_model\.json\"",
                      r"preprocessor\.json\"", r"IsTerminal", r"println!", r"eprintln!"]


@pytest.mark.parametrize("crate,patterns", [("core", CORE_FORBIDDEN), ("tracking", TRACKING_FORBIDDEN)])
def test_sources_stay_in_their_layer(crate, patterns):
    hits = []
    for path, text in sources(crate).items():
        # Only code counts: skip comments and the tests at the end of a file.
        code = text.split("#[cfg(test)]")[0]
        code = "\n".join(l for l in code.splitlines() if not l.lstrip().startswith("//"))
        for pat in patterns:
            if re.search(pat, code):
                hits.append(f"{path.relative_to(REPO)}: {pat}")
    assert not hits, hits


def test_the_checks_can_fail(tmp_path):
    # The pattern check itself: a forbidden call in core-like code is found.
    code = 'fn f() { std::process::Command::new("git"); }'
    assert any(re.search(p, code) for p in CORE_FORBIDDEN)


# ---- no import cycles --------------------------------------------------------------------------

CRATES = ["core/src", "src", "tracking/src", "cli/src", "engine/src", "cells/src", "protocol/src"]


@pytest.mark.parametrize("crate", CRATES)
def test_no_import_cycles(crate):
    # Between files, and between a crate's parts (its top-level modules and folders): a reader
    # can then take the parts in order, each needing only those before it.
    edges = module_graph.graph(REPO / "churnkit" / crate)
    assert edges, "no modules found: the graph reader is broken"
    assert module_graph.cycles(edges) == [], "modules that import each other"
    assert module_graph.cycles(module_graph.collapse(edges, 1)) == [], "parts that import each other"


def test_the_core_is_in_folders_that_name_its_parts():
    src = REPO / "churnkit" / "core" / "src"
    parts = {p.name for p in src.iterdir() if p.is_dir()}
    assert {"data", "preprocess", "forest", "metrics", "decisions", "explain", "charts"} <= parts
    flat = sorted(p.name for p in src.glob("*.rs"))
    assert flat == ["error.rs", "lib.rs", "model.rs", "rng.rs", "stats.rs"], flat
    # Charts draw from plain data: they name no metric, model or decision type.
    edges = module_graph.graph(src)
    drawn_from = set().union(*(edges[m] for m in edges if m[:1] == ("charts",)))
    assert not {m for m in drawn_from if m[:1] in {("metrics",), ("model",), ("decisions",), ("forest",)}}


def test_the_cycle_check_can_fail(tmp_path):
    # A cycle through a re-export alias (`crate::plots` is `charts::render`), as evaluate <->
    # plots was, and one between two facade modules, as layout <-> workflow was.
    src = tmp_path / "src"
    (src / "charts").mkdir(parents=True)
    (src / "lib.rs").write_text("pub mod charts;\npub mod evaluate;\npub use charts::render as plots;\n")
    (src / "charts" / "mod.rs").write_text("pub mod render;\n")
    (src / "charts" / "render.rs").write_text("use crate::evaluate::RocCurve;\n")
    (src / "evaluate.rs").write_text("pub struct RocCurve;\nfn f() { crate::plots::roc_chart(); }\n")
    edges = module_graph.graph(src)
    assert module_graph.cycles(edges) == [["charts::render", "evaluate"]]
    (src / "evaluate.rs").write_text("pub struct RocCurve;\n// crate::plots::roc_chart()\n")
    assert module_graph.cycles(module_graph.graph(src)) == []
    (src / "layout.rs").write_text("use crate::{evaluate::RocCurve, workflow::{Trained}};\n")
    (src / "workflow.rs").write_text("fn f() -> &'static str { super::layout::MODEL }\n")
    assert module_graph.cycles(module_graph.graph(src)) == [["layout", "workflow"]]


def test_one_integration_test_binary_per_crate():
    # Every file directly under a crate's tests/ is a binary that links polars: each crate keeps
    # its integration tests as modules of one binary (tests/NAME/main.rs).
    for manifest in (REPO / "churnkit").rglob("Cargo.toml"):
        tests = manifest.parent / "tests"
        if not tests.is_dir():
            continue
        loose = sorted(p.name for p in tests.glob("*.rs"))
        binaries = sorted(p.parent.name for p in tests.glob("*/main.rs"))
        assert not loose and len(binaries) <= 1, (str(tests.relative_to(REPO)), loose, binaries)


def readme_tree():
    """The paths the README's Layout picture names (indentation is nesting, two spaces a level)."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    paths, stack = [], []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        names = line.strip().split("   ")[0].split()[0] if ", " not in line else line.strip().split("   ")[0]
        stack = stack[:depth]
        for name in [n.strip() for n in names.split(",")]:
            paths.append("/".join(stack + [name.rstrip("/")]))
        stack.append(names.split(",")[0].strip().rstrip("/"))
    return paths


def test_the_readme_layout_is_a_picture_of_the_tree():
    paths = readme_tree()
    assert len(paths) > 20, paths
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, f"the README's Layout names paths that do not exist: {missing}"
    # Every crate and every part of the core is in the picture.
    crates = {str(m.parent.relative_to(REPO)) for m in (REPO / "churnkit").rglob("Cargo.toml")}
    parts = {f"churnkit/core/src/{p.name}" for p in (REPO / "churnkit/core/src").iterdir() if p.is_dir()}
    assert not (crates | parts) - set(paths), sorted((crates | parts) - set(paths))
