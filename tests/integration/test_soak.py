"""Soak (issue 16): 100 clients in 5 rooms send 2,000 messages while 10% of them drop (no close
frame) and reconnect at random, catching up by the protocol's rule. Every client must end with
exactly the stored history of its room, in order. Prints its figures (run with -s)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import aiohttp
import pytest

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api
from tests.integration.conftest import run
from tests.integration.reliability import (
    Member,
    new_member,
    reliability_cloud,
    room_of,
    stored_history,
)

pytestmark = [pytest.mark.integration, pytest.mark.soak]

CLIENTS, ROOMS, MESSAGES, DROPPING = 100, 5, 2000, 10


@pytest.fixture(scope="module")
def soak_cloud() -> Iterator[RunningLocalCloud]:
    with reliability_cloud() as running:
        yield running


async def send_and_see(member: Member, room_id: str, client_id: str) -> None:
    """Send; done once the stored message came back (live or through a catch-up)."""
    await member.socket.send(
        {
            "action": "sendMessage",
            "roomId": room_id,
            "text": client_id,
            "clientMessageId": client_id,
        }
    )
    deadline = time.monotonic() + 60
    while client_id not in member.client_ids:
        assert time.monotonic() < deadline, f"{client_id} never came back"
        await asyncio.sleep(0.05)
        member.absorb()


async def life(
    member: Member, room_id: str, count: int, drop_at: int | None, rng: random.Random
) -> None:
    for n in range(count):
        if n == drop_at:
            await member.drop()
            await asyncio.sleep(rng.uniform(0.2, 1.5))  # away while the room talks on
            await member.reconnect()
        await send_and_see(member, room_id, f"{member.username}-{n}")
        await asyncio.sleep(rng.uniform(0, 0.2))


def test_soak_every_client_ends_with_the_stored_history(soak_cloud: RunningLocalCloud) -> None:
    rng = random.Random(16)

    async def scenario() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
            api = Api(session, soak_cloud.rest_url)
            members = list(
                await asyncio.gather(
                    *(new_member(api, soak_cloud, f"s{i}") for i in range(CLIENTS))
                )
            )
            per_room = CLIENTS // ROOMS
            groups = [members[r * per_room : (r + 1) * per_room] for r in range(ROOMS)]
            rooms = list(
                await asyncio.gather(
                    *(room_of(g[0], g[1:], f"soak {r}") for r, g in enumerate(groups))
                )
            )
            each = MESSAGES // CLIENTS
            dropping = set(rng.sample(range(CLIENTS), DROPPING))
            started = time.monotonic()
            await asyncio.gather(
                *(
                    life(
                        m,
                        rooms[i // per_room],
                        each,
                        rng.randrange(1, each) if i in dropping else None,
                        rng,
                    )
                    for i, m in enumerate(members)
                )
            )
            for room_id, group in zip(rooms, groups, strict=True):
                stored = await stored_history(api, group[0].token, room_id)
                assert len(stored) == per_room * each
                for member in group:
                    await member.wait_holding(room_id, len(stored), 60)
                    assert member.ids(room_id) == stored, member.username
            elapsed = time.monotonic() - started
            frames = sum(m.live_frames for m in members)
            print(
                f"\nsoak: {CLIENTS} clients, {ROOMS} rooms, {MESSAGES} messages, "
                f"{sum(m.reconnects for m in members)} drops and reconnects, "
                f"{frames} live message frames; every client holds its room's "
                f"{per_room * each} stored messages in order; {elapsed:.1f} s"
            )

    run(scenario(), timeout=240)
