"""Shared fixtures and helpers of the Python tests.

Optional inputs skip the tests that need them with a reason on a plain clone, and fail them where
scripts/test.sh says they must be there (CHURNKIT_REQUIRE_TELCO, CHURNKIT_REQUIRE_MLFLOW), as the
Rust tests do.
"""
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _optional(what, require_var):
    """Skip (saying why), or fail when `require_var` is set: scripts/test.sh provides `what`."""
    if os.environ.get(require_var):
        pytest.fail(f"{what} is missing but {require_var} is set: scripts/test.sh should have provided it")
    print(f"skipping: {what} not available (scripts/test.sh provides it)", file=sys.stderr)
    pytest.skip(f"{what} not available (scripts/test.sh provides it)")


@pytest.fixture(scope="session")
def repo():
    """The repository root (REPO)."""
    return REPO


@pytest.fixture(scope="session")
def target_dir():
    """Cargo's target directory: $CARGO_TARGET_DIR, else ~/.cache/churnkit/target."""
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or pathlib.Path.home() / ".cache/churnkit/target")


@pytest.fixture(scope="session")
def churnkit_bin(target_dir):
    """The release binary: $CHURNKIT_BIN, else <target_dir>/release/churnkit. Skips if it is not
    built, but fails under scripts/test.sh (which builds it and sets CHURNKIT_REQUIRE_*)."""
    path = os.environ.get("CHURNKIT_BIN") or str(target_dir / "release/churnkit")
    if not os.path.isfile(path):
        if os.environ.get("CHURNKIT_REQUIRE_TELCO") or os.environ.get("CHURNKIT_REQUIRE_MLFLOW"):
            pytest.fail(f"no churnkit binary at {path}, but scripts/test.sh should have built it")
        pytest.skip(f"no churnkit binary at {path} (cargo build --release -p churnkit-cli)")
    return path


@pytest.fixture(scope="session")
def telco():
    """The IBM Telco CSV: $CHURNKIT_TELCO, else ../shared/data/telco-customer-churn.csv beside the checkout."""
    path = pathlib.Path(os.environ.get("CHURNKIT_TELCO") or REPO.parent / "shared/data/telco-customer-churn.csv")
    if not path.is_file():
        _optional(f"the Telco data ({path})", "CHURNKIT_REQUIRE_TELCO")
    return path


@pytest.fixture(scope="session")
def mlflow_uri():
    """The URL of the plain MLflow test server ($CHURNKIT_TEST_MLFLOW_URI)."""
    uri = os.environ.get("CHURNKIT_TEST_MLFLOW_URI")
    if not uri:
        _optional("an MLflow test server (CHURNKIT_TEST_MLFLOW_URI)", "CHURNKIT_REQUIRE_MLFLOW")
    return uri


@pytest.fixture
def workdir(tmp_path):
    """A scratch project: tmp_path with the committed data/sample_data.csv."""
    (tmp_path / "data").mkdir()
    shutil.copy(REPO / "data/sample_data.csv", tmp_path / "data/sample_data.csv")
    return tmp_path


def run_churnkit(bin, cwd, *args, uri=None, check=True):
    """Run the churnkit binary in `cwd` with a clean tracking environment: no MLFLOW_* variable,
    runs in cwd/mlruns, no HTTP retries, and MLFLOW_TRACKING_URI=uri when given. Asserts success
    when `check`. Returns the CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["CHURNKIT_RUNS_DIR"] = str(pathlib.Path(cwd) / "mlruns")
    env["CHURNKIT_HTTP_RETRIES"] = "0"
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    r = subprocess.run([str(bin), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"churnkit {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}"
    return r


def copy_checkout(dest):
    """Copy this checkout's tracked and untracked-but-not-ignored files (what a fresh clone plus
    the working tree's edits hold) into `dest`; skips the test outside a git checkout."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, check=True, capture_output=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = REPO / os.fsdecode(f)
        if src.is_file():
            dst = dest / os.fsdecode(f)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return dest


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def headless_chromium(window="1500,1000"):
    """A Selenium driver for Debian's chromium, headless (the one set-up both browser tests
    use). Skips without chromium and chromedriver, fails instead when CHURNKIT_REQUIRE_BROWSER
    is set (scripts/test.sh installs them). The caller quits it."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not (chromium and driver_bin):
        if os.environ.get("CHURNKIT_REQUIRE_BROWSER"):
            pytest.fail("CHURNKIT_REQUIRE_BROWSER is set but chromium/chromedriver are missing")
        pytest.skip("no chromium + chromedriver (scripts/test.sh installs Debian's)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              f"--window-size={window}"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver_bin), options=opts)
