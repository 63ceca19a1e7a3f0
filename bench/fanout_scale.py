"""Benchmark 1: fan-out of one message to rooms of 10 to 5,000 connections.

The real FanOut and ManagementApiPoster (boto3's apigatewaymanagementapi client, its pool and
retries) post to a stand-in Management API on loopback that answers each post after a set delay
(20 ms by default, about what API Gateway takes). Connections live in DynamoDB (moto server).
Beside it, in the same run, the design most tutorials use: Scan the whole connections table and
post to each connection in turn.

    python bench/fanout_scale.py [--delay-ms 20] [--sizes 10,100,1000,5000] [--concurrency 32]
        [--profile FILE]   # py-spy (--gil) on this process during our fan-out of each size
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection as PipeEnd
from pathlib import Path
from typing import Any

from botocore.config import Config

from bench.common import moto_dynamodb, set_env, table

LAMBDA_TIMEOUT_SECONDS = 60  # terraform/locals.tf: stream_processor


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, delay: float) -> None:
        self.delay = delay
        self.posts = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway's endpoint offers

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        time.sleep(self.server.delay)  # type: ignore[attr-defined]
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.posts += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def process_cpu(pid: int | None) -> float:
    """User and system CPU seconds of a process, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_stand_in(report: PipeEnd, delay: float) -> None:
    server = StandIn(0, delay)  # a port the OS picks, reported back: no race for it
    report.send(server.server_address[1])
    server.serve_forever()


def start_stand_in(delay_ms: float) -> tuple[Any, int, Any]:
    """The stand-in Management API in its own process, as API Gateway is not inside the Lambda
    container: its request handling must not take the fan-out's GIL. (process, port, the pipe
    it reports on)."""
    context = multiprocessing.get_context("fork")
    receive, report = context.Pipe(duplex=False)
    stand_in = context.Process(target=serve_stand_in, args=(report, delay_ms / 1000), daemon=True)
    stand_in.start()
    if not receive.poll(10):
        raise RuntimeError("the stand-in Management API did not start")
    return stand_in, int(receive.recv()), receive


def run(
    sizes: list[int],
    delay_ms: float,
    concurrency: int,
    profile: Path | None = None,
    tutorial_too: bool = True,
) -> str:
    import boto3

    with moto_dynamodb() as endpoint:
        set_env({"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "FANOUT_CONCURRENCY": str(concurrency)})
        stand_in, port, receive = start_stand_in(delay_ms)

        from chat import keys
        from chat.config import Settings
        from chat.fanout import DeliveryLog, FanOut, StreamRecord
        from chat.models import Connection, Message
        from chat.notifier import ManagementApiPoster
        from chat.runtime import Stores, client_config
        from chat.store import index_item

        settings = Settings.from_env()
        stores = Stores.from_settings(settings, pool_size=concurrency)
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=f"http://127.0.0.1:{port}/v1",
            config=client_config(concurrency),
        )
        poster = ManagementApiPoster(client)
        executor = ThreadPoolExecutor(max_workers=concurrency)
        connections_table = stores.connections.table
        # The tutorial's Scan of thousands of items can take moto longer than the handlers'
        # 5 s read timeout on a loaded machine; it gets its own client with a longer one.
        scan_table = boto3.resource(
            "dynamodb", config=Config(read_timeout=120, retries={"max_attempts": 1})
        ).Table(connections_table.name)
        limit = concurrency / (delay_ms / 1000)
        rows = []
        for size in sizes:
            room = f"room{size}"
            with connections_table.batch_writer() as batch:
                for i in range(size):
                    connection = Connection(f"c{size}-{i}", f"user{i}")
                    key = keys.room_connection(room, connection.connection_id)
                    batch.put_item(Item=index_item(key, connection, 2**31))
            message = Message(
                room, f"01KWB3R{size:019d}", "alice", "hello", "2026-11-24T00:00:00.000Z"
            )
            # What the fan-out's one Query of the room costs alone (moto, on this machine).
            started = time.perf_counter()
            assert len(stores.connections.of_room(room)) == size
            query = time.perf_counter() - started
            fanout = FanOut(stores.connections, poster, executor, DeliveryLog())
            profiler = None
            if profile is not None:
                from bench.local_e2e import start_profiler

                profiler = start_profiler(os.getpid(), profile.with_suffix(f".{size}.txt"))
                time.sleep(1)  # py-spy attaches
            started, cpu = time.perf_counter(), time.process_time()
            stand_in_cpu = process_cpu(stand_in.pid)
            report = fanout.deliver([StreamRecord("1", message)])
            ours = time.perf_counter() - started
            # This process's CPU (all threads) per post, the Query's client side included.
            cpu_per_post = (time.process_time() - cpu) / size
            # The stand-in's own CPU per post: on 2 cores it competes with ours.
            stand_in_per_post = (process_cpu(stand_in.pid) - stand_in_cpu) / size
            if profiler is not None and profile is not None:
                from bench.local_e2e import summarise_profile

                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
                print(summarise_profile(profile.with_suffix(f".{size}.txt")), flush=True)
            assert report.posts == size and not report.failed_sequence_numbers, report

            # The tutorial design: Scan every connection in the table, post one after another.
            started = time.perf_counter()
            scanned = 0
            kwargs: dict[str, Any] = {}
            while tutorial_too:
                page = scan_table.scan(**kwargs)
                for item in page["Items"]:
                    if item["pk"] == keys.room_pk(room):
                        poster.post(str(item["connectionId"]), b'{"type":"message"}')
                    scanned += 1
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            tutorial = time.perf_counter() - started if tutorial_too else float("nan")
            rows.append(
                [
                    size,
                    f"{ours:.2f}",
                    f"{size / ours:,.0f}",
                    f"{100 * size / ours / limit:.0f}%",
                    f"{query:.2f}",
                    f"{cpu_per_post * 1e6:,.0f}",
                    f"{stand_in_per_post * 1e6:,.0f}",
                    f"{tutorial:.2f}",
                    f"{size / tutorial:,.0f}",
                    f"{tutorial / ours:.1f}x",
                    scanned,
                    "yes" if ours < LAMBDA_TIMEOUT_SECONDS else "NO",
                    "yes" if tutorial < LAMBDA_TIMEOUT_SECONDS else "NO",
                ]
            )
            print(f"  room of {size}: ours {ours:.2f}s, tutorial {tutorial:.2f}s", flush=True)
        stand_in.terminate()
        stand_in.join(5)
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)  # that moto server is gone now
    limit = concurrency / (delay_ms / 1000)
    headers = [
        "connections",
        "ours: wall s",
        "ours: posts/s",
        f"ours: share of the limit ({concurrency} / {delay_ms:g} ms = {limit:,.0f}/s)",
        "the room's Query alone s (overlapped with posting, by pages of 1,000)",
        "ours: CPU µs per post",
        "stand-in: CPU µs per post",
        "tutorial: wall s",
        "tutorial: posts/s",
        "speed-up",
        "items scanned by tutorial",
        "ours < 60 s timeout",
        "tutorial < 60 s",
    ]
    return (
        f"Fan-out of one message; stand-in answers each post after {delay_ms:g} ms; "
        f"FANOUT_CONCURRENCY={concurrency}.\n\n" + table(headers, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", type=Path, help="py-spy --gil samples into FILE.<size>.txt")
    parser.add_argument("--no-tutorial", action="store_true", help="only our fan-out")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(run(sizes, args.delay_ms, args.concurrency, args.profile, not args.no_tutorial))


if __name__ == "__main__":
    main()
