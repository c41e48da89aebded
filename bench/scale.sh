#!/usr/bin/env bash
# Speed and scale of the whole job against scikit-learn and LightGBM, in one run (bench/scale.py).
# Installs LightGBM into .venv (bench/requirements-bench.txt) if missing.
# Usage: bench/scale.sh [--sizes 10000,100000,1000000] [--big 10000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/venv.sh >/dev/null
"$CHURNKIT_VENV/bin/python" -c "import lightgbm" 2>/dev/null ||
  "$CHURNKIT_VENV/bin/pip" install --quiet -r bench/requirements-bench.txt
cargo build --release --locked --quiet --all-features --all-targets
export CHURNKIT_PREDICT_BENCH="$CARGO_TARGET_DIR/release/examples/bench_predict"
export CHURNKIT_FIT_BENCH="$CARGO_TARGET_DIR/release/examples/bench_fit"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$CHURNKIT_VENV/bin/python" bench/scale.py "$@"
