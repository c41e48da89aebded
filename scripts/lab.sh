#!/usr/bin/env bash
# Jupyter Lab with the Rust kernel on 127.0.0.1:8888 and MLflow on 127.0.0.1:5000, natively.
# Ctrl-C stops both. Token: JUPYTER_TOKEN (default mlops-demo). MLflow data: mlflow-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/jupyter-setup.sh
mlflow_port=${MLFLOW_PORT:-5000}
lab_port=${JUPYTER_PORT:-8888}
token=${JUPYTER_TOKEN:-mlops-demo}
store=${CHURNKIT_MLFLOW_DIR:-$PWD/mlflow-data}
mkdir -p "$store"
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; echo "lab: stopped"; }
trap stop EXIT INT TERM

if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$mlflow_port/health', timeout=2)" 2>/dev/null; then
  echo "lab: MLflow already running on port $mlflow_port"
else
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "$CHURNKIT_VENV/bin/mlflow" server --host 127.0.0.1 \
    --port "$mlflow_port" --workers 1 --backend-store-uri "sqlite:///$store/mlflow.db" \
    --artifacts-destination "$store/artifacts" > "$store/server.log" 2>&1 &
  pids+=($!)
fi
export MLFLOW_TRACKING_URI="http://127.0.0.1:$mlflow_port"
JUPYTER_CONFIG_DIR="$PWD/jupyter-config" CHURNKIT_ROOT="$PWD" JUPYTER_TOKEN="$token" \
  JUPYTER_PORT="$lab_port" "$CHURNKIT_VENV/bin/jupyter" lab > "$store/jupyter.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$mlflow_port/health', timeout=2); urllib.request.urlopen('http://127.0.0.1:$lab_port/api/status?token=$token', timeout=2)" 2>/dev/null && break
  sleep 1
done
cat <<MSG
lab: ready
  Jupyter Lab  http://127.0.0.1:$lab_port/lab?token=$token   (kernel "Rust"; notebooks/)
  MLflow UI    http://127.0.0.1:$mlflow_port/#/experiments?workflowType=machine_learning
Run scripts/run.sh first if models/ is empty. Ctrl-C stops both.
MSG
wait
