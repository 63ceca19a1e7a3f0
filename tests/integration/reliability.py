"""What the reliability tests share: the local cloud they start, a client that follows
docs/protocol.md's delivery rules (dedupe by messageId, catch-up after a reconnect from a time
cursor, order by id), the stored history to compare with, and the fault injection endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import aiohttp

from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.integration.chat_client import Api, Frame, Socket, unbatched, unique
from tests.integration.conftest import NO_LIMITS, TERRAFORM_DIR

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CATCH_UP_WINDOW_MS = 60_000  # docs/protocol.md, "Order and delivery"
STREAM_DLQ = "chat-dev-stream-dlq"  # aws_sqs_queue.stream_dlq in terraform/stream.tf


@contextmanager
def reliability_cloud(faults: bool = False) -> Iterator[RunningLocalCloud]:
    """The ONE place that says how the fault, fuzz and soak tests start the local cloud: with
    the per-user rate limits off, so that the load they make is not shaped by them
    (tests/integration/test_limits.py runs the limits themselves)."""
    with running_local_cloud(
        terraform_dir=TERRAFORM_DIR,
        extra_args=["--faults"] if faults else [],
        variables=NO_LIMITS,
    ) as running:
        yield running


def time_cursor(milliseconds: float) -> str:
    """A ULID with a zero random part: the `after` cursor of frontend/js/cursor.js."""
    rest = max(0, int(milliseconds))
    digits = ""
    for _ in range(10):
        digits = CROCKFORD[rest % 32] + digits
        rest //= 32
    return digits + "0" * 16


def epoch_ms(created_at: str) -> float:
    return datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp() * 1000


async def page_after(api: Api, token: str, room_id: str, cursor: str) -> list[Frame]:
    """Every message after `cursor`, oldest first, paging forward while hasMore."""
    messages: list[Frame] = []
    while True:
        status, body = await api.call(
            "GET",
            f"/rooms/{room_id}/messages",
            token=token,
            query={"after": cursor, "limit": "100"},
        )
        assert status == 200, body
        messages.extend(body["messages"])
        if not body["hasMore"] or not body["messages"]:
            return messages
        cursor = body["messages"][-1]["messageId"]


async def stored_history(api: Api, token: str, room_id: str) -> list[str]:
    """The room's whole stored history as message ids, in the order history returns."""
    return [m["messageId"] for m in await page_after(api, token, room_id, time_cursor(0))]


