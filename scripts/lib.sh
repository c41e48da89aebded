# Sourced by the scripts (after scripts/env.sh): shared helpers.
#
#   with_lock FILE COMMAND...       run COMMAND holding an exclusive flock on FILE
#   wait_http URL SECONDS [PID]     wait until URL answers (HTTP < 400); 1 on timeout, 2 if PID died
#   free_port                       print a free TCP port on 127.0.0.1
#   mlflow_start DIR PORT [--auth]  an MLflow server on 127.0.0.1:PORT with its store in DIR
#   mlflow_stop DIR                 stop the server mlflow_start started there
#   jobs_init                       cleanup traps (EXIT, INT, TERM) for the job helpers below
#   job_start COMMAND...            a background job in its own session; $! is its pid (= pgid)
#   job_wait PID                    wait for a job, return its status
#   job_run COMMAND...              a foreground step as a job (a signal is handled at once)
#   at_exit COMMAND [ARG...]        run COMMAND (arguments as they are now) during cleanup, after
#                                   the jobs have ended (the last registered first)
#
# shellcheck shell=bash

# ---- locks ------------------------------------------------------------------------------------

# with_lock FILE COMMAND...: run COMMAND (in a subshell; it may be a shell function) holding an
# exclusive flock on FILE, waiting (and saying so) while another process holds it. The lock
# belongs to an open descriptor (9), so it is released when the holder exits, however it dies.
# Processes COMMAND leaves running inherit the descriptor and keep the lock: leave none (the
# MLflow launcher below closes inherited descriptors).
with_lock() {
  local file=$1
  shift
  mkdir -p "$(dirname "$file")"
  (
    exec 9>>"$file"
    if ! flock -n 9; then
      echo "waiting for the lock $file (held by another run)" >&2
      flock 9
    fi
    "$@"
  )
}

# ---- HTTP -------------------------------------------------------------------------------------

