"""scripts/validate-compose.sh (the static check of the compose stack that CI runs) must pass on
this checkout and fail, naming the right check, on each kind of broken file: a key Compose does
not know, a dependency on a missing service, a Dockerfile error hadolint reports at error level,
and a COPY of a path that is not in the build context."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts/validate-compose.sh"
CHECKS = ["compose config", "compose-spec schema", "hadolint", "build contexts"]


@pytest.fixture()
def tree(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, check=True, capture_output=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = REPO / os.fsdecode(f)
        if src.is_file():
            dst = tmp_path / os.fsdecode(f)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return tmp_path


def validate(root):
    r = subprocess.run([str(SCRIPT), str(root)], capture_output=True, text=True, timeout=300)
    status = {}
    for line in r.stdout.splitlines():
        for check in CHECKS:
            if check in line and line[:4] in ("ok  ", "FAIL"):
                status[check] = line[:4].strip()
    return r.returncode, status, r.stdout + r.stderr


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_this_checkout_passes(tree):
    rc, status, out = validate(tree)
    assert rc == 0, out
    assert status == {c: "ok" for c in CHECKS}, out


# The path check reads Compose's resolved config, so a file Compose rejects fails it too.
@pytest.mark.parametrize("case, failing", [
    ("unknown key", {"compose config", "compose-spec schema", "build contexts"}),
    ("missing service", {"compose config", "build contexts"}),
    ("hadolint error", {"hadolint"}),
    ("missing COPY source", {"build contexts"}),
])
def test_each_kind_of_breakage_fails_its_check(tree, case, failing):
    compose = tree / "docker-compose.yml"
    if case == "unknown key":
        edit(compose, "restart: unless-stopped", "restart: unless-stopped\n    restart_policy: always")
    elif case == "missing service":
        edit(compose, "depends_on:\n      mlflow:", "depends_on:\n      mlfow:")
    elif case == "hadolint error":
        # DL3000 (error level): WORKDIR must be absolute.
        edit(tree / "docker/mlflow.Dockerfile", "WORKDIR /mlflow", "WORKDIR mlflow")
    elif case == "missing COPY source":
        edit(tree / "docker/pipeline.Dockerfile", "COPY churnkit ./churnkit", "COPY churnkit-lib ./churnkit")
    rc, status, out = validate(tree)
    assert rc != 0, out
    assert {c for c, s in status.items() if s == "FAIL"} == failing, out
