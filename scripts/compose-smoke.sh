#!/usr/bin/env bash
# Smoke test of the compose stack on a real Docker engine. Not part of CI: the images take
# tens of minutes to build from cold (the jupyter image compiles evcxr_jupyter and pre-builds
# churnkit's notebook dependencies).
#
#   1. engine      use the running Docker engine; if none answers and we are root, install
#                  Debian's docker.io if needed and start dockerd for the duration of the test
#   2. checkout    a copy of this checkout's tracked and untracked-but-not-ignored files, so the
#                  stack's bind mounts (data/, models/, metrics/, notebooks/) never touch yours
#   3. base images the upstream defaults if present or pullable; otherwise (no registry, as on a
#                  sandboxed machine) stand-ins built from a Debian root filesystem by mmdebstrap,
#                  passed through the Dockerfiles' base-image build ARGs (see "stand-ins" below)
#   4. build       each image on its own, timed (docker compose build SERVICE)
#   5. up          docker compose up -d --wait, timed
#   6. checks      MLflow /health; the pipeline service end to end with the guide's commands
#                  (preprocess, train with custom hyperparameters, evaluate, the depth-tuning loop)
#                  and then run-pipeline.sh in Docker mode; the runs found in MLflow over REST;
#                  Jupyter lists the Rust kernel; a kernel started through Jupyter's REST API
#                  runs cells that use churnkit and read the pipeline's run back from
#                  http://mlflow:5000 inside the network
#   7. down        docker compose down -v: no container or volume of the project left, its images
#                  (tag `smoke`, CHURNKIT_IMAGE_TAG) removed; the stand-in bases stay for next time
#                  (churnkit-smoke-standin/*), and so does the engine's build cache
#
# Usage: scripts/compose-smoke.sh [--keep] [--standins auto|always|never]
#   --keep       leave the stack running and the copy in place (prints how to stop it)
#   --standins   auto (default): stand-ins only for base images that cannot be found or pulled
# Prints a summary with the time of every step; exits non-zero at the first failed check (after
# printing the failing services' logs and taking the stack down).
#
# Stand-ins (local scaffolding that lives only here, never in the Dockerfiles): Debian bookworm
# root filesystems with what the upstream image provides that the Dockerfiles rely on:
#   python:3.11-slim-bookworm  Debian's python3 (3.11) + pip + venv, `python` on PATH, pip allowed to
#                              install system-wide (PIP_BREAK_SYSTEM_PACKAGES, as upstream's pip can)
#   rust:1.95-slim-bookworm    gcc + libc6-dev, and this machine's 1.95.0 toolchain (rustup, cargo,
#                              rustc, clippy, rustfmt, rust-src) under /usr/local/{rustup,cargo}
#                              with upstream's RUSTUP_HOME/CARGO_HOME/PATH and a+w permissions;
#                              the toolchain is copied because static.rust-lang.org is unreachable
#   debian:bookworm-slim       minbase + ca-certificates
# Each trusts the CA certificates this machine added to its store (non-Mozilla files in
# /etc/ssl/certs), so TLS through an intercepting egress proxy verifies inside builds too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
src=$PWD

keep=0
standins=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --standins) standins=${2:?--standins needs auto, always or never}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compose-smoke: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$standins" in auto|always|never) ;; *) echo "compose-smoke: --standins auto|always|never" >&2; exit 2 ;; esac

work=${CHURNKIT_SMOKE_DIR:-$CHURNKIT_CACHE/compose-smoke}
project=churnkit-smoke
token=smoke-$RANDOM$RANDOM
started=$SECONDS
summary=()
say() { printf '==> %s  [%ds]\n' "$*" $((SECONDS - started)); }
record() { summary+=("$(printf '%-46s %s' "$1" "$2")"); printf '    %-46s %s\n' "$1" "$2"; }
fail() { echo "compose-smoke: FAIL: $*" >&2; exit 1; }
timed() {  # timed LABEL COMMAND...: run it, record its wall time
  local label=$1 t0=$SECONDS; shift
  "$@"
  record "$label" "$((SECONDS - t0)) s"
}

