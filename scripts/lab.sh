#!/usr/bin/env bash
# Jupyter Lab with the Rust kernel on 127.0.0.1:8888 and MLflow on 127.0.0.1:5000, natively.
# Ctrl-C stops both. Token: JUPYTER_TOKEN (default mlops-demo). MLflow data: mlflow-data/.
# (MLFLOW_PORT, JUPYTER_PORT and CHURNKIT_MLFLOW_DIR pick other ports and another store; an MLflow
# already answering on the port is used and left running.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
mlflow_port=${MLFLOW_PORT:-5000}
lab_port=${JUPYTER_PORT:-8888}
token=${JUPYTER_TOKEN:-mlops-demo}
store=${CHURNKIT_MLFLOW_DIR:-$PWD/mlflow-data}
mlflow_url=http://127.0.0.1:$mlflow_port
mkdir -p "$store"
# However lab.sh ends (Ctrl-C, TERM, a failure, Jupyter shut down from its UI): Jupyter (and so
# its kernels) and the MLflow server it started are stopped.
jobs_init
at_exit echo "lab: stopped"

job_run scripts/jupyter-setup.sh

export MLFLOW_TRACKING_URI=$mlflow_url
JUPYTER_CONFIG_DIR="$PWD/jupyter-config" CHURNKIT_ROOT="$PWD" JUPYTER_TOKEN="$token" \
  JUPYTER_PORT="$lab_port" job_start "$CHURNKIT_VENV/bin/jupyter" lab > "$store/jupyter.log" 2>&1
jupyter=$!

if wait_http "$mlflow_url/health" 0; then
  echo "lab: MLflow already running on port $mlflow_port"
else
  at_exit mlflow_stop "$store"
  mlflow_start "$store" "$mlflow_port" || { echo "lab: MLflow failed to start on port $mlflow_port" >&2; exit 1; }
fi
rc=0
wait_http "http://127.0.0.1:$lab_port/api/status?token=$token" 120 "$jupyter" || rc=$?
if [ "$rc" != 0 ]; then
  if [ "$rc" = 2 ]; then
    echo "lab: Jupyter Lab exited; log ($store/jupyter.log):" >&2
  else
    echo "lab: Jupyter Lab did not answer on port $lab_port in 120 s; log ($store/jupyter.log):" >&2
  fi
  tail -20 "$store/jupyter.log" >&2
  exit 1
fi
cat <<MSG
lab: ready
  Jupyter Lab  http://127.0.0.1:$lab_port/lab?token=$token   (kernel "Rust"; notebooks/)
  MLflow UI    http://127.0.0.1:$mlflow_port/#/experiments?workflowType=machine_learning
Run scripts/run.sh first for a tracked run to compare. Ctrl-C stops both.
MSG
job_wait "$jupyter" || true
echo "lab: Jupyter Lab exited"
