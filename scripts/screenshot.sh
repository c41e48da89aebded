#!/usr/bin/env bash
# Headless Chromium screenshot of a page (e.g. an MLflow run page), for looking at what users see.
#   scripts/screenshot.sh URL OUT.png [WIDTHxHEIGHT]
# Needs Debian's chromium (apt-get install chromium).
set -euo pipefail
url=${1:?url} out=${2:?out.png} size=${3:-1400x1000}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --window-size="${size/x/,}" --virtual-time-budget=30000 --screenshot="$out" "$url" 2>/dev/null
echo "wrote $out"
