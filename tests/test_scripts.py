"""The shell helpers of scripts/lib.sh that the scripts rely on, on real processes (a few seconds):

- the cleanup of scripts/test.sh (jobs_init, job_start, job_run, at_exit): after SIGTERM, SIGINT, a
  failing step or a normal end, no process the script started survives, even one that left its
  job's session, and the exit status is kept;
- with_lock: two holders never overlap, and the lock is free again when its holder is killed;
  jupyter-setup.sh and venv.sh run twice at once install once (with stand-ins for cargo and pip);
- wait_http against a real local HTTP server, a dead port, an error status and a dead process;
- mlflow_start / mlflow_stop and scripts/mlflow-server.sh with a stand-in `mlflow` (a tiny HTTP
  server with a worker process), so every path runs in seconds; test.sh starts the real ones.
"""
import hashlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import REPO, free_port, port_open

LIB = REPO / "scripts/lib.sh"


def real_engines():
    """The suite's own engine libraries: the build output and the copy the kernel loads."""
    target = os.environ.get("CARGO_TARGET_DIR")
    paths = [pathlib.Path(target) / "release/libchurnkit_engine.so"] if target else []
    if os.environ.get("CHURNKIT_ENGINE"):
        paths.append(pathlib.Path(os.environ["CHURNKIT_ENGINE"]))
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in paths if p.is_file()}


# Taken when this file's first test starts (not at collection: a real build by another file's
# test, e.g. Lab's set-up in the notebook tests, may rebuild the engine legitimately before);
# the last test of the file compares.
ENGINES_BEFORE = {}


@pytest.fixture(scope="module", autouse=True)
def engines_before():
    ENGINES_BEFORE.update(real_engines())
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


# A runner may start the suite with SIGINT ignored (e.g. as a background job of a non-interactive
# shell). Children inherit an ignored signal, and bash cannot trap one that was ignored when it
# started: give the scripts under test the disposition a terminal's Ctrl-C meets.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# What a script under test must not inherit from the suite: its caches and build directories
# (a fake `cargo build` given the suite's CARGO_TARGET_DIR once wrote into the real engine), its
# venv and kernel settings. Each test gives the scripts its own, under tmp_path.
INHERITED = ("MLFLOW_", "CHURNKIT_", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "EVCXR_",
             "JUPYTER_", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "VIRTUAL_ENV")


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    e.update(LIB=str(LIB), CHURNKIT_KILL_GRACE="1")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def bash(script, timeout=60, **extra):
    return subprocess.run(["bash", "-c", script], env=env(**extra), capture_output=True, text=True,
                          timeout=timeout)


def stat(pid):
    """(state, ppid, pgrp, session) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def alive(pid):
    s = stat(pid)
    return s is not None and s[0] != "Z"


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def descendants(root):
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit() and (s := stat(p)) and s[0] != "Z":
            children.setdefault(s[1], []).append(int(p))
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def wait_for(cond, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_all(pids):
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass




# ---- cleanup ------------------------------------------------------------------------------------

# Started the way scripts/test.sh starts things: background jobs (one with a process tree whose
# children ignore SIGINT, as `&` children of a script do; one whose child leaves the job's session,
# as MLflow servers and Jupyter kernels do), then a foreground step.
CLEANUP_SCRIPT = textwrap.dedent(r"""
    set -euo pipefail
    source "$LIB"
    jobs_init
    at_exit echo "at_exit ran"
    job_start bash -c 'sleep 300 & sleep 300 & wait'
    job_start bash -c 'setsid sleep 301 & wait'
    touch "$OUT/ready"
    case "$MODE" in
      fail) job_run bash -c 'until [ -e "$OUT/go" ]; do sleep 0.05; done; exit 3' ;;
      end)  job_run bash -c 'until [ -e "$OUT/go" ]; do sleep 0.05; done' ;;
      *)    job_run sleep 302 ;;
    esac
    echo "not reached on a signal or a failure"
