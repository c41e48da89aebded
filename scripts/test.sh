#!/usr/bin/env bash
# The whole test suite (what .ci/run calls). Installs what it needs, idempotently, starts the
# real services the tests use on 127.0.0.1 and stops them at the end. Build caches stay outside
# the checkout (see scripts/env.sh), so a second run on the same machine is incremental.
# However it ends (success, a failing step, SIGINT, SIGTERM), nothing it started keeps running:
# every step and background job runs in its own process group, which the exit trap ends (see
# jobs_init in scripts/lib.sh) before it stops the MLflow servers; the exit status is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
start=$SECONDS
step() { printf '\n==> %s  [%ds]\n' "$*" $((SECONDS - start)); }

services=$(mktemp -d "${TMPDIR:-/tmp}/churnkit-services.XXXXXX")
jobs_init
at_exit rm -rf "$services"
at_exit mlflow_stop "$services/mlflow"
at_exit mlflow_stop "$services/mlflow-auth"
at_exit scripts/team-server.sh stop "$services/team"
# The team server's PostgreSQL runs as the postgres user, who must get through this directory.
chmod 711 "$services"

step "python venv (MLflow, scikit-learn, pytest)"
job_run scripts/venv.sh

step "headless browser (Debian's chromium and chromedriver, for the Jupyter Lab test)"
job_run scripts/browser-setup.sh
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  export CHURNKIT_REQUIRE_BROWSER=1
fi

step "Java runtime (Debian's headless OpenJDK, for the PySpark test)"
job_run scripts/java-setup.sh
if command -v java >/dev/null; then
  export CHURNKIT_REQUIRE_SPARK=1
fi

# One compile gives the lints and the build: cargo runs clippy-driver as the compiler of
# churnkit's own crates (what `cargo clippy` does, but there in check mode, so every dependency
# was compiled twice: checked for clippy, then built). Every cargo step below that builds
# churnkit's crates uses it, so none recompiles them; kernels and evcxr never see it.
clippy_driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
lint=(env RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__")

step "Jupyter + evcxr Rust kernel (background; evcxr_jupyter builds once per machine)"
job_start "${lint[@]}" scripts/jupyter-setup.sh > "$services/jupyter-setup.out" 2>&1
jupyter_setup=$!

step "MLflow servers (plain and basic-auth), started in the background"
job_start scripts/mlflow-server.sh start "$services/mlflow" > "$services/mlflow.out" 2>&1
plain=$!
job_start scripts/mlflow-server.sh start "$services/mlflow-auth" --auth > "$services/mlflow-auth.out" 2>&1
auth=$!
step "team MLflow server (PostgreSQL + SeaweedFS S3 store), started in the background"
job_start scripts/team-server.sh start "$services/team" > "$services/team.out" 2>&1
team=$!

step "cargo fmt --check"
job_run cargo fmt --all -- --check

step "compose stack: static validation (Compose config, compose-spec schema, hadolint, paths)"
job_run scripts/validate-compose.sh

step "build, with clippy -D warnings on churnkit's crates in the same compile"
job_run "${lint[@]}" cargo build --release --locked --all-targets --all-features

step "waiting for MLflow"
job_wait "$plain" || { cat "$services/mlflow.out"; exit 1; }
job_wait "$auth" || { cat "$services/mlflow-auth.out"; exit 1; }
cat "$services/mlflow.out" "$services/mlflow-auth.out"
# The MLflow servers and the Telco data (../shared) are required here: tests that would skip
# without them on a plain clone fail instead (the Rust and the Python tests honour both).
export CHURNKIT_REQUIRE_MLFLOW=1 CHURNKIT_REQUIRE_TELCO=1
CHURNKIT_TEST_MLFLOW_URI=$(cat "$services/mlflow/uri")
CHURNKIT_TEST_MLFLOW_AUTH_URI=$(cat "$services/mlflow-auth/uri")
CHURNKIT_TEST_MLFLOW_ADMIN_PASSWORD=$(cat "$services/mlflow-auth/admin_password")
export CHURNKIT_TEST_MLFLOW_URI CHURNKIT_TEST_MLFLOW_AUTH_URI CHURNKIT_TEST_MLFLOW_ADMIN_PASSWORD

step "cargo test (unit, integration, doc, real MLflow)"
job_run "${lint[@]}" cargo test --release --locked --all-features

step "waiting for the team server; the tracking and registry tests again, against it"
job_wait "$team" || { cat "$services/team.out"; exit 1; }
tail -2 "$services/team.out"
set -a
source "$services/team/team.env"
set +a
export CHURNKIT_REQUIRE_TEAM=1
job_run "${lint[@]}" CHURNKIT_TEST_MLFLOW_URI="$CHURNKIT_TEST_MLFLOW_TEAM_URI" cargo test --release --locked \
  --all-features --test cli -- mlflow:: registry::

step "waiting for the Jupyter/evcxr set-up"
job_wait "$jupyter_setup" || { cat "$services/jupyter-setup.out"; exit 1; }
tail -3 "$services/jupyter-setup.out"
export CHURNKIT_REQUIRE_NOTEBOOKS=1

step "python tests (scikit-learn parity, MLflow's own client, notebooks on the evcxr kernel, Lab in a browser)"
job_run "$CHURNKIT_VENV/bin/python" -m pytest -q -rA --durations=15 tests

step "all tests passed"
