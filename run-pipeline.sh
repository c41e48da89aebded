#!/usr/bin/env bash
# The full automated run: preprocess -> train -> evaluate on data/sample_data.csv, tracked in MLflow.
#
#   Docker mode (a working `docker` engine and `docker compose`): builds the images, starts the
#   stack (docker compose up -d --wait: MLflow + Jupyter Lab), runs the three steps through the
#   pipeline service and leaves the stack running (`docker compose down` stops it).
#   Native mode (otherwise): builds churnkit with cargo, starts MLflow on 127.0.0.1:5000 (or
#   CHURNKIT_MLFLOW_PORT: port 5000 is taken by AirPlay on macOS, for one) from the
#   project venv unless one already answers there (store: mlflow-data/), runs the steps, and stops
#   the server it started (CHURNKIT_KEEP_MLFLOW=1 keeps it running).
#
# CHURNKIT_MODE=docker|native forces a mode. Token for the Jupyter URL: JUPYTER_TOKEN (or .env).
set -euo pipefail
cd "$(dirname "$0")"
# .env as Compose reads it: a variable already set in the environment wins over the file.
if [ -f .env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    value=${value%\"}; value=${value#\"}; value=${value%\'}; value=${value#\'}
    [ -n "${!key+set}" ] || export "$key=$value"
  done < .env
fi
source scripts/env.sh
source scripts/lib.sh
token=${JUPYTER_TOKEN:-mlops-demo}
jupyter_port=${JUPYTER_PORT:-8888}
mlflow_port=5000
mlflow_url=http://127.0.0.1:$mlflow_port
start=$SECONDS
say() { printf '==> %s  [%ds]\n' "$*" $((SECONDS - start)); }

mode=${CHURNKIT_MODE:-}
if [ -z "$mode" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    mode=docker
  else
    mode=native
  fi
fi

case "$mode" in
docker)
  say "mode: docker (docker compose, services mlflow + jupyter, pipeline worker)"
  # The containers' user writes the bind-mounted data/, models/, metrics/ and notebooks/: unless
  # CHURNKIT_UID is set, it is the checkout's owner. Containers never run as root, so a checkout
  # owned by root hands those directories to uid 1000 (the images' default user).
  mkdir -p data/processed models metrics
  if [ -z "${CHURNKIT_UID:-}" ]; then
    CHURNKIT_UID=$(stat -c %u .) CHURNKIT_GID=$(stat -c %g .)
    if [ "$CHURNKIT_UID" = 0 ]; then
      CHURNKIT_UID=1000 CHURNKIT_GID=1000
      say "checkout owned by root: giving data/ models/ metrics/ notebooks/ to uid 1000 (set CHURNKIT_UID to choose)"
      chown -R 1000:1000 data models metrics notebooks
    fi
    export CHURNKIT_UID CHURNKIT_GID
  fi
  say "containers run as uid $CHURNKIT_UID (images and volumes are built for it: see README)"
  say "building images"
  docker compose --profile pipeline build
  say "starting the stack"
  docker compose up -d --wait
  for step in preprocess train evaluate; do
    say "churnkit $step"
    docker compose run --rm pipeline churnkit "$step"
  done
  jupyter_note="running (docker compose down stops the stack)"
  mlflow_note="running (service mlflow; store in the mlflow-store volume)"
  ;;
native)
  mlflow_port=${CHURNKIT_MLFLOW_PORT:-5000}
  mlflow_url=http://127.0.0.1:$mlflow_port
  say "mode: native (no usable Docker engine: cargo build + local MLflow)"
  scripts/venv.sh
  say "cargo build --release --locked -p churnkit-cli"
  cargo build --release --locked --quiet -p churnkit-cli
  store=$PWD/mlflow-data
  own_server=  # set while a server this script started is to be stopped at exit
  stop_server() {
    local pid
    if [ -n "$own_server" ]; then
      own_server=
      pid=$(cat "$store/pid" 2>/dev/null) || return 0
      mlflow_stop "$store"
      echo "run-pipeline: stopped the MLflow server it started (pid $pid)"
    fi
  }
  trap stop_server EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if wait_http "$mlflow_url/health" 0; then
    say "MLflow already answers at $mlflow_url: using it"
    mlflow_note="running (not started by this script)"
  else
    say "starting MLflow at $mlflow_url (store $store, log $store/server.log)"
    # (mlflow_start stops the server itself when it fails to come up.)
    own_server=1
    mlflow_start "$store" "$mlflow_port" || { echo "run-pipeline: MLflow failed to start at $mlflow_url" >&2; exit 1; }
    if [ "${CHURNKIT_KEEP_MLFLOW:-0}" = 1 ]; then
      own_server=
      mlflow_note="running, pid $mlflow_started_pid (kept: CHURNKIT_KEEP_MLFLOW=1; stop with kill -- -$mlflow_started_pid)"
    else
      mlflow_note="stopped at the end of this run; scripts/lab.sh serves the same store (mlflow-data/)"
    fi
  fi
  export MLFLOW_TRACKING_URI=$mlflow_url
  for step in preprocess train evaluate; do
    say "churnkit $step"
    "$CHURNKIT_BIN" "$step"
  done
  jupyter_note="not started in native mode: scripts/lab.sh starts it (with MLflow)"
  ;;
*) echo "run-pipeline: CHURNKIT_MODE must be docker or native" >&2; exit 2 ;;
esac

cat <<MSG
==> done in $((SECONDS - start))s (mode: $mode)
  MLflow UI    $mlflow_url/#/experiments?workflowType=machine_learning   $mlflow_note
               (the train and evaluate runs, metrics, charts and the logged model)
  Jupyter Lab  http://127.0.0.1:$jupyter_port/lab?token=$token   $jupyter_note
               (kernel "Rust": notebooks/exploration.ipynb, notebooks/experiment_comparison.ipynb)
  Outputs      data/processed/  models/  metrics/
MSG
