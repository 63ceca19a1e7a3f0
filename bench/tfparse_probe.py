"""Probe: tfparse (HashiCorp's HCL library, wrapped for Python) against the local cloud's own
Terraform reader (scripts/localcloud/terraform.py), on the repository's terraform/.

Installs tfparse into build/tfparse-probe (once; not a dependency of the project), then, each
in a fresh interpreter, median of 3: the import and the read of terraform/ by each reader; the
websocket_api.tf locals that use `for`; and what each does with a broken local (a `for` over a
number, a non-bool `if`, an unknown name, a syntax error). See docs/local-cloud.md.

    .venv/bin/python bench/tfparse_probe.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TFPARSE_VERSION = "0.6.22"
TARGET = REPO / "build" / "tfparse-probe"

TIMING = """
import json, sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{read}
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1]))
"""
OURS = (
    "from pathlib import Path; from localcloud.terraform import load",
    "load(Path(sys.argv[1]))",
)
THEIRS = ("import tfparse", "tfparse.load_from_path(sys.argv[1])")

LOCALS = """
import json, sys, tfparse
blocks = tfparse.load_from_path(sys.argv[1]).get("locals", [])
found = {k: v for b in blocks for k, v in b.items() if k in sys.argv[2:]}
print(json.dumps(found, default=sorted))
"""
OURS_LOCALS = """
import json, sys
from pathlib import Path
from localcloud.hcl import Unresolved
from localcloud.terraform import TerraformError, _Stack
found = {}
try:
    stack = _Stack(Path(sys.argv[1]), {})
    for name in sys.argv[2:]:
        try:
            found[name] = stack.local(name)
        except (Unresolved, ValueError, TerraformError) as e:
            found[name] = f"error: {e}"
except TerraformError as e:
    found["error"] = str(e)
print(json.dumps(found, default=sorted))
"""
BROKEN = {
    "for over a number": "[for x in 3 : x]",
    "non-bool if": '{ for key, route in local.websocket_routes : key => route if "yes" }',
    "unknown name": "[for route in values(local.websocket_routes) : nope.function]",
    "syntax error": "[for x in [1] : x",
}


def install() -> None:
    if not (TARGET / "tfparse").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(TARGET)]
            + [f"tfparse=={TFPARSE_VERSION}"],
            check=True,
            capture_output=True,
        )


def run(code: str, *args: str) -> str:
    path = os.pathsep.join([str(TARGET), str(REPO / "scripts")])
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or f"(no output; exit {result.returncode}) {result.stderr[-300:]}"


def timing(reader: tuple[str, str], directory: Path) -> str:
    code = TIMING.format(imports=reader[0], read=reader[1])
    runs = [json.loads(run(code, str(directory))) for _ in range(3)]
    imports, reads = (statistics.median(r[i] for r in runs) for i in (0, 1))
    return f"import {imports:.3f} s, read {reads:.3f} s"


def main() -> None:
    install()
    terraform = REPO / "terraform"
    print(f"tfparse {TFPARSE_VERSION}, Python {sys.version.split()[0]}, median of 3 runs")
    print(f"- ours:    {timing(OURS, terraform)}")
    print(f"- tfparse: {timing(THEIRS, terraform)}")
    names = ["websocket_functions", "websocket_replies", "websocket_management_endpoint"]
    print(f"- ours    {names}: {run(OURS_LOCALS, str(terraform), *names)[:400]}")
    print(f"- tfparse {names}: {run(LOCALS, str(terraform), *names)[:400]}")
    text = (terraform / "websocket_api.tf").read_text()
    start = text.index("  websocket_replies")
    end = text.index("\n", start)
    for what, expression in BROKEN.items():
        with tempfile.TemporaryDirectory() as tmp:
            for path in terraform.glob("*.tf"):
                shutil.copy(path, tmp)
            broken = f"{text[:start]}  websocket_replies = {expression}{text[end:]}"
            Path(tmp, "websocket_api.tf").write_text(broken)
            print(f"- {what}:")
            print(f"  - ours:    {run(OURS_LOCALS, tmp, 'websocket_replies')[:300]}")
            print(f"  - tfparse: {run(LOCALS, tmp, 'websocket_replies')[:300]}")


if __name__ == "__main__":
    main()
