"""Benchmark 7: one message to rooms of 10,000 and 100,000 connections through the fan-out
workers (issue 13): time to the last delivery, the concurrency it takes, what it costs.

Measured here, with the real code: the stream processor's side (chat.fanout.Chunking splitting
the room into FIFO chunks, chat.jobs.FanOutQueue sending them to a FIFO queue on a moto
server) and one worker's side (FanOut.deliver_chunk posting a full chunk of 1,000 connections
through the real ManagementApiPoster to the stand-in Management API of bench/fanout_scale.py,
which answers each post after 20 ms). Not measurable on a 2-core machine, so computed from
those figures: the 64 workers running at once (one per FIFO message group, as Lambda's SQS
mapping runs message groups in parallel), each group's chunks one after another. Assumed, and
said in the output: the room's Query on DynamoDB (1 MB pages; moto takes 0.4 ms per item,
DynamoDB far less) and the queue-to-invocation delay of the SQS mapping.

    python -m bench.fanout_chunks [--sizes 10000,100000] [--delay-ms 20] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import moto_dynamodb, set_env, table
from bench.fanout_scale import start_stand_in

BUCKETS = 64  # terraform/locals.tf: FANOUT_BUCKETS
CHUNK = 1000  # chat.fanout.Chunking.connections_per_chunk
QUERY_PAGE_SECONDS = 0.05  # assumed: one 1 MB Query page of the room's index items on DynamoDB
SQS_CALL_SECONDS = 0.05  # assumed: one SendMessageBatch of up to 256 KB to SQS
PICKUP_SECONDS = 0.2  # assumed: a chunk's wait from SendMessage to its worker's invocation
PRICES = {  # us-east-1, as bench/cost.py
    "apigw_message": 1.00 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KB chunk of a request
    "dynamodb_rru": 0.125 / 1e6,
}
WORKER_GB = 512 / 1024  # terraform/locals.tf: fanout_worker memory_size


def run(
    sizes: list[int], delay_ms: float, concurrency: int, buckets: int = BUCKETS
) -> tuple[str, list[dict[str, Any]]]:
    import boto3

    with moto_dynamodb() as endpoint:
        set_env({"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "FANOUT_CONCURRENCY": str(concurrency)})
        stand_in, port, receive = start_stand_in(delay_ms)

        from chat import keys
        from chat.config import Settings
        from chat.fanout import Chunking, DeliveryLog, FanOut, RoomFrames, StreamRecord
        from chat.jobs import FanOutQueue
        from chat.models import Connection, Message
        from chat.notifier import ManagementApiPoster
        from chat.runtime import Stores, client_config
        from chat.store import index_item

        stores = Stores.from_settings(Settings.from_env(), pool_size=concurrency)
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=f"http://127.0.0.1:{port}/v1",
            config=client_config(concurrency),
        )
        poster = ManagementApiPoster(client)
        executor = ThreadPoolExecutor(max_workers=concurrency)
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        url = sqs.create_queue(QueueName="bench-fanout.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        queue = FanOutQueue(sqs, url)
        message = Message(
            "big", "01KWB3R0000000000000000001", "alice", "hello" * 20, "2026-12-03T00:00:00.000Z"
        )
        frames = RoomFrames.of("big", [StreamRecord("1", message)])
        index_bytes = len(
            json.dumps(
                index_item(
                    keys.room_connection("big", "c" * 16), Connection("c" * 16, "user-00000"), 2**31
                )
            )
        )

        # One worker's full chunk, measured: 1,000 connections, 32 posts in flight.
        chunk_people = [Connection(f"w{i:05d}xxxxxxxxxx", f"user{i:05d}") for i in range(CHUNK)]
        worker = FanOut(stores.connections, poster, executor, DeliveryLog())
        started, cpu = time.perf_counter(), time.process_time()
        outcome = worker.deliver_chunk(frames, chunk_people)
        chunk_seconds = time.perf_counter() - started
        chunk_cpu = time.process_time() - cpu
        assert outcome.posts == CHUNK and not outcome.failed_sequence_numbers, outcome

        results: list[dict[str, Any]] = []
        for size in sizes:
            people = [Connection(f"c{size}-{i:07d}xxxxx", f"user{i:07d}") for i in range(size)]
            chunking = Chunking(queue, threshold=1, buckets=buckets)
            started = time.perf_counter()
            messages = chunking.messages(frames, people)
            build_seconds = time.perf_counter() - started
            started = time.perf_counter()
            queue.send(messages)
            send_seconds = time.perf_counter() - started
            groups: dict[str, int] = {}
            for group, _, _ in messages:
                groups[group] = groups.get(group, 0) + 1
            rounds = max(groups.values())  # a group's chunks run one after another
            query_pages = math.ceil(size * index_bytes / 1_000_000)
            query_seconds = query_pages * QUERY_PAGE_SECONDS
            # On AWS: SendMessageBatch calls at SQS_CALL_SECONDS each, the lanes at once.
            calls = len(messages) / 10 / max(1, min(queue.lanes, len(groups)))
            sqs_seconds = math.ceil(calls) * SQS_CALL_SECONDS
            last = query_seconds + build_seconds + sqs_seconds + PICKUP_SECONDS
            last += rounds * chunk_seconds
            moto_last = last - sqs_seconds + send_seconds
            body_bytes = sum(len(b.encode()) for _, _, b in messages)
            sqs_units = sum(math.ceil(len(b.encode()) / 65536) for _, _, b in messages)
            worker_seconds = len(messages) * chunk_seconds
            cost = {
                "apigw": size * PRICES["apigw_message"],
                "lambda": len(messages) * PRICES["lambda_request"]
                + worker_seconds * WORKER_GB * PRICES["lambda_gb_second"],
                # send, receive and delete each bill a request per 64 KB chunk
                "sqs": 3 * sqs_units * PRICES["sqs_fifo_request"],
                "dynamodb": math.ceil(size * index_bytes / 4096) * 0.5 * PRICES["dynamodb_rru"],
            }
            results.append(
                {
                    "connections": size,
                    "chunks": len(messages),
                    "groups": len(groups),
                    "rounds": rounds,
                    "query_s": query_seconds,
                    "build_s": build_seconds,
                    "send_s": send_seconds,
                    "sqs_s": sqs_seconds,
                    "moto_last_s": moto_last,
                    "chunk_s": chunk_seconds,
                    "last_delivery_s": last,
                    "workers": len(groups),
                    "posts_in_flight": len(groups) * concurrency,
                    "cost": cost,
                    "queue_mb": body_bytes / 1e6,
                }
            )
            print(f"  room of {size}: last delivery after {last:.2f} s", flush=True)
        stand_in.terminate()
        stand_in.join(5)
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    rows = [
        [
            f"{r['connections']:,}",
            f"{r['chunks']} in {r['groups']} groups ({r['rounds']} a group)",
            f"{r['query_s']:.2f} (assumed)",
            f"{r['build_s']:.2f}",
            f"{r['sqs_s']:.2f} (assumed; moto here: {r['send_s']:.2f})",
            f"{PICKUP_SECONDS:.2f} (assumed)",
            f"{r['rounds']} x {r['chunk_s']:.2f}",
            f"**{r['last_delivery_s']:.2f}** (with moto's SQS: {r['moto_last_s']:.2f})",
            f"{r['workers'] + 1} functions, {r['posts_in_flight']:,} posts in flight",
            " / ".join(f"{v * 100:.3f}" for v in r["cost"].values())
            + f" = **{sum(r['cost'].values()) * 100:.3f}**",
        ]
        for r in results
    ]
    headers = [
        "connections",
        "SQS FIFO chunks",
        "room's Query s",
        "chunking s",
        "SendMessageBatch s (8 lanes)",
        "queue to worker s",
        "workers: chunks x s per chunk (measured)",
        "time to the last delivery s",
        "concurrency",
        "cents per message (API GW / Lambda / SQS / DynamoDB = total)",
    ]
    text = (
        f"One message of 100 characters; a worker's chunk of {CHUNK:,} connections measured at "
        f"{chunk_seconds:.2f} s ({chunk_cpu / CHUNK * 1e6:,.0f} µs CPU per post) with "
        f"FANOUT_CONCURRENCY={concurrency} and posts answered after {delay_ms:g} ms; "
        f"{buckets} FIFO message groups per room (FANOUT_BUCKETS). Assumed, not measured: "
        f"{QUERY_PAGE_SECONDS * 1000:.0f} ms per 1 MB Query page on DynamoDB (index items of "
        f"{index_bytes} bytes), {SQS_CALL_SECONDS * 1000:.0f} ms per SendMessageBatch call "
        f"and {PICKUP_SECONDS * 1000:.0f} ms from SendMessage to the worker's "
        "invocation (warm workers; a cold one adds its start, about 0.2 s of imports here, "
        "bench 4).\n\n" + table(headers, rows)
    )
    return text, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--buckets", type=int, default=BUCKETS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    text, _ = run(sizes, args.delay_ms, args.concurrency, args.buckets)
    print(text)


if __name__ == "__main__":
    main()
