"""Benchmark 6: what a room search reads, for rooms of 1,000, 10,000 and 100,000 messages.

The real `MessagesStore.search` (the code `GET /rooms/{roomId}/search` runs) against moto: one
Query per page, newest first, with a filter on the case-folded copy of the text; at most 5 pages
of 200 messages per call, the cursor carrying on. DynamoDB bills a filtered Query for every
item it reads, matched or not, so read units are computed from each page's ScannedCount and the
items' size (moto does not report consumed capacity): 0.5 RRU per 4 KB, eventually consistent.

    python -m bench.search            # 1k, 10k, 100k, each room searched whole (what make bench runs)
    python -m bench.search --quick    # 1k, 10k
    python -m bench.search --sample   # rooms over 10k: their first 3 calls, the rest computed

The whole 100,000-message search takes moto about 10 minutes on this machine (each Query sorts
and walks the whole partition, where DynamoDB reads only the page); `--sample` searches such a
room for its first 3 calls only and gives the whole-room row as those calls' reads times the
number of calls, marked "computed".
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from typing import Any

from bench.common import BENCH_ENV, table
from bench.cost import PRICES

VOCABULARY = [f"word{n}" for n in range(2000)]
NEEDLE = "quarterly roadmap"


def fill(messages_table: Any, room: str, count: int, needles: set[int]) -> int:
    """`count` messages of about 80 characters; the needle phrase in the ones at `needles`.
    Returns the average item size in bytes (as DynamoDB counts it, near enough)."""
    from chat.ids import new_message_id
    from chat.models import Message
    from chat.store import message_item

    rng = random.Random(7)
    start_ms = 1_760_000_000_000
    total = 0
    with messages_table.batch_writer() as batch:
        for n in range(count):
            words = rng.choices(VOCABULARY, k=10)
            text = " ".join(words) + (f" {NEEDLE.title()}" if n in needles else "")
            message = Message(
                room, new_message_id(start_ms + n), "alice", text, "2026-12-03T00:00:00.000Z"
            )
            item = message_item(message)
            total += len(json.dumps(item))
            batch.put_item(Item=item)
    return total // count


def measure(size: int, whole: bool = True) -> dict[str, Any]:
    import os

    import boto3
    from moto import mock_aws

    from chat.store import MessagesStore
    from tests.unit.schema import table_definitions

    os.environ.update({**BENCH_ENV, "MESSAGES_TABLE": "test-messages"})
    with mock_aws():
        client = boto3.client("dynamodb")
        for definition in table_definitions("test").values():
            client.create_table(**definition)
        messages_table = boto3.resource("dynamodb").Table("test-messages")
        needles = {size - 1 - size // 10, size // 2, 5}  # recent, middle, near the beginning
        item_bytes = fill(messages_table, "room", size, needles)
        scanned: list[int] = []
        messages_table.meta.client.meta.events.register(
            "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(parsed["ScannedCount"])
        )
        store = MessagesStore(messages_table)

        def search_all(query: str, max_calls: int | None = None) -> dict[str, Any]:
            words = sorted(set(query.casefold().split()))
            cursor: str | None = None
            calls = found = 0
            per_call_rru: list[float] = []
            started = time.perf_counter()
            while True:
                before = len(scanned)
                results, cursor = store.search("room", words, 20, cursor)
                calls += 1
                found += len(results)
                pages = scanned[before:]
                per_call_rru.append(sum(math.ceil(n * item_bytes / 4096) * 0.5 for n in pages))
                if calls % 10 == 0:
                    elapsed = time.perf_counter() - started
                    print(f"    {size}: {calls} calls in {elapsed:.0f} s", flush=True)
                if cursor is None or (max_calls is not None and calls >= max_calls):
                    break
            complete = cursor is None
            whole_calls = calls if complete else math.ceil(size / 1000)
            return {
                "calls": whole_calls,
                "computed": not complete,
                "found": found,
                "rru_total": sum(per_call_rru) if complete else max(per_call_rru) * whole_calls,
                "rru_first_call": per_call_rru[0],
                "ms": (time.perf_counter() - started) * 1000,
            }

        rare = search_all(NEEDLE.upper(), None if whole or size <= 10_000 else 3)
        common = search_all("word7", 1)  # the first call answers it; the rest is not read
        return {"size": size, "item_bytes": item_bytes, "rare": rare, "common_first": common}


def run(sizes: list[int], whole: bool = True) -> str:
    rows = []
    for size in sizes:
        m = measure(size, whole)
        rare, common = m["rare"], m["common_first"]
        print(f"  {size} messages: {rare}", flush=True)
        dollars = rare["rru_total"] * PRICES["dynamodb_rru"] * 1000
        rows.append(
            [
                f"{size:,}",
                m["item_bytes"],
                f"{rare['rru_first_call']:g}",
                f"{rare['calls']}{' (computed)' if rare['computed'] else ''}",
                f"{rare['found']}{' in the first 3 calls' if rare['computed'] else ''}",
                f"{rare['rru_total']:g}{' (computed)' if rare['computed'] else ''}",
                f"${dollars:.4f}",
                f"{common['rru_first_call']:g}",
            ]
        )
    headers = [
        "messages in the room",
        "bytes per item",
        "RRU per call (at most 5 pages of 200)",
        "calls to search the whole room (rare phrase)",
        "matches",
        "RRU for the whole room",
        "$ per 1,000 whole-room searches",
        "RRU, common word (20 results in the first call)",
    ]
    return (
        "The real MessagesStore.search against moto; read units from each page's ScannedCount "
        f"times the item size, 0.5 RRU per 4 KB; ${PRICES['dynamodb_rru'] * 1e6:g} per million "
        "RRU. A rare phrase (3 matches) makes the search read the whole room, one bounded call "
        "after another; a common word is answered by the first page.\n\n" + table(headers, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument("--sizes", type=int, nargs="+", help="room sizes instead of the three")
    parser.add_argument(
        "--sample", action="store_true", help="rooms over 10k: the first 3 calls, the rest computed"
    )
    args = parser.parse_args()
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    print(run(sizes, whole=not args.sample))


if __name__ == "__main__":
    main()
