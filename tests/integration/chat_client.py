"""A small async client for the chat protocol: REST with aiohttp, WebSocket with websockets."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]
PASSWORD = "correct horse battery"


def unique(prefix: str = "u") -> str:
    """A username no other test uses (3-32 characters of the allowed set)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def unbatched(frame: Any) -> list[Frame]:
    """The frames a `messageBatch` carries, in order; any other frame alone ([] if not one)."""
    if not isinstance(frame, dict):
        return []
    if frame.get("type") == "messageBatch" and isinstance(frame.get("items"), list):
        return [i for i in frame["items"] if isinstance(i, dict)]
    return [frame]


class Api:
    def __init__(self, session: aiohttp.ClientSession, rest_url: str) -> None:
        self.session = session
        self.rest_url = rest_url

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: str | bytes | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        async with self.session.request(
            method, self.rest_url + path, data=data, headers=headers, params=query
        ) as response:
            text = await response.text()
            try:
                payload = json.loads(text) if text else None
            except ValueError:
                payload = text
            return response.status, payload

    async def account(self, username: str | None = None) -> tuple[str, str]:
        """Sign up and log in; returns (username, token)."""
        username = username or unique()
        status, body = await self.call(
            "POST", "/auth/signup", {"username": username, "password": PASSWORD}
        )
        assert status == 201, body
        status, body = await self.call(
            "POST", "/auth/login", {"username": username, "password": PASSWORD}
        )
        assert status == 200, body
        return username, str(body["token"])

    async def ticket(self, token: str) -> str:
        status, body = await self.call("POST", "/auth/ticket", token=token)
        assert status == 201, body
        return str(body["ticket"])


class Socket:
    """One WebSocket connection; a reader task keeps every frame it receives in order."""

    def __init__(self, ws: ClientConnection, username: str) -> None:
        self.ws = ws
        self.username = username
        self.frames: list[Frame] = []
        self.raw: list[str | bytes] = []
        self.arrivals: dict[str, float] = {}  # messageId => when its `message` frame arrived
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self._request_ids = 0

    @classmethod
    async def open(
        cls, api: Api, token: str, username: str, ws_url: str, batch: bool = False
    ) -> Socket:
        """`batch`: ask for messageBatch frames (`&batch=1`), as the browser client does."""
        ticket = await api.ticket(token)
        query = f"ticket={ticket}" + ("&batch=1" if batch else "")
        ws = await websockets.connect(f"{ws_url}?{query}", max_size=None)
        return cls(ws, username)

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                self.raw.append(data)
                try:
                    frame = json.loads(data)
                except ValueError:
                    frame = {"type": "<not json>", "data": data}
                for single in unbatched(frame):
                    if single.get("type") == "message":
                        message_id = str(single["message"]["messageId"])
                        self.arrivals.setdefault(message_id, time.monotonic())
                async with self._changed:
                    self.frames.append(frame if isinstance(frame, dict) else {"value": frame})
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def send(self, frame: Frame | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def wait_for(
        self, predicate: Callable[[Frame], bool], timeout: float = 10.0, consume: bool = True
    ) -> Frame:
        async def find() -> Frame:
            async with self._changed:
                while True:
                    for index, frame in enumerate(self.frames):
                        if predicate(frame):
                            if consume:
                                del self.frames[index]
                            return frame
                    if self._reader.done():
                        raise ConnectionError(f"connection closed ({self.ws.close_code})")
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def next_of(self, frame_type: str, timeout: float = 10.0, **fields: Any) -> Frame:
        return await self.wait_for(
            lambda f: f.get("type") == frame_type and all(f.get(k) == v for k, v in fields.items()),
            timeout,
        )

    async def request(self, frame: Frame, timeout: float = 10.0) -> Frame:
        """Send an action with a fresh requestId and return the frame that echoes it."""
        self._request_ids += 1
        request_id = f"{self.username}-{self._request_ids}"
        await self.send({**frame, "requestId": request_id})
        return await self.wait_for(lambda f: f.get("requestId") == request_id, timeout)

    def of_type(self, frame_type: str) -> list[Frame]:
        return [f for f in self.frames if f.get("type") == frame_type]

    async def closed(self, timeout: float = 10.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, 10)


async def handshake_status(ws_url: str, query: str = "") -> int:
    """The HTTP status of a WebSocket handshake that is expected to fail (101 if it opens)."""
    try:
        async with websockets.connect(f"{ws_url}{query}"):
            return 101
    except websockets.InvalidStatus as e:
        return int(e.response.status_code)
