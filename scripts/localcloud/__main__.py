"""`python -m localcloud`: the whole chat on this machine. Ctrl-C stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from localcloud.app import REPO, LocalCloud, Options
from localcloud.functions import HandlerImportError
from localcloud.terraform import TerraformError


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), value


def _variable_value(value: str) -> Any:
    # Like terraform -var: numbers, booleans, lists and maps as literals, anything else a string.
    try:
        return json.loads(value)
    except ValueError:
        return value


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud",
        description="The chat on this machine: browser client, REST and WebSocket APIs, "
        "Management API, DynamoDB with Streams and the stream processor, read from Terraform.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (8000)")
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("LOCALCLOUD_AWS_ENDPOINT") or None,
        help="use this DynamoDB endpoint instead of the embedded moto server "
        "('localstack' resolves LocalStack's with localstack-client)",
    )
    parser.add_argument(
        "--terraform-dir", type=Path, default=REPO / "terraform", help="where the .tf files are"
    )
    parser.add_argument(
        "--frontend-dir", type=Path, default=REPO / "frontend", help="static files served at /"
    )
    parser.add_argument(
        "--python-path",
        type=Path,
        action="append",
        default=[],
        help="extra directory to import handlers from (repeatable; lambda/ is always there)",
    )
    parser.add_argument(
        "--var",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a Terraform variable, like terraform -var (repeatable)",
    )
    parser.add_argument(
        "--lambda-env",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one variable of the Lambda environment, e.g. BCRYPT_ROUNDS=4 in tests",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=_env_seconds("LOCALCLOUD_IDLE_TIMEOUT", 600),
        help="seconds before an idle WebSocket is closed (600, as API Gateway)",
    )
    parser.add_argument(
        "--max-connection-duration",
        type=float,
        default=_env_seconds("LOCALCLOUD_MAX_CONNECTION_DURATION", 7200),
        help="seconds before any WebSocket is closed (7200, as API Gateway)",
    )
    parser.add_argument("--workers", type=int, default=32, help="threads that run handlers (32)")
    parser.add_argument(
        "--function-concurrency",
        type=int,
        default=8,
        help="invocations of one function at once; they share its module, like one "
        "container serving several requests (8)",
    )
    parser.add_argument(
        "--stream-poll-interval",
        type=float,
        default=0.1,
        help="seconds between stream polls when idle; any function invocation also "
        "triggers a poll (0.1)",
    )
    parser.add_argument("--ready-file", type=Path, help="write the URLs here as JSON when ready")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="tests only: serve the fault injection endpoint /_localcloud/faults "
        "(localcloud/faults.py); off by default",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every Management API post"
    )
    args = parser.parse_args(argv)
    options = Options(
        host=args.host,
        port=args.port,
        terraform_dir=args.terraform_dir,
        frontend_dir=args.frontend_dir,
        aws_endpoint=args.aws_endpoint,
        python_path=[REPO / "lambda", *args.python_path],
        variables={k: _variable_value(v) for k, v in args.var},
        lambda_env=dict(args.lambda_env),
        idle_timeout=args.idle_timeout,
        max_lifetime=args.max_connection_duration,
        workers=args.workers,
        per_function_concurrency=args.function_concurrency,
        stream_poll_interval=args.stream_poll_interval,
        ready_file=args.ready_file,
        faults=args.faults,
    )
    configure_logging(args.verbose)
    return options


def configure_logging(verbose: bool) -> None:
    # The handlers format the root logger as JSON (chat.runtime.configure_logging); the local
    # cloud's own lines stay short and readable on a logger of their own.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    ours = logging.getLogger("localcloud")
    ours.handlers[:] = [handler]
    ours.setLevel(logging.DEBUG if verbose else logging.INFO)
    ours.propagate = False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    root.setLevel(logging.INFO)


async def serve(options: Options) -> int:
    cloud = LocalCloud(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await cloud.start()
    except (TerraformError, HandlerImportError, RuntimeError) as e:
        logging.getLogger("localcloud").error("%s", e)
        await cloud.stop()
        return 2
    await stop.wait()
    logging.getLogger("localcloud").info("stopping (signal received)")
    await cloud.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(options))
    return 130


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Handler modules may own thread pools (fan-out, notifications); their idle workers must
    # not hold the process open after a clean stop.
    os._exit(code)
