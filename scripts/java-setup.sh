#!/usr/bin/env bash
# Install, idempotently, what the Spark test needs: a Java runtime for PySpark (Debian's headless
# OpenJDK 17; PySpark itself comes from scripts/requirements-test.txt). Needs root and apt-get;
# elsewhere it says so and the Spark test skips.
set -euo pipefail
if command -v java >/dev/null; then
  echo "java-setup: $(java -version 2>&1 | head -1) present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "java-setup: no java and no root apt-get to install it: the Spark test will skip"
  exit 0
fi
echo "java-setup: installing openjdk-17-jre-headless (Debian)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null; }
echo "java-setup: $(java -version 2>&1 | head -1) installed"
