#!/usr/bin/env bash
# Install, idempotently, what the Rust notebooks need:
#  - JupyterLab and nbclient in the project venv (scripts/venv.sh),
#  - evcxr_jupyter (pinned) into ~/.cache/churnkit/evcxr (cargo install, built outside the clone),
#  - the rust-src component (evcxr's type inference needs it),
#  - the churnkit notebook engine (churnkit-engine, release build), stripped and copied under a
#    name made of its hash ($CHURNKIT_CACHE/engine/), so a rebuild never rewrites a library a
#    running kernel has loaded,
#  - the "rust" kernelspec in the venv, with EVCXR_TMPDIR / EVCXR_CONFIG_DIR set (this
#    checkout's jupyter-config/evcxr unless CHURNKIT_EVCXR_CONFIG_DIR says otherwise) and
#    CHURNKIT_ENGINE (the engine churnkit-cells loads), and evcxr's own version.txt beside it,
#    so that no kernel replaces it.
# Concurrent runs on one machine take turns on the shared caches: the venv under its lock
# (scripts/venv.sh), the evcxr install (check, cargo install, removing its target directory),
# rust-src and the kernelspec under $CHURNKIT_CACHE/evcxr.lock (see with_lock in lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
EVCXR_VERSION=0.22.0
evcxr_root="$CHURNKIT_CACHE/evcxr"
evcxr_bin="$evcxr_root/bin/evcxr_jupyter"
# evcxr's build directory, reused by every kernel. Not under $HOME: evcxr links cells with a
# relative rpath that is one level short, which only resolves when the path from the build
# directory to the toolchain (~/.rustup) climbs all the way to / (so not from inside $HOME).
export EVCXR_TMPDIR="${CHURNKIT_EVCXR_TMPDIR:-/var/tmp/churnkit-evcxr-$(id -u)}"

scripts/venv.sh

# The engine: cargo builds incrementally (seconds when nothing changed). Built beside the CLI, so
# that both resolve their dependencies' features alike and share one build of polars.
engine_dir="$CHURNKIT_CACHE/engine"
mkdir -p "$engine_dir"
built="$CARGO_TARGET_DIR/release/libchurnkit_engine.so"
# The cells' protocol version: FNV-1a (32 bits) of the op table, as churnkit-protocol computes it.
want=$(python3 -c 'import sys
h = 0x811c9dc5
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print(h)' churnkit/protocol/src/ops.rs)
# check_engine: the library loads and speaks the cells' protocol; else say why on stderr.
check_engine() {
  local got
  if ! got=$(python3 -c 'import ctypes, sys; f = ctypes.CDLL(sys.argv[1]).churnkit_engine_protocol; f.restype = ctypes.c_uint32; print(f())' "$built" 2>&1); then
    echo "jupyter-setup: the engine $built does not load: ${got##*$'\n'}" >&2
    return 1
  fi
  if [ "$got" != "$want" ]; then
    echo "jupyter-setup: the engine $built speaks protocol $got, the cells $want" >&2
    return 1
  fi
}
build_engine() { cargo build --release --locked --quiet -p churnkit-engine -p churnkit-cli; }
build_engine
# A damaged build output (cargo takes a file it did not write for up to date) is removed and
# built once more; an engine that still does not load is refused before a kernelspec names it.
if ! check_engine; then
  echo "jupyter-setup: rebuilding the engine" >&2
  rm -f "$built" "$CARGO_TARGET_DIR"/release/deps/libchurnkit_engine*.so
  build_engine
  check_engine || exit 1
fi
tmp=$(mktemp "$engine_dir/.engine.XXXXXX")
strip --strip-debug -o "$tmp" "$built" 2>/dev/null || cp "$built" "$tmp"
sum=$(sha256sum "$tmp" | cut -c1-16)
export CHURNKIT_ENGINE="$engine_dir/libchurnkit_engine-$sum.so"
if [ -f "$CHURNKIT_ENGINE" ]; then rm -f "$tmp"; else chmod 755 "$tmp" && mv "$tmp" "$CHURNKIT_ENGINE"; fi
# Keep the five newest engines (older kernels may still have one loaded), drop the rest.
ls -1t "$engine_dir"/libchurnkit_engine-*.so 2>/dev/null | tail -n +6 | xargs -r rm -f

install() {
  if ! [ -x "$evcxr_bin" ] || ! grep -qs "^$EVCXR_VERSION\$" "$evcxr_root/.version"; then
    echo "jupyter-setup: installing evcxr_jupyter $EVCXR_VERSION (about 20 CPU-minutes, once per machine)"
    # (No clippy wrapper, should the caller use one for its own crates: evcxr is not ours.)
    env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS CARGO_TARGET_DIR="$CHURNKIT_CACHE/evcxr-install-target" \
      cargo install --quiet --locked --root "$evcxr_root" --version "$EVCXR_VERSION" evcxr_jupyter
    echo "$EVCXR_VERSION" > "$evcxr_root/.version"
    rm -rf "$CHURNKIT_CACHE/evcxr-install-target"
  fi

  if command -v rustup >/dev/null && ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup component add rust-src
  fi

  kdir="$CHURNKIT_VENV/share/jupyter/kernels/rust"
  mkdir -p "$kdir" "$EVCXR_TMPDIR"
  # evcxr_jupyter re-installs a plain kernel.json (without our env) over the spec it finds
  # under $JUPYTER_PATH when that spec's version.txt differs from its own. Take its own files
  # (version.txt, logos, kernel.js) from a scratch install, so it finds the spec current.
  scratch=$(mktemp -d)
  if JUPYTER_PATH="$scratch" "$evcxr_bin" --install >/dev/null 2>&1 && [ -f "$scratch/kernels/rust/version.txt" ]; then
    for f in "$scratch"/kernels/rust/*; do
      [ "$(basename "$f")" = kernel.json ] || cmp -s "$f" "$kdir/$(basename "$f")" || cp "$f" "$kdir/"
    done
  else
    echo "jupyter-setup: warning: evcxr_jupyter --install wrote no version.txt; a kernel may replace $kdir/kernel.json" >&2
  fi
  rm -rf "$scratch"
  python3 - "$kdir/kernel.json" "$evcxr_bin" "$EVCXR_TMPDIR" "${CHURNKIT_EVCXR_CONFIG_DIR:-$PWD/jupyter-config/evcxr}" "$CHURNKIT_ENGINE" <<'PY'
import json, os, sys
path, binary, tmpdir, config, engine = sys.argv[1:]
spec = {
    "argv": [binary, "--control_file", "{connection_file}"],
    "display_name": "Rust",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {"EVCXR_TMPDIR": tmpdir, "EVCXR_CONFIG_DIR": config, "CHURNKIT_ENGINE": engine},
}
old = None
try:
    old = json.load(open(path))
except Exception:
    pass
if old != spec:
    # Atomically: a Jupyter server may be reading it.
    with open(path + ".tmp", "w") as f:
        json.dump(spec, f, indent=1)
    os.replace(path + ".tmp", path)
    print(f"jupyter-setup: wrote kernelspec {path}")
PY
}
with_lock "$CHURNKIT_CACHE/evcxr.lock" install

echo "jupyter-setup: ready (evcxr_jupyter $EVCXR_VERSION, build dir $EVCXR_TMPDIR, engine $CHURNKIT_ENGINE)"
