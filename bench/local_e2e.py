"""Benchmark 3: N clients in one room of the local cloud, messages sent at a fixed rate.

Real REST calls (signup, login, ticket) and real WebSocket clients against `python -m
localcloud` on a free loopback port. Reports delivered/expected, latency from send to receipt at
every client (p50/p95/p99) and deliveries per second. Bounded: a fixed number of messages and a
time limit for stragglers.

    python bench/local_e2e.py [--clients 10,50,100] [--rate 20] [--messages 100]
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.common import load_parser, table
from localcloud.testing import running_local_cloud
from tests.integration.chat_client import Api, Socket, unbatched


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of a process and of each of its children, by command line:
    the local cloud and its moto server. On a shared machine wall-clock figures move with the
    load; CPU per delivery moves much less."""
    tick = os.sysconf("SC_CLK_TCK")
    result: dict[str, float] = {}
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += [int(p) for p in children.read_text().split()]
        except OSError:
            continue
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{one}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = "moto" if b"localcloud.motoserver" in cmdline else "localcloud"
        result[name] = result.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return result


def moto_pid(pid: int) -> int:
    """The local cloud's moto server: its child started as `-m localcloud.motoserver`."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            if b"localcloud.motoserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise SystemExit(f"no moto server under process {pid}")


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the local cloud's GIL holder (`--gil`: where its CPU goes), raw output
    (one stack and its sample count a line); stopped with SIGINT when the send phase ends."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--gil", "--rate", "100", "--format", "raw"]
        + ["--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(path: Path, top: int = 25) -> str:
    """Inclusive share of the samples per function (file name, no line), the biggest first."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = {re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")}
        for frame in frames:
            inclusive[frame] += samples
    lines = [f"{total} samples of the GIL holder during the send phase; inclusive share:"]
    lines += [f"  {100 * n / max(1, total):5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


async def scenario(
    rest_url: str,
    ws_url: str,
    clients: int,
    rate: float,
    count: int,
    pid: int,
    profile: Path | None = None,
    batch: bool = False,
    profile_moto: bool = False,
) -> list[object]:
    async with aiohttp.ClientSession() as session:
        api = Api(session, rest_url)
        accounts = await asyncio.gather(*(api.account() for _ in range(clients)))
        sockets = [
            await Socket.open(api, token, name, ws_url, batch=batch) for name, token in accounts
        ]
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
        cpu_before = cpu_seconds(pid)
        profiler = (
            start_profiler(moto_pid(pid) if profile_moto else pid, profile)
            if profile is not None
            else None
        )
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
        cpu_after = cpu_seconds(pid)
        if profiler is not None and profile is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
            print(summarise_profile(profile), flush=True)

        latencies, delivered, duplicates = [], 0, 0
        for sock in sockets:
            seen: set[str] = set()
            for frame in (f for batched in sock.frames for f in unbatched(batched)):
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
        *(
            f"{1e6 * (cpu_after.get(k, 0) - cpu_before.get(k, 0)) / max(1, delivered):.0f}"
            for k in ("localcloud", "moto")
        ),
    ]


def run(
    client_counts: list[int],
    rate: float,
    count: int,
    lambda_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    profile: Path | None = None,
    batch: bool = False,
    profile_moto: bool = False,
) -> str:
    rows = []
    # A load test: the abuse limits (one user's 5 messages per second) are off.
    with running_local_cloud(
        lambda_env=lambda_env,
        extra_args=extra_args or [],
        variables={"rate_limits_enabled": "false"},
    ) as cloud:
        for clients in client_counts:
            row = asyncio.run(
                asyncio.wait_for(
                    scenario(
                        cloud.rest_url,
                        cloud.ws_url,
                        clients,
                        rate,
                        count,
                        cloud.process.pid,
                        profile,
                        batch,
                        profile_moto,
                    ),
                    300,
                )
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
        "local cloud CPU µs per delivery",
        "moto CPU µs per delivery",
    ]
    return (
        "One room of the local cloud (`python -m localcloud`, moto DynamoDB), one WebSocket "
        "connection per client, senders in turn; latency from send to receipt at every client"
        + (" (clients connect with `batch=1`, as the browser client does)" if batch else "")
        + ".\n\n"
        + table(headers, rows)
    )


def main() -> None:
    parser = load_parser(__doc__)
    parser.add_argument(
        "--lambda-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="passed to the local cloud's --lambda-env (repeatable)",
    )
    parser.add_argument(
        "--localcloud-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for `python -m localcloud` (repeatable), e.g. --workers=64",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="sample the local cloud with py-spy (--gil) during each send phase into FILE "
        "(raw stacks) and print where its CPU went",
    )
    parser.add_argument(
        "--profile-moto",
        action="store_true",
        help="with --profile: sample the local cloud's moto server instead",
    )
    parser.add_argument(
        "--batch",
        action="store_true",
        help="clients connect with `batch=1` and take messageBatch frames (the browser does)",
    )
    args = parser.parse_args()
    lambda_env = {}
    for item in args.lambda_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--lambda-env wants NAME=VALUE, got {item!r}")
        lambda_env[name] = value
    counts = [int(c) for c in args.clients.split(",")]
    print(
        run(
            counts,
            args.rate,
            args.messages,
            lambda_env,
            args.localcloud_arg,
            args.profile,
            args.batch,
            args.profile_moto,
        )
    )


if __name__ == "__main__":
    main()