class Member:
    """One user as a protocol-following client sees them: the messages it holds per room,
    merged from live `message` frames and catch-up pages, de-duplicated by messageId."""

    def __init__(
        self,
        api: Api,
        ws_url: str,
        username: str,
        token: str,
        socket: Socket,
        batch: bool = False,
    ) -> None:
        self.api = api
        self.ws_url = ws_url
        self.username = username
        self.token = token
        self.socket = socket
        self.batch = batch  # its connections ask for messageBatch frames (`?batch=1`)
        self.rooms: set[str] = set()
        self.held: dict[str, dict[str, Frame]] = {}
        self.live_frames = 0  # `message` frames received, duplicates included
        self.reconnects = 0
        self._seen = 0  # how far into socket.frames absorb() has read
        self.client_ids: set[str] = set()  # clientMessageIds of the messages held

    def absorb(self) -> None:
        frames = self.socket.frames
        for frame in frames[self._seen :]:
            for single in unbatched(frame):
                if single.get("type") == "message":
                    self.live_frames += 1
                    self._hold(single["message"])
        self._seen = len(frames)

    def _hold(self, message: Frame) -> None:
        room = self.held.setdefault(message["roomId"], {})
        room.setdefault(message["messageId"], message)
        if message.get("clientMessageId"):
            self.client_ids.add(message["clientMessageId"])

    def ids(self, room_id: str) -> list[str]:
        """What the client shows: the room's messages ordered by id (the stored order)."""
        self.absorb()
        return sorted(self.held.get(room_id, {}))

    async def drop(self) -> None:
        """The network goes away: no close frame, the server sees 1006."""
        self.absorb()
        transport = self.socket.ws.transport
        transport.abort()
        with suppress(ConnectionError):
            await self.socket.closed(timeout=10)

    async def reconnect(self) -> None:
        """A new ticket and connection, then catch-up of every room by the protocol's rule:
        history after (newest createdAt held - 60 s), merged by messageId."""
        self.absorb()
        self.socket = await Socket.open(
            self.api, self.token, self.username, self.ws_url, batch=self.batch
        )
        self._seen = 0
        self.reconnects += 1
        for room_id in sorted(self.rooms):
            held = self.held.get(room_id, {})
            newest = max((epoch_ms(m["createdAt"]) for m in held.values()), default=None)
            cursor = time_cursor(0 if newest is None else newest - CATCH_UP_WINDOW_MS)
            for message in await page_after(self.api, self.token, room_id, cursor):
                self._hold(message)

    async def wait_holding(self, room_id: str, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ids(room_id)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def new_member(
    api: Api, cloud: RunningLocalCloud, prefix: str, batch: bool = False
) -> Member:
    username, token = await api.account(unique(prefix))
    socket = await Socket.open(api, token, username, cloud.ws_url, batch=batch)
    return Member(api, cloud.ws_url, username, token, socket, batch=batch)


def live_message_ids(socket: Socket, room_id: str) -> list[str]:
    """The id of every `message` the connection received for the room, in arrival order,
    duplicates included: single frames and the items of `messageBatch` frames, read from the
    raw frames (which no wait consumes), not from what a deduping client holds."""
    ids = []
    for data in socket.raw:
        try:
            frame = json.loads(data)
        except ValueError:
            continue
        for single in unbatched(frame):
            message = single.get("message") if single.get("type") == "message" else None
            if isinstance(message, dict) and message.get("roomId") == room_id:
                ids.append(str(message["messageId"]))
    return ids


def assert_delivered_once_in_order(
    member: Member, room_id: str, stored: list[str], in_turn: list[list[str]]
) -> None:
    """What docs/protocol.md ("Order and delivery") promises one connection in one container
    (the local cloud runs each function in one): each stored message arrives live exactly once,
    and each sender's messages sent in turn (`in_turn`, each list in the order sent) arrive
    in that order, which is their stored (id) order."""
    live = live_message_ids(member.socket, room_id)
    repeated = sorted(i for i, n in Counter(live).items() if n > 1)
    assert not repeated, f"{member.username} received {repeated} more than once: {live}"
    assert sorted(live) == stored, (member.username, live, stored)
    for sent in in_turn:
        assert sent == sorted(sent), f"sent in turn, yet stored out of order: {sent}"
        wanted = set(sent)
        assert [i for i in live if i in wanted] == sent, (member.username, live, sent)


async def room_of(admin: Member, members: list[Member], name: str) -> str:
    """A room made by `admin`, every one of `members` admitted (join request, approval)."""
    reply = await admin.socket.request({"action": "createRoom", "name": name})
    assert reply["type"] == "roomCreated", reply
    room_id = str(reply["room"]["roomId"])
    admin.rooms.add(room_id)
    for member in members:
        asked = await member.socket.request({"action": "joinRoom", "roomId": room_id})
        assert asked["type"] == "joinRequested", asked
        ack = await admin.socket.request(
            {"action": "approveJoin", "roomId": room_id, "username": member.username}
        )
        assert ack["type"] == "joinApprovedAck", ack
        await member.socket.next_of("joinApproved")
        member.rooms.add(room_id)
    return room_id


# -- the fault injection endpoint (scripts/localcloud/faults.py) --------------------------------


async def arm(session: aiohttp.ClientSession, cloud: RunningLocalCloud, **rule: Any) -> None:
    async with session.post(f"{cloud.base_url}/_localcloud/faults", json=rule) as response:
        assert response.status == 201, await response.text()


async def fault_report(session: aiohttp.ClientSession, cloud: RunningLocalCloud) -> Any:
    async with session.get(f"{cloud.base_url}/_localcloud/faults") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def clear_faults(session: aiohttp.ClientSession, cloud: RunningLocalCloud) -> None:
    async with session.delete(f"{cloud.base_url}/_localcloud/faults") as response:
        assert response.status == 200, await response.text()
