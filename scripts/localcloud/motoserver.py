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
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
ITERATOR_LIFETIME = 15 * 60


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
