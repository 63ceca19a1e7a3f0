#!/usr/bin/env bash
# Placeholder: filled in by its issue.
set -euo pipefail
