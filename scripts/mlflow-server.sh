#!/usr/bin/env bash
# A real MLflow server on 127.0.0.1 for the tests, light enough for 2 cores.
#   scripts/mlflow-server.sh start DIR [--auth] [--port PORT]   start (on a free port unless
#                                                 --port); DIR/uri holds the URL
#   scripts/mlflow-server.sh stop DIR             stop it
# With --auth the server runs MLflow's basic-auth app (admin password in DIR/admin_password).
# The store, log and pid are in DIR (see mlflow_start in scripts/lib.sh). A start that is
# interrupted (INT/TERM) or fails stops the server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
usage() { echo "usage: $0 start DIR [--auth] [--port PORT] | stop DIR" >&2; exit 2; }
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then usage; fi
shift 2
case "$cmd" in
start)
  auth='' port=
  while [ $# -gt 0 ]; do
    case "$1" in
      --auth) auth=--auth ;;
      --port) port=${2:?--port needs a number}; shift ;;
      *) usage ;;
    esac
    shift
  done
  [ -n "$port" ] || port=$(free_port)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  started=
  trap '[ -n "$started" ] || mlflow_stop "$dir"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mlflow_start "$dir" "$port" ${auth:+"$auth"}
  started=1
  echo "mlflow server up at $mlflow_started_url ($dir)" ;;
stop)
  [ $# = 0 ] || usage
  mlflow_stop "$dir" ;;
*) usage ;;
esac
