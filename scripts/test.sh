#!/usr/bin/env bash
# The whole test suite (what .ci/run calls). Installs what it needs, idempotently, and keeps
# build caches outside the checkout (see scripts/env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=$SECONDS
step() { printf '\n==> %s  [%ds]\n' "$*" $((SECONDS - start)); }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --release --locked --all-targets -- -D warnings

step "cargo test (unit, integration, doc)"
cargo test --release --locked

step "python venv"
scripts/venv.sh

step "python tests (scikit-learn parity)"
"$CHURNKIT_VENV/bin/python" -m pytest -q churnkit/tests/python

step "all tests passed"