repo=$work/repo
dockerd_pid=
stack_started=
compose_bin=(docker compose)
# Its own image tag, so the smoke test's images (perhaps on stand-in bases) never replace the
# ones a plain `docker compose up` uses; removed at the end.
export CHURNKIT_IMAGE_TAG=smoke
compose() { (cd "$repo" && "${compose_bin[@]}" -p "$project" "$@"); }
engine_up() { docker info >/dev/null 2>&1; }
cleanup() {
  local rc=$?
  if [ $rc != 0 ] && [ -n "$stack_started" ]; then
    echo "---- logs of the stack (last 40 lines per service) ----" >&2
    compose --profile pipeline logs --no-color --tail 40 >&2 || true
  fi
  if [ "$keep" = 1 ] && [ $rc = 0 ]; then
    echo "compose-smoke: stack left running (--keep): MLflow http://127.0.0.1:5000," \
      "Jupyter http://127.0.0.1:${JUPYTER_PORT:-8888}/lab?token=$token;" \
      "stop it with: cd $repo && ${compose_bin[*]} -p $project --profile pipeline down -v"
  else
    if [ -n "$stack_started" ]; then
      compose --profile pipeline down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    if [ -n "$dockerd_pid" ] || engine_up; then
      docker rmi "churnkit-mlflow:$CHURNKIT_IMAGE_TAG" "churnkit-jupyter:$CHURNKIT_IMAGE_TAG" \
        "churnkit-pipeline:$CHURNKIT_IMAGE_TAG" >/dev/null 2>&1 || true
    fi
    if [ -n "$dockerd_pid" ]; then
      kill "$dockerd_pid" 2>/dev/null || true
      wait "$dockerd_pid" 2>/dev/null || true
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The host side of the Jupyter check runs in the project venv (websocket-client comes with
# jupyter_server).
scripts/venv.sh >/dev/null

# ---- 1. engine ---------------------------------------------------------------------------
install_docker() {
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers, and only root can install and start one"
  say "installing Debian's docker.io (docker, dockerd)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io iptables >/dev/null
}
start_engine() {
  command -v dockerd >/dev/null || install_docker
  mkdir -p "$work"
  say "starting dockerd (log $work/dockerd.log)"
  dockerd > "$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do engine_up && return 0; sleep 1; done
  fail "dockerd did not answer within 60 s (see $work/dockerd.log)"
}
command -v docker >/dev/null || install_docker
engine_up || start_engine

# Compose v2: the docker plugin if there is one. Otherwise the Compose binary that the static
# validation installs, behind a `docker` shim on PATH, because run-pipeline.sh and the guide's
# commands say `docker compose`.
if ! docker compose version >/dev/null 2>&1; then
  scripts/validate-compose.sh >/dev/null
  compose_standalone=$("$CHURNKIT_VENV/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
  real_docker=$(command -v docker)
  mkdir -p "$work/bin"
  cat > "$work/bin/docker" <<SHIM
#!/bin/sh
# docker compose -> Compose v2 from the project venv (written by scripts/compose-smoke.sh)
if [ "\$1" = compose ]; then shift; exec "$compose_standalone" "\$@"; fi
exec "$real_docker" "\$@"
SHIM
  chmod +x "$work/bin/docker"
  export PATH=$work/bin:$PATH
  docker compose version >/dev/null || fail "no usable Compose v2"
fi
say "engine: $(docker version --format 'server {{.Server.Version}}'), compose: $(docker compose version --short)"

# ---- 2. checkout copy -------------------------------------------------------------------
for port in 5000 "${JUPYTER_PORT:-8888}"; do
  if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    fail "127.0.0.1:$port is in use (a running stack or server?): stop it first"
  fi
done

say "copying the checkout to $repo"
rm -rf "$repo"
mkdir -p "$repo"
# (--ignore-failed-read: files deleted but not yet committed are skipped.)
git ls-files -z --cached --others --exclude-standard \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$repo"
rm -f "$repo/.env"
# The containers' user writes the bind-mounted directories. As root, give them to the default
# CHURNKIT_UID (1000); otherwise run the containers as the caller, as run-pipeline.sh does.
if [ "$(id -u)" = 0 ]; then
  export CHURNKIT_UID=1000 CHURNKIT_GID=1000
else
  export CHURNKIT_UID=$(id -u) CHURNKIT_GID=$(id -g)
fi
mkdir -p "$repo/data/processed" "$repo/models" "$repo/metrics"
chown -R "$CHURNKIT_UID:$CHURNKIT_GID" "$repo/data" "$repo/models" "$repo/metrics" "$repo/notebooks"
export JUPYTER_TOKEN=$token

# ---- 3. base images ---------------------------------------------------------------------
extra_cas() {  # CA certificates this machine added to its store (not Debian's Mozilla bundle,
  # not ssl-cert's snakeoil server certificate)
  { find /etc/ssl/certs -maxdepth 1 -name '*.pem' -type f ! -name 'ssl-cert-snakeoil.pem'
    find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null || true; } | sort
}
ca_hook() {  # an mmdebstrap customize hook that installs the extra CAs into the root filesystem
  local f hook='mkdir -p "$1/usr/local/share/ca-certificates/churnkit-smoke"'
  while read -r f; do
    hook+="; cp '$f' \"\$1/usr/local/share/ca-certificates/churnkit-smoke/$(basename "${f%.*}").crt\""
  done < <(extra_cas)
  printf '%s; chroot "$1" update-ca-certificates >/dev/null 2>&1' "$hook"
}
# What Docker's debian images add to a bare root filesystem: apt keeps no package caches, dpkg
# installs no docs, man pages or translations.
slim_opts=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --customize-hook='cat > "$1/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF'
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*')
debian_mirror=http://deb.debian.org/debian
common_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

rootfs() {  # PACKAGES [HOOK...]: a slim bookworm root filesystem with the extra CAs, in rootfs.tar
  local packages=$1 hook hooks=()
  shift
  for hook in "$(ca_hook)" "$@"; do hooks+=(--customize-hook="$hook"); done
  mmdebstrap --quiet --variant=minbase "${slim_opts[@]}" --include="ca-certificates${packages:+,$packages}" \
    "${hooks[@]}" bookworm "$work/rootfs.tar" "$debian_mirror"
}
import_rootfs() {  # TAG CHANGE...: rootfs.tar as image TAG, with Dockerfile-style config changes
  local tag=$1 change changes=()
  shift
  for change in 'ENV LANG=C.UTF-8' "$@"; do changes+=(--change "$change"); done
  docker import "${changes[@]}" "$work/rootfs.tar" "$tag" >/dev/null
}

standin_debian() {  # TAG
  rootfs ""
  import_rootfs "$1" "ENV PATH=$common_path" 'CMD ["bash"]'
}
standin_python() {  # TAG
  rootfs python3,python3-pip,python3-venv 'ln -sf python3 "$1/usr/bin/python"'
  import_rootfs "$1" "ENV PATH=$common_path" 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' 'CMD ["python3"]'
}
standin_rust() {  # TAG
  local rustup_home=${RUSTUP_HOME:-$HOME/.rustup} toolchain=1.95.0-x86_64-unknown-linux-gnu tc
  tc=$(readlink -f "$rustup_home/toolchains/$toolchain") || fail "no $toolchain toolchain in $rustup_home"
  [ -d "$tc/lib/rustlib/src" ] || fail "the $toolchain toolchain has no rust-src (rustup component add rust-src)"
  local rustup_bin
  rustup_bin=$(command -v rustup) || fail "no rustup on PATH to copy into the rust stand-in"
  # Upstream's layout: RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo, the proxies
  # in /usr/local/cargo/bin, everything world-writable. Docs are left out (1 GB, unused).
  rootfs gcc,libc6-dev,wget "mkdir -p \"\$1/usr/local/rustup/toolchains/$toolchain\" \"\$1/usr/local/cargo/bin\"
      tar -C '$tc' --exclude=./share/doc -cf - . | tar -C \"\$1/usr/local/rustup/toolchains/$toolchain\" -xf -
      printf 'version = \"12\"\ndefault_toolchain = \"$toolchain\"\nprofile = \"minimal\"\n' > \"\$1/usr/local/rustup/settings.toml\"
      cp '$rustup_bin' \"\$1/usr/local/cargo/bin/rustup\"
      for p in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver rust-gdb rust-lldb; do ln -s rustup \"\$1/usr/local/cargo/bin/\$p\"; done
      chmod -R a+w \"\$1/usr/local/rustup\" \"\$1/usr/local/cargo\""
  import_rootfs "$1" 'ENV RUSTUP_HOME=/usr/local/rustup' 'ENV CARGO_HOME=/usr/local/cargo' \
    "ENV PATH=/usr/local/cargo/bin:$common_path" 'ENV RUST_VERSION=1.95.0' 'CMD ["bash"]'
}

base_image() {  # VAR UPSTREAM KIND: export VAR as the image the build will use
  local var=$1 upstream=$2 kind=$3 tag
  if [ "$standins" != always ]; then
    if docker image inspect "$upstream" >/dev/null 2>&1 || timeout 120 docker pull -q "$upstream" >/dev/null 2>&1; then
      export "$var=$upstream"
      record "base $upstream" "upstream"
      return
    fi
    [ "$standins" = never ] && fail "cannot find or pull $upstream (and --standins never)"
  fi
  tag=churnkit-smoke-standin/$upstream
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >/dev/null
    say "building stand-in $tag"
    timed "stand-in $upstream" "standin_$kind" "$tag"
    rm -f "$work/rootfs.tar"
  else
    record "base $upstream" "stand-in $tag (existing)"
  fi
  export "$var=$tag"
}
say "base images"
base_image PYTHON_IMAGE python:3.11-slim-bookworm python
base_image RUST_IMAGE rust:1.95-slim-bookworm rust
base_image DEBIAN_IMAGE debian:bookworm-slim debian

# ---- 4. build -----------------------------------------------------------------------------
build() {  # SERVICE: build its image, the log to $work/build-SERVICE.log
  compose --profile pipeline build --progress plain "$1" > "$work/build-$1.log" 2>&1 \
    || { tail -40 "$work/build-$1.log" >&2; fail "building $1 (log $work/build-$1.log)"; }
}
for service in mlflow pipeline jupyter; do
  say "building image of $service"
  timed "build $service" build "$service"
  record "  image churnkit-$service:$CHURNKIT_IMAGE_TAG" "$(docker image inspect --format '{{.Size}}' "churnkit-$service:$CHURNKIT_IMAGE_TAG" | awk '{printf "%.0f MB", $1/1e6}')"
done

# ---- 5. up ----------------------------------------------------------------------------------
say "docker compose up -d --wait"
stack_started=1
timed "stack up (up -d --wait, both healthy)" compose up -d --wait --wait-timeout 600

# ---- 6. checks ------------------------------------------------------------------------------
http_get() {  # URL: print the body, fail on an HTTP error
  python3 - "$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
    sys.stdout.write(r.read().decode())
PY
}
health=$(http_get http://127.0.0.1:5000/health) || fail "MLflow /health does not answer"
[ "$health" = OK ] || fail "MLflow /health answered '$health', not OK"
record "mlflow /health" "$health"
ui=$(http_get http://127.0.0.1:5000/) || fail "MLflow's UI page does not load"
grep -qi '<title>MLflow' <<<"$ui" || fail "http://127.0.0.1:5000/ is not MLflow's UI"
record "mlflow UI page (/)" "loads"

say "the guide's commands through the pipeline service"
pipe() { compose run --rm pipeline "$@"; }
out=$(pipe churnkit --version) || fail "churnkit --version in the pipeline image"
record "pipeline: churnkit --version" "$out"
timed "pipeline: churnkit preprocess" pipe churnkit preprocess
timed "pipeline: churnkit train (200 trees, depth 15, split 5)" \
  pipe churnkit train --n-estimators 200 --max-depth 15 --min-samples-split 5
timed "pipeline: churnkit evaluate" pipe churnkit evaluate
t0=$SECONDS
for depth in 5 10 15 20; do
  pipe churnkit train --max-depth $depth --experiment-name "depth-tuning" -q
done
record "pipeline: depth-tuning loop (4 runs)" "$((SECONDS - t0)) s"
for f in data/processed/X_train.csv models/churn_model.json metrics/business_metrics.json metrics/roc_curve.png; do
  [ -s "$repo/$f" ] || fail "the pipeline service left no $f in the bind mount"
done

search_runs() {  # EXPERIMENT: print "run_id<TAB>run_name<TAB>params" lines from MLflow's REST API
  python3 - "$1" <<'PY'
import json, sys, urllib.request
base = "http://127.0.0.1:5000/api/2.0/mlflow"
def call(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)
exp = call("/experiments/get-by-name?experiment_name=" + urllib.request.quote(sys.argv[1]))["experiment"]
runs = call("/runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000}).get("runs", [])
for r in runs:
    params = {p["key"]: p["value"] for p in r["data"].get("params", [])}
    metrics = {m["key"]: m["value"] for m in r["data"].get("metrics", [])}
    print(r["info"]["run_id"], r["info"].get("run_name", ""), r["info"]["status"],
          params.get("n_estimators", "-"), params.get("max_depth", "-"),
          params.get("min_samples_split", "-"), "roc_auc=%s" % metrics.get("roc_auc", "-"),
          sep="\t")
PY
}
runs=$(search_runs churn-prediction) || fail "no experiment churn-prediction in MLflow"
custom=$(awk -F'\t' '$4 == "200" && $5 == "15" && $6 == "5" && $3 == "FINISHED" {print $1}' <<<"$runs" | head -1)
[ -n "$custom" ] || { echo "$runs" >&2; fail "MLflow has no FINISHED run with n_estimators=200 max_depth=15 min_samples_split=5"; }
record "mlflow: the custom train run" "$custom"
depths=$(search_runs depth-tuning | awk -F'\t' '$3 == "FINISHED" {print $5}' | sort -n | tr '\n' ' ') \
  || fail "no experiment depth-tuning in MLflow"
[ "$depths" = "5 10 15 20 " ] || fail "depth-tuning runs in MLflow have max_depth '$depths', want 5 10 15 20"
record "mlflow: depth-tuning runs, max_depth" "$depths"

say "run-pipeline.sh (Docker mode)"
n_before=$(wc -l <<<"$runs")
# Without CHURNKIT_UID: run-pipeline.sh must pick the user the images were built for itself.
(cd "$repo" && env -u CHURNKIT_UID -u CHURNKIT_GID COMPOSE_PROJECT_NAME=$project ./run-pipeline.sh) \
  > "$work/run-pipeline.log" 2>&1 \
  || { tail -30 "$work/run-pipeline.log" >&2; fail "run-pipeline.sh (log $work/run-pipeline.log)"; }
grep -q '^==> mode: docker' "$work/run-pipeline.log" || fail "run-pipeline.sh did not use Docker mode"
grep -q "^==> containers run as uid $CHURNKIT_UID " "$work/run-pipeline.log" \
  || fail "run-pipeline.sh chose another uid than $CHURNKIT_UID: $(grep 'containers run as' "$work/run-pipeline.log")"
n_after=$(search_runs churn-prediction | wc -l) || fail "MLflow search after run-pipeline.sh"
[ "$n_after" -gt "$n_before" ] || fail "run-pipeline.sh added no run to MLflow ($n_before before, $n_after after)"
record "run-pipeline.sh (docker mode): new MLflow runs" "$((n_after - n_before))"

say "Jupyter: kernelspecs and a churnkit cell through the server"
lab=$(http_get "http://127.0.0.1:${JUPYTER_PORT:-8888}/lab?token=$token") || fail "Jupyter Lab's page does not load"
grep -q 'JupyterLab' <<<"$lab" || fail "http://127.0.0.1:${JUPYTER_PORT:-8888}/lab is not JupyterLab"
record "jupyter: /lab page with the token" "loads"
kernels=$(http_get "http://127.0.0.1:${JUPYTER_PORT:-8888}/api/kernelspecs?token=$token") \
  || fail "Jupyter's /api/kernelspecs does not answer"
python3 -c 'import json, sys; specs = json.load(sys.stdin)["kernelspecs"]; sys.exit("rust" not in specs)' <<<"$kernels" \
  || fail "Jupyter does not list the rust kernel: $kernels"
record "jupyter: kernelspecs" "$(python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["kernelspecs"])))' <<<"$kernels")"
"$CHURNKIT_VENV/bin/python" scripts/jupyter-remote-exec.py \
  --url "http://127.0.0.1:${JUPYTER_PORT:-8888}" --token "$token" --kernel rust \
  --expect "$custom" --timeout 900 \
  --cell ':dep churnkit-cells = { path = "../churnkit/cells" }' \
  --cell 'use churnkit_cells::*;
let project = Project::open("..")?;
println!("MLFLOW_TRACKING_URI={}", std::env::var("MLFLOW_TRACKING_URI")?);
println!("runs={:?}", project.recent_run_ids("churn-prediction", 100)?);' \
  --cell 'project.runs("churn-prediction")?' \
  > "$work/jupyter-exec.log" 2>&1 || { cat "$work/jupyter-exec.log" >&2; fail "the churnkit cells through Jupyter"; }
grep -q 'MLFLOW_TRACKING_URI=http://mlflow:5000' "$work/jupyter-exec.log" || fail "the kernel did not see MLFLOW_TRACKING_URI=http://mlflow:5000"
while read -r line; do record "jupyter: $line" ""; done < <(grep '^cell ' "$work/jupyter-exec.log")

# ---- 7. down --------------------------------------------------------------------------------
if [ "$keep" = 1 ]; then
  say "summary"
else
  say "docker compose down -v"
  timed "down -v" compose --profile pipeline down -v --remove-orphans
  stack_started=
  left=$(docker ps -a --filter "label=com.docker.compose.project=$project" -q; docker volume ls -q --filter "label=com.docker.compose.project=$project")
  [ -z "$left" ] || fail "containers or volumes of $project left after down -v: $left"
  rm -rf "$repo"
fi
echo
echo "compose-smoke: PASSED in $((SECONDS - started)) s"
printf '  %s\n' "${summary[@]}"