""")


@pytest.mark.parametrize("how, status", [("SIGTERM", 143), ("SIGINT", 130), ("fail", 3), ("end", 0)])
def test_cleanup_leaves_no_process_running(tmp_path, how, status):
    script = tmp_path / "job.sh"
    script.write_text(CLEANUP_SCRIPT)
    log = tmp_path / "out.log"
    with open(log, "w") as out:
        p = subprocess.Popen(["bash", str(script)], stdout=out, stderr=subprocess.STDOUT,
                             env=env(OUT=tmp_path, MODE=how), start_new_session=True)
    started = set()
    try:
        wait_for(lambda: (tmp_path / "ready").exists(), what="the script to start its jobs")

        def all_started():
            started.update(descendants(p.pid))
            cmds = [cmdline(d) for d in started]
            return cmds.count("sleep 300") == 2 and "sleep 301" in cmds and len(started) >= 6
        wait_for(all_started, what="the jobs' processes")
        escaped = [d for d in started if cmdline(d) == "sleep 301"][0]
        assert stat(escaped)[3] == escaped, "the test needs a process that left its job's session"

        t0 = time.monotonic()
        if how.startswith("SIG"):
            p.send_signal(getattr(signal, how))  # to the script alone, as a CI timeout does
        else:
            (tmp_path / "go").touch()
        rc = p.wait(timeout=30)
        elapsed = time.monotonic() - t0
        output = log.read_text()
        assert rc == status, output
        survivors = {d: cmdline(d) for d in started if alive(d)}
        assert not survivors, f"still running after the script ended: {survivors}\n{output}"
        assert "at_exit ran" in output, output
        assert ("not reached" in output) == (how == "end"), output
        assert elapsed < 15, elapsed
    finally:
        kill_all(started | {p.pid})


def test_a_job_is_interrupted_like_ctrl_c_first(tmp_path):
    """The cleanup's first signal is SIGINT and reaches the job (not ignored as in plain `&`
    children), so tools like pytest and cargo can clean up."""
    script = tmp_path / "job.sh"
    script.write_text(textwrap.dedent(r"""
        set -euo pipefail
        source "$LIB"
        jobs_init
        job_start bash -c 'trap "echo got-INT > \"$OUT/int\"; exit 1" INT; touch "$OUT/ready"; while :; do sleep 0.05; done'
        job_run sleep 300
    """))
    p = subprocess.Popen(["bash", str(script)], env=env(OUT=tmp_path, CHURNKIT_KILL_GRACE=5),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / "ready").exists(), what="the job")
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 143
        assert (tmp_path / "int").read_text().strip() == "got-INT"
        assert time.monotonic() - t0 < 4, "the job needed more than SIGINT"
    finally:
        if alive(p.pid):
            os.killpg(p.pid, signal.SIGKILL)


# ---- locks --------------------------------------------------------------------------------------

def intervals(log):
    """{who: (start, end)} from 'WHO start|end TIME' lines."""
    out = {}
    for line in log.read_text().splitlines():
        who, what, t = line.split()
        out.setdefault(who, {})[what] = float(t)
    return {w: (d["start"], d["end"]) for w, d in out.items()}


def test_with_lock_serialises_two_holders(tmp_path):
    log = tmp_path / "log"
    script = r"""
        source "$LIB"
        stub() { echo "$WHO start $(date +%s.%N)" >> "$LOG"; sleep 1; echo "$WHO end $(date +%s.%N)" >> "$LOG"; }
        with_lock "$LOCK" stub
    """
    procs = [subprocess.Popen(["bash", "-c", script], env=env(WHO=w, LOG=log, LOCK=tmp_path / "locks/x.lock"),
                              stderr=subprocess.PIPE, text=True) for w in "ab"]
    errs = [p.communicate(timeout=30)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    (s1, e1), (s2, e2) = sorted(intervals(log).values())
    assert e1 <= s2, f"the two holders overlapped: {(s1, e1)} {(s2, e2)}"
    assert sum("waiting for the lock" in e for e in errs) == 1, errs


def test_with_lock_is_released_when_its_holder_is_killed(tmp_path):
    lock = tmp_path / "x.lock"
    holder = subprocess.Popen(["bash", "-c", 'source "$LIB"; with_lock "$LOCK" sleep 300'],
                              env=env(LOCK=lock), start_new_session=True)
    try:
        wait_for(lambda: lock.exists() and subprocess.run(["flock", "-n", str(lock), "true"]).returncode != 0,
                 what="the holder to take the lock")
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        t0 = time.monotonic()
        r = bash('source "$LIB"; with_lock "$LOCK" echo got it', LOCK=lock, timeout=20)
        assert r.returncode == 0 and "got it" in r.stdout, r.stderr
        assert time.monotonic() - t0 < 5
    finally:
        if alive(holder.pid):
            os.killpg(holder.pid, signal.SIGKILL)


def fake_venv(root, stamp=True):
    """A venv stand-in: bin/python is this interpreter; with `stamp`, marked up to date."""
    (root / "bin").mkdir(parents=True)
    (root / "bin/python").symlink_to(sys.executable)
    if stamp:
        want = hashlib.sha256((REPO / "scripts/requirements-test.txt").read_bytes()).hexdigest()
        (root / ".churnkit-requirements.sha256").write_text(want + "\n")
    return root


def executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def test_two_jupyter_setups_at_once_install_evcxr_once(tmp_path):
    # cargo install as it behaves: build in CARGO_TARGET_DIR, then copy the binary into --root.
    # Without the lock, the first run's `rm -rf` of the install target dir breaks the second's copy.
    bindir = tmp_path / "bin"
    executable(bindir / "cargo", textwrap.dedent(r"""
        #!/usr/bin/env bash
        set -eu
        # `cargo build -p churnkit-engine`: a stand-in library that speaks the protocol.
        if [ "$1" = build ]; then
          case "$CARGO_TARGET_DIR" in "$FAKE_ROOT"/*) ;; *) echo "fake cargo: $CARGO_TARGET_DIR is outside the test" >&2; exit 3;; esac
          mkdir -p "$CARGO_TARGET_DIR/release"
          cc -shared -fPIC -o "$CARGO_TARGET_DIR/release/libchurnkit_engine.so" "$FAKE_ENGINE_C"; exit 0
        fi
        echo "$$ start $(date +%s.%N)" >> "$FAKE_LOG"
        while [ $# -gt 0 ]; do [ "$1" = --root ] && root=$2; shift; done
        mkdir -p "$CARGO_TARGET_DIR/release"
        echo '#!/bin/sh' > "$CARGO_TARGET_DIR/release/evcxr_jupyter"
        sleep 1
        mkdir -p "$root/bin"
        cp "$CARGO_TARGET_DIR/release/evcxr_jupyter" "$root/bin/evcxr_jupyter"
        chmod +x "$root/bin/evcxr_jupyter"
        echo "$$ end $(date +%s.%N)" >> "$FAKE_LOG"
    """).lstrip())
    executable(bindir / "rustup", "#!/bin/sh\necho rust-src\n")
    venv = fake_venv(tmp_path / "venv")
    cache = tmp_path / "cache"
    log = tmp_path / "cargo.log"
    e = env(FAKE_LOG=log, CHURNKIT_CACHE=cache, CHURNKIT_VENV=venv, CHURNKIT_EVCXR_TMPDIR=tmp_path / "evcxr",
            PATH=f"{bindir}:{os.environ['PATH']}", FAKE_ROOT=tmp_path,
            FAKE_ENGINE_C=fake_engine_source(tmp_path, cells_protocol()))
    setup = [str(REPO / "scripts/jupyter-setup.sh")]
    procs = [subprocess.Popen(setup, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(intervals(log)) == 1, (log.read_text(), outs)
    assert sum("installing evcxr_jupyter" in o for o in outs) == 1, outs
    assert (cache / "evcxr/.version").read_text().strip() == "0.22.0"
    assert not (cache / "evcxr-install-target").exists()
    spec = json.loads((venv / "share/jupyter/kernels/rust/kernel.json").read_text())
    assert spec["argv"][0] == str(cache / "evcxr/bin/evcxr_jupyter")
    engine = pathlib.Path(spec["env"]["CHURNKIT_ENGINE"])
    assert engine.parent == cache / "engine" and engine_protocol(engine) == cells_protocol(), spec

    # Everything installed: a third run installs nothing.
    again = subprocess.run(setup, env=e, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "installing" not in again.stdout + again.stderr, again.stdout
    assert "wrote kernelspec" not in again.stdout
    assert len(intervals(log)) == 1


def cells_protocol():
    """The protocol the cells speak: FNV-1a (32 bits) of the op table, as churnkit-protocol and
    jupyter-setup.sh compute it (a real engine answering the same number checks all three)."""
    h = 0x811C9DC5
    for b in (REPO / "churnkit/protocol/src/ops.rs").read_bytes():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fake_engine_source(tmp_path, protocol):
    c = tmp_path / "engine.c"
    c.write_text(f"unsigned churnkit_engine_protocol(void) {{ return {protocol}u; }}\n")
    return c


def engine_protocol(path):
    """Load an engine library as the cells do and ask its protocol (here, in a child process)."""
    r = subprocess.run([sys.executable, "-c", "import ctypes, sys; "
                        "f = ctypes.CDLL(sys.argv[1]).churnkit_engine_protocol; f.restype = ctypes.c_uint32; "
                        "print(f())", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{path} does not load: {r.stderr.strip()[-300:]}"
    return int(r.stdout)


@pytest.mark.parametrize("engine", ["not a library", "wrong protocol"])
def test_jupyter_setup_refuses_an_engine_that_does_not_load(tmp_path, engine):
    # A truncated or stale engine must stop the set-up before any kernelspec names it.
    bindir = tmp_path / "bin"
    if engine == "not a library":
        make = 'echo engine > "$CARGO_TARGET_DIR/release/libchurnkit_engine.so"'
    else:
        make = 'cc -shared -fPIC -o "$CARGO_TARGET_DIR/release/libchurnkit_engine.so" "$FAKE_ENGINE_C"'
    executable(bindir / "cargo", "#!/usr/bin/env bash\nset -eu\n"
               f'mkdir -p "$CARGO_TARGET_DIR/release"; {make}\n')
    venv = fake_venv(tmp_path / "venv")
    e = env(CHURNKIT_CACHE=tmp_path / "cache", CHURNKIT_VENV=venv, PATH=f"{bindir}:{os.environ['PATH']}",
            CHURNKIT_EVCXR_TMPDIR=tmp_path / "evcxr",
            FAKE_ENGINE_C=fake_engine_source(tmp_path, (cells_protocol() + 1) % 2**32))
    r = subprocess.run([str(REPO / "scripts/jupyter-setup.sh")], env=e, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0, r.stdout
    assert "does not load" in r.stderr or "speaks protocol" in r.stderr, r.stderr
    assert not (venv / "share/jupyter/kernels/rust/kernel.json").exists()
    assert not list((tmp_path / "cache").glob("engine/libchurnkit_engine-*.so"))


def test_two_venv_setups_at_once_install_once(tmp_path):
    venv = fake_venv(tmp_path / "venv", stamp=False)
    log = tmp_path / "pip.log"
    executable(venv / "bin/pip", textwrap.dedent(r"""
        #!/usr/bin/env bash
        echo "$$ start $(date +%s.%N)" >> "$FAKE_LOG"; sleep 1; echo "$$ end $(date +%s.%N)" >> "$FAKE_LOG"
    """).lstrip())
    e = env(FAKE_LOG=log, CHURNKIT_VENV=venv, CHURNKIT_CACHE=tmp_path / "cache")
    procs = [subprocess.Popen([str(REPO / "scripts/venv.sh")], env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(intervals(log)) == 1, outs
    installed = [o for o in outs if "venv: installed" in o]
    waited = [o for o in outs if "waiting for the lock" in o and "up to date" in o]
    assert len(installed) == 1 and len(waited) == 1, outs


# ---- wait_http ----------------------------------------------------------------------------------

@pytest.fixture
def http_server(tmp_path):
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www/index.html").write_text("hello")
    p = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                          "--directory", str(tmp_path / "www")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield port, p
    p.kill()
    p.wait()


def timed_wait_http(url, seconds, pid=""):
    t0 = time.monotonic()
    r = bash(f'source "$LIB"; wait_http "{url}" {seconds} {pid}', timeout=60)
    return r.returncode, time.monotonic() - t0


def test_wait_http_returns_when_a_real_server_answers(http_server):
    port, _ = http_server
    rc, elapsed = timed_wait_http(f"http://127.0.0.1:{port}/", 20)
    assert rc == 0 and elapsed < 10, (rc, elapsed)


def test_wait_http_waits_for_a_server_that_starts_later(tmp_path):
    port = free_port()
    waiter = subprocess.Popen(["bash", "-c", f'source "$LIB"; wait_http http://127.0.0.1:{port}/ 20'], env=env())
    time.sleep(1.5)
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert waiter.wait(timeout=30) == 0
    finally:
        server.kill()
        server.wait()


def test_wait_http_fails_on_a_dead_port_within_its_timeout():
    port = free_port()
    rc, elapsed = timed_wait_http(f"http://127.0.0.1:{port}/health", 2)
    assert rc == 1, rc
    assert 1.5 < elapsed < 6, elapsed


def test_wait_http_does_not_take_an_error_status_for_an_answer(http_server):
    port, _ = http_server
    rc, elapsed = timed_wait_http(f"http://127.0.0.1:{port}/missing", 2)
    assert rc == 1 and elapsed < 6, (rc, elapsed)


def test_wait_http_fails_early_when_the_process_died():
    port = free_port()
    t0 = time.monotonic()
    r = bash(f'source "$LIB"; sleep 0.3 & p=$!; wait_http http://127.0.0.1:{port}/ 60 "$p"', timeout=60)
    assert r.returncode == 2, r.returncode
    assert time.monotonic() - t0 < 6


# ---- MLflow start/stop --------------------------------------------------------------------------

FAKE_MLFLOW = textwrap.dedent("""
    #!{python}
    # Stand-in for `mlflow server`: records how it was started, runs a worker process (as MLflow's
    # uvicorn), serves /health. FAKE_MLFLOW=die exits at once, =hang never listens.
    import http.server, json, os, subprocess, sys, time
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    json.dump({{"argv": args, "cwd": os.getcwd(),
               "env": {{k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}}}},
              open(os.environ["FAKE_MLFLOW_RECORD"], "w"))
    mode = os.environ.get("FAKE_MLFLOW", "ok")
    if mode == "die":
        print("boom: cannot start", file=sys.stderr)
        sys.exit(1)
    worker = subprocess.Popen(["sleep", "303"])
    open(os.environ["FAKE_MLFLOW_RECORD"] + ".worker", "w").write(str(worker.pid))
    if mode == "hang":
        time.sleep(300)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
""").lstrip()


@pytest.fixture
def fake_mlflow(tmp_path):
    venv = tmp_path / "venv"
    executable(venv / "bin/mlflow", FAKE_MLFLOW.format(python=sys.executable))
    record = tmp_path / "mlflow-record.json"
    started = []
    yield dict(CHURNKIT_VENV=venv, FAKE_MLFLOW_RECORD=record), record, started
    kill_all(started)


def server_pids(record):
    return [int(p) for p in record.read_text().split()] if record.exists() else []


def test_mlflow_start_and_stop(tmp_path, fake_mlflow):
    e, record, started = fake_mlflow
    store, port = tmp_path / "store", free_port()
    r = bash(f'source "$LIB"; mlflow_start "{store}" {port} && echo "$mlflow_started_url $mlflow_started_pid"', **e)
    assert r.returncode == 0, r.stderr
    url, pid = r.stdout.split()
    pid = int(pid)
    worker = int(pathlib.Path(str(record) + ".worker").read_text())
    started += [pid, worker]
    assert url == f"http://127.0.0.1:{port}" and (store / "uri").read_text().strip() == url
    assert int((store / "pid").read_text()) == pid and stat(pid)[3] == pid  # its own session
    rec = json.loads(record.read_text())
    argv = rec["argv"]
    assert argv[0] == "server" and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--workers") + 1] == "1" and "--app-name" not in argv
    assert argv[argv.index("--backend-store-uri") + 1] == f"sqlite:///{store}/mlflow.db"
    assert argv[argv.index("--artifacts-destination") + 1] == f"{store}/artifacts"
    assert rec["env"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false" and rec["cwd"] == str(store)
    assert port_open(port) and alive(worker)

    r = bash(f'source "$LIB"; mlflow_stop "{store}"; mlflow_stop "{store}"', **e)
    assert r.returncode == 0, r.stderr
    assert not alive(pid) and not alive(worker), "the server or its worker survived mlflow_stop"
    assert not port_open(port)
    assert not (store / "pid").exists() and not (store / "uri").exists()


def test_mlflow_server_sh_auth(tmp_path, fake_mlflow):
    e, record, started = fake_mlflow
    store = tmp_path / "store"
    r = subprocess.run([str(REPO / "scripts/mlflow-server.sh"), "start", str(store), "--auth"], env=env(**e),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    started += [int((store / "pid").read_text()), int(pathlib.Path(str(record) + ".worker").read_text())]
    url = (store / "uri").read_text().strip()
    assert r.stdout.strip() == f"mlflow server up at {url} ({store})"
    rec = json.loads(record.read_text())
    assert rec["argv"][rec["argv"].index("--app-name") + 1] == "basic-auth"
    ini = pathlib.Path(rec["env"]["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    assert f"admin_password = {(store / 'admin_password').read_text().strip()}" in ini
    subprocess.run([str(REPO / "scripts/mlflow-server.sh"), "stop", str(store)], env=env(**e), check=True, timeout=60)
    assert not any(alive(p) for p in started)


def test_mlflow_start_fails_early_when_the_server_dies(tmp_path, fake_mlflow):
    e, record, _ = fake_mlflow
    store = tmp_path / "store"
    t0 = time.monotonic()
    r = bash(f'source "$LIB"; mlflow_start "{store}" {free_port()}', FAKE_MLFLOW="die", **e)
    assert r.returncode == 1
    assert time.monotonic() - t0 < 10
    assert "mlflow server died" in r.stderr and "boom: cannot start" in r.stderr, r.stderr
    assert not (store / "pid").exists() and not (store / "uri").exists()


def test_mlflow_start_times_out_and_stops_what_it_started(tmp_path, fake_mlflow):
    e, record, started = fake_mlflow
    store = tmp_path / "store"
    r = subprocess.run([str(REPO / "scripts/mlflow-server.sh"), "start", str(store)],
                       env=env(FAKE_MLFLOW="hang", MLFLOW_START_TIMEOUT=2, **e), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert "did not answer /health in 2 s" in r.stderr, r.stderr
    worker = int(pathlib.Path(str(record) + ".worker").read_text())
    started.append(worker)
    assert not alive(worker), "the hanging server's worker survived"
    assert not (store / "pid").exists()


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_mlflow_server_sh_start_stops_its_server(tmp_path, fake_mlflow, sig, status):
    e, record, started = fake_mlflow
    store = tmp_path / "store"
    p = subprocess.Popen([str(REPO / "scripts/mlflow-server.sh"), "start", str(store)],
                         env=env(FAKE_MLFLOW="hang", **e), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    worker_file = pathlib.Path(str(record) + ".worker")
    try:
        wait_for(lambda: (store / "pid").exists() and worker_file.exists() and worker_file.read_text(),
                 what="the server to start")
        server, worker = int((store / "pid").read_text()), int(worker_file.read_text())
        started += [server, worker]
        p.send_signal(sig)
        assert p.wait(timeout=30) == status
        assert not alive(server) and not alive(worker), "the server it was starting survived"
    finally:
        if alive(p.pid):
            os.killpg(p.pid, signal.SIGKILL)


def test_the_real_engine_is_untouched_by_these_tests():
    # Last in this file, so after every test that fakes cargo: the suite's engine (when this run
    # has one) is byte for byte what it was, and still loads and speaks the cells' protocol.
    if not ENGINES_BEFORE and os.environ.get("CHURNKIT_REQUIRE_NOTEBOOKS"):
        pytest.fail("CHURNKIT_REQUIRE_NOTEBOOKS is set but no engine was built before these tests")
    if not ENGINES_BEFORE:
        pytest.skip("no engine built (CARGO_TARGET_DIR unset or no release build)")
    assert real_engines() == ENGINES_BEFORE, "a test wrote into the suite's engine"
    for path in ENGINES_BEFORE:
        assert engine_protocol(path) == cells_protocol(), path
