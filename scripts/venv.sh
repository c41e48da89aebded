#!/usr/bin/env bash
# Create or update the project-local Python venv (.venv) from scripts/requirements-test.txt.
# Idempotent: does nothing when the requirements have not changed since the last install.
# Concurrent runs (two test suites, or jupyter-setup.sh beside test.sh) take turns: the check and
# the install hold the venv's lock ($CHURNKIT_VENV/.churnkit.lock, see with_lock in lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
req=scripts/requirements-test.txt
stamp="$CHURNKIT_VENV/.churnkit-requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)

install() {
  if [ -x "$CHURNKIT_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "venv: $CHURNKIT_VENV up to date"
    return 0
  fi
  [ -x "$CHURNKIT_VENV/bin/python" ] || python3 -m venv "$CHURNKIT_VENV"
  "$CHURNKIT_VENV/bin/pip" install --quiet --requirement "$req"
  echo "$want" > "$stamp"
  echo "venv: installed $req into $CHURNKIT_VENV"
}
with_lock "$CHURNKIT_VENV/.churnkit.lock" install
