"""Benchmark 3: N clients in one room of the local cloud, messages sent at a fixed rate.

Real REST calls (signup, login, ticket) and real WebSocket clients against `python -m
localcloud` on a free loopback port. Reports delivered/expected, latency from send to receipt at
every client (p50/p95/p99) and deliveries per second. Bounded: a fixed number of messages and a
time limit for stragglers.

    python bench/local_e2e.py [--clients 10,50,100] [--rate 20] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp

from bench.common import table
from localcloud.testing import running_local_cloud
from tests.integration.chat_client import Api, Socket


async def scenario(
    rest_url: str, ws_url: str, clients: int, rate: float, count: int
) -> list[object]:
    async with aiohttp.ClientSession() as session:
        api = Api(session, rest_url)
        accounts = await asyncio.gather(*(api.account() for _ in range(clients)))
        sockets = [await Socket.open(api, token, name, ws_url) for name, token in accounts]
        admin = sockets[0]
        room = (await admin.request({"action": "createRoom", "name": "bench"}))["room"]["roomId"]
        for sock in sockets[1:]:
            await sock.request({"action": "joinRoom", "roomId": room})
            await admin.request(
                {"action": "approveJoin", "roomId": room, "username": sock.username}
            )
        await asyncio.sleep(0.5)
        for sock in sockets:
            sock.frames.clear()
            sock.arrivals.clear()

        sent_at: dict[str, float] = {}
        started = time.monotonic()
        for i in range(count):
            target = started + i / rate
            await asyncio.sleep(max(0.0, target - time.monotonic()))
            sender = sockets[i % clients]
            client_id = f"b{i}"
            sent_at[client_id] = time.monotonic()
            await sender.send(
                {
                    "action": "sendMessage",
                    "roomId": room,
                    "text": f"m{i}",
                    "clientMessageId": client_id,
                }
            )

        expected = count * clients
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = sum(len(s.arrivals) for s in sockets)
            if got >= expected:
                break
            await asyncio.sleep(0.05)
        finished = time.monotonic()

        latencies, delivered, duplicates = [], 0, 0
        for sock in sockets:
            seen: set[str] = set()
            for frame in sock.frames:
                if frame.get("type") != "message":
                    continue
                message = frame["message"]
                if message["messageId"] in seen:
                    duplicates += 1
                    continue
                seen.add(message["messageId"])
                delivered += 1
                latencies.append(
                    (sock.arrivals[message["messageId"]] - sent_at[message["clientMessageId"]])
                    * 1000
                )
        for sock in sockets:
            await sock.close()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    last_arrival = max(
        (max(s.arrivals.values(), default=started) for s in sockets), default=finished
    )
    return [
        clients,
        f"{rate:g}/s",
        count,
        f"{delivered}/{expected}",
        duplicates,
        f"{q[49]:.0f}",
        f"{q[94]:.0f}",
        f"{q[98]:.0f}",
        f"{delivered / (last_arrival - started):,.0f}",
    ]


def run(client_counts: list[int], rate: float, count: int) -> str:
    rows = []
    with running_local_cloud() as cloud:
        for clients in client_counts:
            row = asyncio.run(
                asyncio.wait_for(scenario(cloud.rest_url, cloud.ws_url, clients, rate, count), 300)
            )
            print(f"  {clients} clients: {row}", flush=True)
            rows.append(row)
    headers = [
        "clients",
        "send rate",
        "messages",
        "delivered/expected",
        "duplicates",
        "latency p50 ms",
        "p95 ms",
        "p99 ms",
        "deliveries/s",
    ]
    return (
        "One room of the local cloud (`python -m localcloud`, moto DynamoDB), one WebSocket "
        "connection per client, senders in turn; latency from send to receipt at every client.\n\n"
        + table(headers, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,50,100")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    print(run([int(c) for c in args.clients.split(",")], args.rate, args.messages))


if __name__ == "__main__":
    main()
