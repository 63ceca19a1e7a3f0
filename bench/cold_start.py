"""Benchmark 4: cold-start proxies: each handler's import time and the package sizes.

Import time is `python -X importtime -c "import chat.handlers.X"` in a fresh interpreter (the
top module's cumulative microseconds), median of 3, with dummy settings in the environment. Sizes
are those of build/function.zip and build/layer.zip from `scripts/build_lambda.sh`.

    python bench/cold_start.py
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import BENCH_ENV, REPO, table

HANDLERS = ["rest", "authorizer", "connections", "rooms", "send_message", "stream_processor"]


def import_ms(module: str) -> float:
    env = {
        **os.environ,
        **BENCH_ENV,
        "WS_MANAGEMENT_ENDPOINT": "https://example.com/v1",
        "PYTHONPATH": str(REPO / "lambda"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    timings = []
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(
            ln for ln in result.stderr.splitlines() if re.search(rf"\|\s*{re.escape(module)}$", ln)
        )
        timings.append(int(line.split("|")[1]) / 1000)
    return statistics.median(timings)


def run() -> str:
    rows = [[f"chat.handlers.{h}", f"{import_ms(f'chat.handlers.{h}'):.0f}"] for h in HANDLERS]
    build = REPO / "build"
    script = REPO / "scripts" / "build_lambda.sh"
    sizes = "build/function.zip and build/layer.zip: not built (scripts/build_lambda.sh missing)"
    if script.exists():
        subprocess.run(["bash", str(script)], cwd=REPO, check=True, capture_output=True)
        parts = []
        for name in ("function.zip", "layer.zip"):
            path: Path = build / name
            parts.append(
                f"build/{name}: {path.stat().st_size / 1024:,.0f} KiB"
                if path.exists()
                else f"build/{name}: missing"
            )
        sizes = ", ".join(parts)
    return (
        "Import time of each handler module (fresh interpreter, includes building its boto3 "
        "clients; rest also makes its unknown-user bcrypt dummy at this run's cost 4, which at "
        "the deployed cost 12 ships precomputed; median of 3).\n\n"
        + table(["handler", "import ms"], rows)
        + f"\n\nPackage sizes: {sizes}."
    )


if __name__ == "__main__":
    print(run())
