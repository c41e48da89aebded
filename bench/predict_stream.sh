#!/usr/bin/env bash
# Peak memory and wall time of `churnkit predict` on large CSVs: read a part at a time (the
# default, 65,536 rows) and whole (--chunk-rows above the file's rows, what predict did before),
# with a 100-tree, depth-10 forest; the two outputs compared byte for byte.
#
# Usage: bench/predict_stream.sh [ROWS ...]   (default: 1000000 4000000); needs the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bin="$CHURNKIT_BIN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
"$bin" -q generate --rows 100000 --seed 7 --output "$work/data/train.csv"
(cd "$work" && "$bin" -q --no-track pipeline --data data/train.csv --target Churn)
echo "| rows | input MiB | read | wall s | peak RSS MiB |"
echo "|---:|---:|---|---:|---:|"
for rows in "${@:-1000000 4000000}"; do
  for r in $rows; do
    "$bin" -q generate --rows "$r" --seed 11 --output "$work/big.csv"
    mib=$(( $(stat -c %s "$work/big.csv") / 1048576 ))
    for mode in parts whole; do
      chunk=$([ "$mode" = parts ] && echo 65536 || echo $((r + 1)))
      (cd "$work" && /usr/bin/time -f "%e %M" -o "$work/time" "$bin" -q predict --input big.csv \
        --output "out-$mode.csv" --chunk-rows "$chunk")
      read -r wall kib < "$work/time"
      echo "| $r | $mib | $mode | $wall | $(( kib / 1024 )) |"
    done
    cmp "$work/out-parts.csv" "$work/out-whole.csv" && echo "(identical outputs at $r rows)" >&2
  done
done
