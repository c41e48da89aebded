#!/usr/bin/env bash
# The whole test suite (what .ci/run calls). Installs what it needs, idempotently, starts the
# real services the tests use on 127.0.0.1 and stops them at the end. Build caches stay outside
# the checkout (see scripts/env.sh), so a second run on the same machine is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=$SECONDS
step() { printf '\n==> %s  [%ds]\n' "$*" $((SECONDS - start)); }

services=$(mktemp -d "${TMPDIR:-/tmp}/churnkit-services.XXXXXX")
cleanup() {
  scripts/mlflow-server.sh stop "$services/mlflow" || true
  scripts/mlflow-server.sh stop "$services/mlflow-auth" || true
  rm -rf "$services"
}
trap cleanup EXIT

step "python venv (MLflow, scikit-learn, pytest)"
scripts/venv.sh

step "Jupyter + evcxr Rust kernel (background; evcxr_jupyter builds once per machine)"
scripts/jupyter-setup.sh > "$services/jupyter-setup.out" 2>&1 &
jupyter_setup=$!

step "MLflow servers (plain and basic-auth), started in the background"
scripts/mlflow-server.sh start "$services/mlflow" > "$services/mlflow.out" 2>&1 &
plain=$!
scripts/mlflow-server.sh start "$services/mlflow-auth" --auth > "$services/mlflow-auth.out" 2>&1 &
auth=$!

step "cargo fmt --check"
cargo fmt --all -- --check

step "compose stack: static validation (Compose config, compose-spec schema, hadolint, paths)"
scripts/validate-compose.sh

step "cargo clippy -D warnings"
cargo clippy --release --locked --all-targets --all-features -- -D warnings

step "build"
cargo build --release --locked --all-targets --all-features

step "waiting for MLflow"
wait "$plain" || { cat "$services/mlflow.out"; exit 1; }
wait "$auth" || { cat "$services/mlflow-auth.out"; exit 1; }
cat "$services/mlflow.out" "$services/mlflow-auth.out"
export CHURNKIT_REQUIRE_MLFLOW=1
export CHURNKIT_TEST_MLFLOW_URI=$(cat "$services/mlflow/uri")
export CHURNKIT_TEST_MLFLOW_AUTH_URI=$(cat "$services/mlflow-auth/uri")
export CHURNKIT_TEST_MLFLOW_ADMIN_PASSWORD=$(cat "$services/mlflow-auth/admin_password")

step "cargo test (unit, integration, doc, real MLflow)"
cargo test --release --locked --all-features

step "waiting for the Jupyter/evcxr set-up"
wait "$jupyter_setup" || { cat "$services/jupyter-setup.out"; exit 1; }
tail -3 "$services/jupyter-setup.out"
export CHURNKIT_REQUIRE_NOTEBOOKS=1

step "python tests (scikit-learn parity, MLflow's own client, notebooks on the evcxr kernel)"
"$CHURNKIT_VENV/bin/python" -m pytest -q -rA churnkit/tests/python

step "all tests passed"
