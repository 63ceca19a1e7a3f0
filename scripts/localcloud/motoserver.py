"""`python -m localcloud.motoserver`: the local cloud's DynamoDB and Streams, a moto server in
a child process.

A child process rather than a thread of the local cloud: moto is pure Python, and in the same
process it competes for the GIL with the gateway and the handlers. Measured on a 2-core
machine, 50 clients at 20 messages/s: p50 delivery latency 256 ms with moto in a thread,
118-138 ms with moto in its own process (see docs/local-cloud.md).

The child ignores Ctrl-C (the terminal sends SIGINT to the whole process group): the parent
still needs DynamoDB while it closes connections and runs `$disconnect`, then stops the child
with SIGTERM. It also exits if its parent dies, and expires shard iterators after 15 minutes
as DynamoDB Streams does (moto keeps every iterator, one per GetRecords call, forever).

It is also the one place that starts a moto server for anything else (tests, benchmarks):

    from localcloud.motoserver import moto_server

    with moto_server() as endpoint:   # http://127.0.0.1:<free port>, every AWS service
        ...

and the home of the fake account, region and `free_port` everything local shares.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ACCOUNT_ID = "123456789012"  # moto's default account, and the local cloud's ARNs
REGION = "us-east-1"
ITERATOR_LIFETIME = 15 * 60
SCRIPTS = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServerError(RuntimeError):
    """The moto server exited or did not answer in time."""


class MotoServer:
    """`python -m localcloud.motoserver` in a child process on a free port, ready when made.

    The host is an IP, not `localhost`: with a hostname the Terraform aws provider switches S3
    to virtual-host addressing. Output goes to `log` (a file) or nowhere."""

    def __init__(
        self, host: str = "127.0.0.1", timeout: float = 20.0, log: IO[bytes] | None = None
    ) -> None:
        port = free_port(host)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SCRIPTS), env.get("PYTHONPATH")) if p)
        # `--parent`: the child exits if this process dies without stopping it.
        args = ["--host", host, "--port", str(port), "--parent", str(os.getpid())]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.motoserver", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        )
        self.endpoint = f"http://{host}:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()  # noqa: S310
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise MotoServerError(
                        f"the moto server did not start on {self.endpoint}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def moto_server(
    host: str = "127.0.0.1", log: IO[bytes] | None = None, timeout: float = 20.0
) -> Iterator[str]:
    """A moto server for the duration of the block; yields its endpoint URL."""
    server = MotoServer(host, timeout, log)
    try:
        yield server.endpoint
    finally:
        server.stop()


def prune_iterators(first_seen: dict[str, float], now: float) -> int:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    iterators = dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators
    for arn in list(iterators):
        first_seen.setdefault(arn, now)
    expired = [arn for arn, seen in first_seen.items() if now - seen > ITERATOR_LIFETIME]
    for arn in expired:
        iterators.pop(arn, None)
        del first_seen[arn]
    return len(expired)


def serialize_dynamodb_writes() -> None:
    """DynamoDB applies each write atomically. moto's server threads can interleave two
    UpdateItems of one item (each reads the item, changes it in place and records its stream
    image), losing a change or showing it in neither image: a concurrent edit and reaction lost
    the reaction. One lock over moto's write paths makes each write whole, as on AWS."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def locked(write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return write(*args, **kwargs)

        return run

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def memoize_moto_attribute_aliases(size: int = 8192) -> bool:
    """moto serialises each response by walking the botocore output shape and, for every
    attribute of every returned item, asking six alias providers which names the value may
    have on the Python object (`XFormedAttributePicker.get_possible_keys`): 12% of the moto
    process's samples in a 50-client run (docs/benchmarks.md, section 3). The answer depends
    only on the object's type, the key, the shape and the shape's parent (the providers read
    nothing else), and botocore keeps shapes for the life of a service model, so the names are
    worked out once per such combination. Bounded, so shapes made per request cannot grow it.
    Whether it applies: a moto without that picker (before 5.2) is left as it is."""
    try:
        from moto.core.serialize import XFormedAttributePicker
    except ImportError:
        return False

    original = XFormedAttributePicker.get_possible_keys
    if getattr(original, "memoized", False):
        return True
    known: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Any:
        shape = context.shape
        at = (
            tuple(self.alias_providers),
            type(context.obj),
            context.key,
            shape,
            getattr(shape, "parent", None),
        )
        try:
            return known[at]
        except KeyError:
            pass
        except TypeError:  # something unhashable: as moto does it
            return original(self, context)
        if len(known) >= size:
            known.clear()
        names = known[at] = tuple(original(self, context))
        return names

    get_possible_keys.memoized = True  # type: ignore[attr-defined]
    get_possible_keys.original = original  # type: ignore[attr-defined]
    XFormedAttributePicker.get_possible_keys = get_possible_keys  # type: ignore[method-assign]
    return True


class _OnePartition:
    """A moto table seen through one partition: `all_items` is that partition's items, every
    other attribute the table's own."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return self._items


def query_one_partition() -> bool:
    """moto answers a table Query by sorting every item of the table and keeping the partition's
    (`Table.all_items`, then a filter on the hash key): the stream processor's Query of a room's
    connections walked the whole connections table, 19% of the moto process's samples at 50
    clients (docs/benchmarks.md, section 3). DynamoDB reads only the partition; so does this,
    by giving moto's own Query code a view of the table whose `all_items` is that partition
    (copied to a list first, so that a write in another thread cannot change it mid-walk).
    Index queries and tables without a range key are left to moto as they are, and so is a moto
    whose Query has another shape than the one this was written against (5.2); whether it
    applies."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "one_partition", False):
        return True
    parameters = list(inspect.signature(original).parameters)
    if parameters[:2] != ["self", "hash_key"] or "index_name" not in parameters:
        return False
    if not hasattr(Table, "all_items"):
        return False
    index_at = parameters.index("index_name") - 2  # in the positional args after hash_key

    def query(
        self: Any, hash_key: Any, *args: Any, **kwargs: Any
    ) -> tuple[list[Any], int, dict[str, Any] | None]:
        index_name = args[index_at] if len(args) > index_at else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)  # a defaultdict: .get adds nothing
        items = list(partition.values()) if partition else []
        return original(_OnePartition(self, items), hash_key, *args, **kwargs)  # type: ignore[arg-type]

    query.one_partition = True  # type: ignore[attr-defined]
    query.original = original  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, default=os.getppid())
    args = parser.parse_args()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    serialize_dynamodb_writes()
    memoize_moto_attribute_aliases()
    query_one_partition()

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    first_seen: dict[str, float] = {}
    last_prune = time.monotonic()
    while not stop.wait(1.0):
        if os.getppid() != args.parent:
            break  # the local cloud is gone; do not outlive it
        if time.monotonic() - last_prune > 30:
            last_prune = time.monotonic()
            prune_iterators(first_seen, last_prune)
    server.stop()


if __name__ == "__main__":
    main()
