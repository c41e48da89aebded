"""scripts/validate-compose.sh (the static check of the compose stack that CI runs) must pass on
this checkout and fail, naming the right check, on each kind of broken file: a key Compose does
not know, a dependency on a missing service, a Dockerfile error hadolint reports at error level,
and a COPY of a path that is not in the build context."""
import subprocess

import pytest
from conftest import REPO, copy_checkout

SCRIPT = REPO / "scripts/validate-compose.sh"
CHECKS = ["compose config", "compose-spec schema", "hadolint", "build contexts"]


@pytest.fixture()
def tree(tmp_path):
    return copy_checkout(tmp_path)


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