# _alive PID: the process exists and is not a zombie.
_alive() {
  local stat
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# wait_http URL SECONDS [PID]: poll URL (python3's urllib, no proxy) until it answers with a
# status below 400, for at most SECONDS (one attempt at least). Returns 0 when it answers, 1 on
# timeout, 2 as soon as PID (when given) has died. Each attempt is short, so a signal to the
# caller is handled within ~2 s.
wait_http() {
  local url=$1 seconds=$2 pid=${3:-} deadline left
  deadline=$(($(_now_ms) + seconds * 1000))
  while :; do
    left=$((deadline - $(_now_ms)))
    [ "$left" -ge 500 ] || left=500
    [ "$left" -le 2000 ] || left=2000
    # (No proxy: these are local servers, and an http_proxy in the environment must not answer.)
    if python3 -c 'import sys, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=int(sys.argv[2]) / 1000)' \
      "$url" "$left" 2>/dev/null; then
      return 0
    fi
    if [ -n "$pid" ] && ! _alive "$pid"; then
      return 2
    fi
    [ "$(_now_ms)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# _now_ms: milliseconds on the wall clock (bash 5's EPOCHREALTIME; whole seconds without it).
_now_ms() {
  local t=${EPOCHREALTIME:-}
  if [ -n "$t" ]; then
    t=${t//[!0-9]/}
    echo $((10#${t:0:${#t}-3}))
  else
    date +%s000
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- MLflow -----------------------------------------------------------------------------------

# _spawn_detached DIR PIDFILE LOG COMMAND...: start COMMAND in DIR in a new session (so stopping
# it ends its workers too), stdin from /dev/null, output to LOG, no inherited descriptors (an
# inherited pipe would keep a caller's `| tail` waiting, an inherited lock descriptor would keep
# the lock); its pid goes to PIDFILE. Signals are blocked until PIDFILE is written, so a process
# that runs always has its PIDFILE (the child gets the normal signal mask back).
_spawn_detached() {
  (cd "$1" && python3 -c '
import os, signal, subprocess, sys
pidfile, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
with open(log, "ab") as out:
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=True,
                         start_new_session=True,
                         preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs))
tmp = pidfile + ".tmp"
with open(tmp, "w") as f:
    f.write(f"{p.pid}\n")
os.replace(tmp, pidfile)
signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)' "$2" "$3" "${@:4}")
}

# mlflow_start DIR PORT [--auth]: start `mlflow server` (from $CHURNKIT_VENV) on 127.0.0.1:PORT,
# one worker, job execution off; store DIR/mlflow.db (sqlite) and DIR/artifacts, log
# DIR/server.log, pid DIR/pid (the server's session). Once /health answers, the URL goes to
# DIR/uri and $mlflow_started_url, the pid to $mlflow_started_pid. With --auth MLflow's
# basic-auth app (admin password in DIR/admin_password). Waits up to $MLFLOW_START_TIMEOUT (180)
# s; on failure prints why (and the log's tail) to stderr, stops what it started, returns 1.
mlflow_start() {
  local dir=$1 port=$2 auth=${3:-} timeout=${MLFLOW_START_TIMEOUT:-180} rc=0
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local args=(server --host 127.0.0.1 --port "$port" --workers 1
    --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts")
  local envs=(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false)
  if [ "$auth" = --auth ]; then
    echo "churnkit-admin-$$-$RANDOM" > "$dir/admin_password"
    cat > "$dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/basic_auth.db
admin_username = admin
admin_password = $(cat "$dir/admin_password")
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    envs+=(MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY="churnkit-test-$$-$RANDOM")
    args+=(--app-name basic-auth)
  elif [ -n "$auth" ]; then
    echo "mlflow_start: unknown option $auth" >&2
    return 2
  fi
  rm -f "$dir/uri"
  mlflow_started_url=http://127.0.0.1:$port
  _spawn_detached "$dir" "$dir/pid" "$dir/server.log" env "${envs[@]}" "$CHURNKIT_VENV/bin/mlflow" "${args[@]}" || {
    echo "mlflow server could not be started" >&2
    return 1
  }
  mlflow_started_pid=$(cat "$dir/pid")
  wait_http "$mlflow_started_url/health" "$timeout" "$mlflow_started_pid" || rc=$?
  case $rc in
    0) echo "$mlflow_started_url" > "$dir/uri"; return 0 ;;
    2) echo "mlflow server died; log:" >&2 ;;
    *) echo "mlflow server did not answer /health in $timeout s; log:" >&2 ;;
  esac
  tail -20 "$dir/server.log" >&2
  mlflow_stop "$dir"
  return 1
}

# mlflow_stop DIR: stop the server mlflow_start started in DIR (TERM to its session's process
# group, KILL after 10 s), if it still runs; removes DIR/pid and DIR/uri. Idempotent.
mlflow_stop() {
  local dir=$1 pid _
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM -- "-$pid" 2>/dev/null; then
    for _ in $(seq 1 20); do
      _group_alive "$pid" || break
      sleep 0.5
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid" "$dir/uri"
}

# ---- jobs and cleanup ---------------------------------------------------------------------------
#
# jobs_init sets traps so that, however the script ends (success, a failing command under set -e,
# SIGINT, SIGTERM), every job still running is ended with its whole process group: SIGINT first
# (cargo, pytest and the scripts clean up as on Ctrl-C), SIGTERM after CHURNKIT_KILL_GRACE
# seconds (default 5), SIGKILL after as many more. Then the at_exit commands run, then any
# process still carrying this run's tag (CHURNKIT_RUN_TAG, inherited through the environment by
# everything the script starts, including what left the jobs' process groups: MLflow servers,
# Jupyter kernels) is ended. The exit status stays the script's (130 after SIGINT, 143 after
# SIGTERM).

_churnkit_jobs=()
_churnkit_at_exit=()

jobs_init() {
  CHURNKIT_RUN_TAG=$$-$RANDOM$RANDOM-$(date +%s%N)
  export CHURNKIT_RUN_TAG
  trap _churnkit_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

at_exit() {
  local c
  printf -v c '%q ' "$@"
  _churnkit_at_exit+=("$c")
}

# job_start COMMAND...: COMMAND in the background in a new session (its own process group, no
# terminal), registered for cleanup. Redirections on the call apply to COMMAND. $! is its pid,
# which is also its process group id (a child of a non-interactive shell is no group leader,
# so setsid does not fork).
job_start() {
  # (An asynchronous command of a shell without job control ignores SIGINT and SIGQUIT: reset
  # them, so the cleanup's SIGINT reaches the job like a Ctrl-C.)
  (
    trap - INT QUIT
    exec setsid "$@"
  ) &
  _churnkit_jobs+=("$!")
}

# job_wait PID: wait for the job, deregister it, return its exit status.
job_wait() {
  local pid=$1 rc=0 j kept=()
  wait "$pid" || rc=$?
  for j in "${_churnkit_jobs[@]}"; do
    [ "$j" = "$pid" ] || kept+=("$j")
  done
  _churnkit_jobs=("${kept[@]}")
  return "$rc"
}

# job_run COMMAND...: a foreground step, run as a job: the shell waits in `wait`, which a signal
# interrupts (it would otherwise run its trap only after the step ended), and the cleanup ends
# the step's whole process tree. Stdin is /dev/null.
job_run() {
  job_start "$@"
  job_wait "$!"
}

# _live_groups PGID...: print those of the process groups that have a live member (zombies do
# not count), one /proc scan, no subprocesses.
_live_groups() {
  local f stat want=" $* " found=" "
  for f in /proc/[0-9]*/stat; do
    { read -r stat < "$f"; } 2>/dev/null || continue
    stat=${stat##*) }
    # state ppid pgrp session ...
    [[ $stat =~ ^([A-Za-z])\ -?[0-9]+\ ([0-9]+)\  ]] || continue
    [ "${BASH_REMATCH[1]}" != Z ] || continue
    if [[ $want == *" ${BASH_REMATCH[2]} "* && $found != *" ${BASH_REMATCH[2]} "* ]]; then
      found+="${BASH_REMATCH[2]} "
    fi
  done
  for f in $found; do echo "$f"; done
}

# _group_alive PGID: the process group has a live member.
_group_alive() {
  [ -n "$(_live_groups "$1")" ]
}

# _jobs_kill: INT, TERM, then KILL ($CHURNKIT_KILL_GRACE s apart, default 5) to the process
# groups of the jobs still running.
_jobs_kill() {
  local sig pid live _ grace=${CHURNKIT_KILL_GRACE:-5}
  [ ${#_churnkit_jobs[@]} -gt 0 ] || return 0
  for sig in INT TERM KILL; do
    mapfile -t live < <(_live_groups "${_churnkit_jobs[@]}")
    [ ${#live[@]} -gt 0 ] || break
    echo "cleanup: SIG$sig to the process groups of the jobs still running (${live[*]})" >&2
    for pid in "${live[@]}"; do kill -"$sig" -- "-$pid" 2>/dev/null || true; done
    for _ in $(seq 1 $((grace * 10))); do
      [ -n "$(_live_groups "${live[@]}")" ] || break
      sleep 0.1
    done
  done
  _churnkit_jobs=()
}

# _tagged_kill: end the processes (but this shell and its sweeper) whose environment carries
# CHURNKIT_RUN_TAG: TERM, KILL after the grace period. Prints what it ended.
_tagged_kill() {
  [ -n "${CHURNKIT_RUN_TAG:-}" ] || return 0
  python3 - "$CHURNKIT_RUN_TAG" "$$" "${CHURNKIT_KILL_GRACE:-5}" <<'PY'
import os, signal, sys, time

tag = b"CHURNKIT_RUN_TAG=" + sys.argv[1].encode()
spare = {os.getpid(), int(sys.argv[2])}
grace = float(sys.argv[3])
p = os.getppid()
spare.add(p)


def tagged():
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in spare:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if tag not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found[int(pid)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
    return found


left = tagged()
for sig in (signal.SIGTERM, signal.SIGKILL):
    if not left:
        break
    for pid, cmd in left.items():
        print(f"cleanup: {signal.Signals(sig).name} to leftover process {pid} ({cmd[:100]})", file=sys.stderr)
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    for _ in range(int(grace * 10)):
        time.sleep(0.1)
        left = tagged()
        if not left:
            break
PY
}

_churnkit_cleanup() {
  local rc=$? i
  set +e
  # A second signal must not cut the cleanup short (an ignored signal would stay ignored in what
  # the cleanup starts, so a no-op handler instead).
  trap : INT TERM
  _jobs_kill
  for ((i = ${#_churnkit_at_exit[@]} - 1; i >= 0; i--)); do
    eval "${_churnkit_at_exit[i]}"
  done
  _tagged_kill
  trap - EXIT
  exit "$rc"
}
