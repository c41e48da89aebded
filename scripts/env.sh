# Sourced by the scripts: where caches live. Everything heavy stays outside the checkout, so a
# fresh clone on the same machine rebuilds incrementally.
export CHURNKIT_CACHE="${CHURNKIT_CACHE:-$HOME/.cache/churnkit}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CHURNKIT_CACHE/target}"
export CHURNKIT_VENV="${CHURNKIT_VENV:-$PWD/.venv}"
export CHURNKIT_BIN="$CARGO_TARGET_DIR/release/churnkit"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
