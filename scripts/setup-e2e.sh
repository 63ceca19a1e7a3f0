#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (Playwright's own browser download
# does not work everywhere, and the tests launch the system Chromium). Idempotent and quiet.
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-e2e: $CHROMIUM is missing and apt-get is not available." >&2
    echo "Install Chromium with your package manager and set CHROMIUM_PATH to it." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "setup-e2e: installing Debian's chromium (one time)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version
