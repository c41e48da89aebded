#!/usr/bin/env bash
# The main job: build churnkit and run preprocess -> train -> evaluate on data/sample_data.csv.
# No server needed. Extra arguments go to `churnkit pipeline` (e.g. --data FILE --target Churn).
# It says what it is doing: on a terminal cargo draws its progress bar; elsewhere (CI, a log) a
# line a minute shows the build is alive without listing every crate.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=$SECONDS
if [ -x "$CHURNKIT_BIN" ]; then
  echo "run: checking the churnkit build in $CARGO_TARGET_DIR" >&2
else
  echo "run: building churnkit (release) in $CARGO_TARGET_DIR; the first build takes a few minutes (about 8 on 2 cores)" >&2
fi
if [ -t 2 ] && [ -z "${CI:-}" ]; then
  cargo build --release --locked -p churnkit-cli
else
  (while sleep 60; do echo "run: still building ($((SECONDS - start)) s)" >&2; done) &
  beat=$!
  trap 'kill "$beat" 2>/dev/null || true' EXIT
  cargo build --release --locked --quiet -p churnkit-cli
  kill "$beat" 2>/dev/null || true
fi
echo "run: built in $((SECONDS - start)) s; churnkit pipeline $*" >&2
"$CHURNKIT_BIN" pipeline "$@"
