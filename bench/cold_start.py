"""Benchmark 4: cold-start proxies: each handler's import time and the package sizes.

Import time is `python -X importtime -c "import chat.handlers.X"` in a fresh interpreter (the
top module's cumulative microseconds), median of 3, with dummy settings in the environment, for
today's code and for BASELINE_REF (the code before the foundation refactor) in the same run. Sizes
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
# What adopting Powertools for AWS Lambda would add to a handler's import, module by module.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARTS = {
    "Logger": "from aws_lambda_powertools import Logger",
    "Metrics (EMF)": "from aws_lambda_powertools import Metrics",
    "BatchProcessor": "from aws_lambda_powertools.utilities.batch import BatchProcessor",
    "APIGatewayRestResolver": (
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
    ),
    "parameters (SSM)": "from aws_lambda_powertools.utilities import parameters",
    "event source data classes": (
        "from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent"
    ),
}


# The code before the foundation refactor (issue 9), measured beside today's in the same run
# so that the machine's load affects both alike. BASELINE_REF= (empty) skips it.
BASELINE_REF = os.environ.get("BASELINE_REF", "ae3e850")


def baseline_lambda_dir() -> Path | None:
    """lambda/ as it was at BASELINE_REF, exported under build/, or None."""
    if not BASELINE_REF:
        return None
    target = REPO / "build" / f"baseline-{BASELINE_REF}"
    if not (target / "lambda").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", BASELINE_REF, "lambda"], cwd=REPO, capture_output=True, check=False
        )
        if archive.returncode != 0:
            return None
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "lambda"


def import_ms(module: str, lambda_dir: Path = REPO / "lambda") -> float:
    env = {
        **os.environ,
        **BENCH_ENV,
        "WS_MANAGEMENT_ENDPOINT": "https://example.com/v1",
        "PYTHONPATH": str(lambda_dir),
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


def _statement_ms(statement: str, pythonpath: str) -> float:
    """Wall time of one import statement in a fresh interpreter, median of 3."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": pythonpath}
    timings = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        * 1000
        for _ in range(3)
    ]
    return statistics.median(timings)


def powertools() -> str:
    """Installs Powertools into build/powertools-probe (once) and times each part's import."""
    target = REPO / "build" / "powertools-probe"
    if not (target / "aws_lambda_powertools").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(target),
                f"aws-lambda-powertools=={POWERTOOLS_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 1024 / 1024
    rows = [
        [part, f"{_statement_ms(statement, str(target)):.0f}"]
        for part, statement in POWERTOOLS_PARTS.items()
    ]
    rows.append(
        [
            "boto3 alone (already paid by every handler)",
            f"{_statement_ms('import boto3', str(target)):.0f}",
        ]
    )
    return (
        f"Powertools for AWS Lambda {POWERTOOLS_VERSION}, not adopted: what each part would add "
        f"to a cold start (fresh interpreter, wall time of the import, median of 3; installed "
        f"size with its dependencies {size:.1f} MiB).\n\n"
        + table(["Powertools part", "import ms"], rows)
    )


def jwt_crypto() -> str:
    """What PyJWT[crypto] (cryptography, for Cognito's RS256 tokens) adds to `import jwt`: PyJWT
    imports cryptography whenever it is installed, so every function that imports chat.tokens
    pays it, in either identity mode."""
    path = os.pathsep.join(sys.path)
    block = "import sys; sys.modules['cryptography'] = None; "
    with_crypto = _statement_ms("import jwt", path)
    without = _statement_ms(block + "import jwt", path)
    return (
        "`import jwt` (fresh interpreter, wall time, median of 3): "
        f"{without:.0f} ms without cryptography, {with_crypto:.0f} ms with it "
        f"(+{with_crypto - without:.0f} ms)."
    )


def run() -> str:
    baseline = baseline_lambda_dir()
    rows = []
    for h in HANDLERS:
        module = f"chat.handlers.{h}"
        before = f"{import_ms(module, baseline):.0f}" if baseline else "-"
        rows.append([module, before, f"{import_ms(module):.0f}"])
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
        + table(["handler", f"import ms at {BASELINE_REF or '-'} (before)", "import ms now"], rows)
        + f"\n\nPackage sizes: {sizes}.\n\n"
        + jwt_crypto()
        + "\n\n"
        + powertools()
    )


if __name__ == "__main__":
    print(run())
