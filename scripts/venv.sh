#!/usr/bin/env bash
# Create or update the project-local Python venv (.venv) from scripts/requirements-test.txt.
# Idempotent: does nothing when the requirements have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
req=scripts/requirements-test.txt
stamp="$CHURNKIT_VENV/.churnkit-requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$CHURNKIT_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "venv: $CHURNKIT_VENV up to date"
  exit 0
fi
[ -x "$CHURNKIT_VENV/bin/python" ] || python3 -m venv "$CHURNKIT_VENV"
"$CHURNKIT_VENV/bin/pip" install --quiet --requirement "$req"
echo "$want" > "$stamp"
echo "venv: installed $req into $CHURNKIT_VENV"
