#!/usr/bin/env bash
# What the infra test tier needs besides the project's .venv:
#   - shellcheck, from the system's packages (apt-get on Debian-like systems);
#   - checkov, in its own virtual environment .venv-checkov (its boto3 pin clashes with moto's).
# Idempotent: when both are present it only checks them and returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
CHECKOV_VENV=".venv-checkov"
CHECKOV_VERSION="3.3.30"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup-infra: '$*' needs root and sudo is not installed" >&2
        return 1
    fi
}

if ! command -v shellcheck >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-infra: shellcheck is missing and there is no apt-get here;" \
            "install shellcheck with your system's package manager" >&2
        exit 1
    fi
    echo "setup-infra: installing shellcheck (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi

stamp="$CHECKOV_VENV/.installed-$CHECKOV_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
    echo "setup-infra: installing checkov $CHECKOV_VERSION into $CHECKOV_VENV"
    rm -rf "$CHECKOV_VENV"
    "$PYTHON" -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$CHECKOV_VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
    touch "$stamp"
fi

echo "setup-infra: $(shellcheck --version | sed -n 's/^version: /shellcheck /p'), checkov $CHECKOV_VERSION ($CHECKOV_VENV)"
