"""Shared set-up for the benchmarks: a moto server on loopback with the deployed table schema."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "lambda", REPO / "scripts"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from localcloud.motoserver import REGION, moto_server  # noqa: E402

TABLE_PREFIX = "bench"
BENCH_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "USERS_TABLE": f"{TABLE_PREFIX}-users",
    "ROOMS_TABLE": f"{TABLE_PREFIX}-rooms",
    "CONNECTIONS_TABLE": f"{TABLE_PREFIX}-connections",
    "MESSAGES_TABLE": f"{TABLE_PREFIX}-messages",
    "JWT_SECRET": "bench-signing-key-0123456789abcdef0123",
    "BCRYPT_ROUNDS": "4",
    "LOG_LEVEL": "WARNING",
    # The rooms function needs the purge queue named; no bench deletes a room.
    "ROOM_PURGE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/bench-room-purge",
}


@contextmanager
def moto_dynamodb() -> Iterator[str]:
    """A moto server in a child process; yields its endpoint, tables created."""
    import boto3

    from tests.unit.schema import table_definitions

    with moto_server() as endpoint:
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for definition in table_definitions(TABLE_PREFIX).values():
            client.create_table(**definition)
        yield endpoint


def set_env(extra: dict[str, str] | None = None) -> None:
    os.environ.update(BENCH_ENV)
    os.environ.update(extra or {})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments of the room-load benches (3 and 8): the same load, so figures compare."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--clients", default="10,50,100")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--messages", type=int, default=100)
    return parser
