#!/usr/bin/env bash
# Benchmark churnkit against scikit-learn (installs scikit-learn into .venv if missing).
# Usage: bench/run.sh [--sizes 10000,100000,1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/venv.sh >/dev/null
cargo build --release --locked --quiet -p churnkit-cli
export CHURNKIT_TELCO="${CHURNKIT_TELCO:-$PWD/../shared/data/telco-customer-churn.csv}"
# OPENBLAS_* slow numpy down on some CPUs here; scikit-learn's forest does not use BLAS, but
# unset them for a fair run anyway.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$CHURNKIT_VENV/bin/python" bench/bench.py "$@"
