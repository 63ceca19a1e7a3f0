"""Benchmark 8: the floor under benchmark 3, a plain `websockets` broadcast server.

The same load as the local end-to-end bench (N clients, messages sent at a fixed rate by the
clients in turn, latency from send to receipt at every client), against the simplest server
that could carry it: one process, every text frame stamped with an id and sent to every
connection. No accounts, no storage, no stream, no Lambda: what is left is Python's WebSocket
cost on this machine, which the local cloud cannot beat.

    python -m bench.broadcast_baseline [--clients 10,50,100] [--rate 20] [--messages 100]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

import websockets

from bench.common import load_parser, table
from localcloud.motoserver import free_port

SERVER = """
import asyncio, itertools, json, sys
import websockets

async def main(port):
    connections, ids = set(), itertools.count(1)

    async def serve(ws):
        connections.add(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                out = json.dumps({"type": "message", "message": {"messageId": str(next(ids)),
                                  "clientMessageId": frame.get("clientMessageId"),
                                  "text": frame.get("text")}})
                websockets.broadcast(connections, out)
        finally:
            connections.discard(ws)

    async with websockets.serve(serve, "127.0.0.1", port):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main(int(sys.argv[1])))
"""


async def scenario(url: str, clients: int, rate: float, count: int) -> list[object]:
    sockets = [await websockets.connect(url) for _ in range(clients)]
    arrivals: list[dict[str, float]] = [{} for _ in sockets]

    async def read(index: int) -> None:
        async for raw in sockets[index]:
            message = json.loads(raw)["message"]
            arrivals[index].setdefault(message["clientMessageId"], time.monotonic())

    readers = [asyncio.create_task(read(i)) for i in range(clients)]
    sent_at: dict[str, float] = {}
    started = time.monotonic()
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        sent_at[f"b{i}"] = time.monotonic()
        await sockets[i % clients].send(json.dumps({"clientMessageId": f"b{i}", "text": f"m{i}"}))
    expected = count * clients
    deadline = time.monotonic() + 30
    while sum(map(len, arrivals)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    for task in readers:
        task.cancel()
    for sock in sockets:
        await sock.close()
    latencies = [(at - sent_at[cid]) * 1000 for got in arrivals for cid, at in got.items()]
    delivered = len(latencies)
    q = statistics.quantiles(latencies, n=100) if delivered > 1 else [0.0] * 99
    last = max((max(got.values(), default=started) for got in arrivals), default=started)
    return [
        clients,
        f"{rate:g}/s",
        count,
        f"{delivered}/{expected}",
        f"{q[49]:.1f}",
        f"{q[94]:.1f}",
        f"{q[98]:.1f}",
        f"{delivered / max(1e-9, last - started):,.0f}",
    ]


def run(client_counts: list[int], rate: float, count: int) -> str:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        rows = []
        for clients in client_counts:
            row = asyncio.run(scenario(f"ws://127.0.0.1:{port}", clients, rate, count))
            print(f"  {clients} clients: {row}", flush=True)
            rows.append(row)
    finally:
        server.terminate()
        server.wait(10)
    headers = [
        "clients",
        "send rate",
        "messages",
        "delivered/expected",
        "latency p50 ms",
        "p95 ms",
        "p99 ms",
        "deliveries/s",
    ]
    return (
        f"A plain `websockets` {websockets.__version__} broadcast server in its own process "
        "(no accounts, storage, stream or Lambda), the load of section 3.\n\n"
        + table(headers, rows)
    )


def main() -> None:
    parser = load_parser(__doc__)
    args = parser.parse_args()
    print(run([int(c) for c in args.clients.split(",")], args.rate, args.messages))


if __name__ == "__main__":
    main()
