#!/usr/bin/env bash
# A real MLflow server on 127.0.0.1 for the tests, light enough for 2 cores.
#   scripts/mlflow-server.sh start DIR [--auth]   start on a free port; DIR/uri holds the URL
#   scripts/mlflow-server.sh stop DIR             stop it
# With --auth the server runs MLflow's basic-auth app (admin password in DIR/admin_password).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cmd=${1:?start|stop}
dir=${2:?directory}
case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  args=(server --host 127.0.0.1 --port "$port" --workers 1
        --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts")
  envs=(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false)
  if [ "${3:-}" = "--auth" ]; then
    echo "churnkit-admin-$$" > "$dir/admin_password"
    cat > "$dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/basic_auth.db
admin_username = admin
admin_password = $(cat "$dir/admin_password")
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    envs+=(MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY="churnkit-test-$$")
    args+=(--app-name basic-auth)
  fi
  # Start through Python: a new session (so stop can kill the whole group) and no inherited
  # descriptors (an inherited pipe would keep a caller's `| tail` waiting forever).
  (cd "$dir" && env "${envs[@]}" python3 -c '
import subprocess, sys
log = open(sys.argv[1], "ab")
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                     start_new_session=True, close_fds=True)
print(p.pid)' "$dir/server.log" "$CHURNKIT_VENV/bin/mlflow" "${args[@]}" > "$dir/pid")
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 180); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$url/health', timeout=2)" 2>/dev/null; then
      echo "$url" > "$dir/uri"
      echo "mlflow server up at $url ($dir)"
      exit 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "mlflow server died; log:" >&2; tail -20 "$dir/server.log" >&2; exit 1
    fi
    sleep 1
  done
  echo "mlflow server did not answer /health in 180 s; log:" >&2; tail -20 "$dir/server.log" >&2
  exit 1 ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 -- -"$pid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi ;;
*) echo "usage: $0 start|stop DIR [--auth]" >&2; exit 2 ;;
esac
