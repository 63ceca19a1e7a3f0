#!/usr/bin/env bash
# Builds what Terraform deploys to Lambda (python3.12, arm64):
#   build/function.zip  the project's code only: lambda/chat -> chat/ at the zip's root
#   build/layer.zip     bcrypt and PyJWT for Linux on arm64 (python/ at the zip's root), taken from
#                       pyproject.toml's runtime dependencies (boto3 is in the Lambda runtime)
# Works on any machine: pip fetches the manylinux aarch64 wheels whatever the host is. Both zips are
# reproducible (fixed timestamps, sorted entries), so an unchanged build does not redeploy, and
# the layer is only rebuilt when its requirements change.
#
# Environment: BUILD_DIR (default build/), PYTHON (default: .venv/bin/python, else python3).
set -euo pipefail

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0"
}
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "build_lambda.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build_dir="${BUILD_DIR:-$root/build}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
mkdir -p "$build_dir"

# Writes a deterministic zip of DIR's files to ZIP, each under PREFIX.
zip_tree() {
    "$PYTHON" - "$1" "$2" "$3" <<'PY'
import os
import sys
import zipfile

source, target, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
paths = []
for folder, dirs, files in os.walk(source):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    paths.extend(os.path.join(folder, f) for f in files if not f.endswith((".pyc", ".pyo")))
tmp = target + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for path in sorted(paths):
        name = os.path.join(prefix, os.path.relpath(path, source)).replace(os.sep, "/")
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as handle:
            archive.writestr(info, handle.read())
os.replace(tmp, target)
print(f"{target}: {len(paths)} files, {os.path.getsize(target)} bytes")
PY
}

# 1. The function package: the chat package and nothing else.
if [ ! -f lambda/chat/__init__.py ]; then
    echo "build_lambda.sh: lambda/chat/__init__.py is missing" >&2
    exit 1
fi
zip_tree lambda/chat "$build_dir/function.zip" chat

# 2. The layer: runtime dependencies other than boto3, as manylinux aarch64 wheels for cp312.
requirements="$("$PYTHON" - <<'PY'
import re
import tomllib

with open("pyproject.toml", "rb") as handle:
    deps = tomllib.load(handle)["project"]["dependencies"]
for dep in deps:
    name = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0].lower()
    if name not in ("boto3", "botocore"):
        print(dep)
PY
)"
stamp="$build_dir/layer.requirements"
if [ -f "$build_dir/layer.zip" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$requirements" ]; then
    echo "$build_dir/layer.zip: up to date ($(echo "$requirements" | tr '\n' ' '))"
    exit 0
fi
rm -rf "$build_dir/layer"
requirement_list=()
while IFS= read -r line; do requirement_list+=("$line"); done <<<"$requirements"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
    --implementation cp --python-version 3.12 --only-binary=:all: \
    --target "$build_dir/layer/python" "${requirement_list[@]}"
zip_tree "$build_dir/layer" "$build_dir/layer.zip" ""
printf '%s\n' "$requirements" >"$stamp"
