#!/usr/bin/env bash
# Install, idempotently, what the browser test needs: Debian's chromium and chromium-driver (the
# test drives them through selenium, from scripts/requirements-test.txt; no driver download).
# Needs root and apt-get; elsewhere it says so and the browser test skips.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "browser-setup: chromium $(chromium --version 2>/dev/null | awk '{print $2}') and chromedriver present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser-setup: no chromium/chromedriver and no root apt-get to install them: the browser test will skip"
  exit 0
fi
echo "browser-setup: installing chromium and chromium-driver (Debian)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; }
echo "browser-setup: chromium $(chromium --version 2>/dev/null | awk '{print $2}') installed"
