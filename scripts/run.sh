#!/usr/bin/env bash
# The main job: build churnkit and run preprocess -> train -> evaluate on data/sample_data.csv.
# No server needed. Extra arguments go to `churnkit pipeline` (e.g. --data FILE --target Churn).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked --quiet -p churnkit-cli
"$CHURNKIT_BIN" pipeline "$@"
