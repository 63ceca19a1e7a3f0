"""Schemathesis over the REST API against the running local cloud (issue 16), from the OpenAPI
description the project keeps and serves (lambda/chat/openapi.json, GET /api/openapi.json).

Every operation of the description gets a fixed, derandomised budget of Schemathesis cases,
positive (valid by the description) and negative (a field, the body, a parameter or the token
made invalid), sent as a real user who is the admin of a real room with real messages, a
pending join request and an uploaded file, so room paths reach real code rather than stopping
at `not_found`. Each answer must be no 5xx, never `internal`, and conform to the description
(status, headers, content type, body schema; no success without a valid token). A rejected case
(4xx) must leave every table of the stack exactly as it was. Each operation must have answered
both accepted and rejected cases: a budget that never got past the checks proves nothing.

Why not `@schema.parametrize()`: with pytest 9.2 every item it makes has the same node id (the
function's, without `[METHOD /path]`: pytest now builds ids from `originalname` and the
callspec, and Schemathesis 4.32 passes the bare function name and no callspec), which
pytest-xdist and `-k` cannot tell apart. The cases come from the same strategies
(`APIOperation.as_strategy`) and checks (`call_and_validate`)."""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import PASSWORD, Api
from tests.integration.conftest import run
from tests.integration.reliability import new_member, reliability_cloud, room_of, stored_history
from tests.integration.test_media import PDF, post_file

pytestmark = pytest.mark.integration

DESCRIPTION_PATH = Path(__file__).resolve().parents[2] / "lambda" / "chat" / "openapi.json"
DESCRIPTION = json.loads(DESCRIPTION_PATH.read_text("utf-8"))
schema = schemathesis.openapi.from_path(
    DESCRIPTION_PATH,
    config=schemathesis.Config.from_dict({"output": {"sanitization": {"enabled": False}}}),
)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
# The budget per operation; derandomised, so a failure in CI replays locally.
# REST_FUZZ_EXAMPLES=150 sweeps longer by hand (about 6 minutes).
BUDGET = settings(
    max_examples=int(os.environ.get("REST_FUZZ_EXAMPLES", "25")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# The text rules (NFKC, Unicode categories, 'a visible character', 'not both cursors') are more
# than JSON Schema patterns can say, so a schema-valid case may rightly be refused and a
# schema-invalid one (full-width letters, which NFKC folds) rightly accepted: these two checks
# would judge how much of the rules the description can express, not the API. ignored_auth
# re-sends every accepted case twice (no token, a wrong one); here a quarter of the cases carry
# the generated Authorization (or none) instead of the real token, and each of those must be
# 401 where the description asks for the token, at no extra request. Every other built-in check runs.
EXCLUDED_CHECKS = [positive_data_acceptance, negative_data_rejection, ignored_auth]
Tables = dict[str, list[str]]


@dataclass
class World:
    """What the cases are sent as and about: the admin of a room holding every kind of message."""

    cloud: RunningLocalCloud
    username: str
    token: str
    peer: str
    room_id: str
    upload_id: str
    # Logout cases end sessions of their own user: the admin's token must outlive them.
    leaver: str = ""
    session: requests.Session = field(default_factory=requests.Session)
    _last: Tables | None = None

    def __post_init__(self) -> None:
        self.dynamodb = self.cloud.client("dynamodb")
        self.pool = ThreadPoolExecutor(len(self.cloud.tables))  # one Scan per table at once

    def tables(self) -> Tables:
        """Every item of every table of the stack, in a comparable form."""
        names = sorted(self.cloud.tables.values())
        return dict(zip(names, self.pool.map(self._scan, names), strict=True))

    def _scan(self, table: str) -> list[str]:
        items = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(json.dumps(i, sort_keys=True) for i in page["Items"])
        return sorted(items)

    def before(self) -> Tables:
        """The tables before a case: what the last rejected case left, or read anew."""
        if self._last is None:
            self._last = self.tables()
        return self._last

    def after_rejected(self) -> Tables:
        self._last = self.tables()
        return self._last

    def after_accepted(self) -> None:
        self._last = None

    def leaver_token(self) -> str:
        """A new session of the user whom the logout operations log out (log out everywhere
        ends all of them; a login right after it works at once)."""
        response = self.session.post(
            f"{self.cloud.rest_url}/auth/login",
            json={"username": self.leaver, "password": PASSWORD},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


async def build_world(cloud: RunningLocalCloud) -> World:
    async with aiohttp.ClientSession() as http:
        api = Api(http, cloud.rest_url)
        admin = await new_member(api, cloud, "restfz")
        peer = await new_member(api, cloud, "restpeer")
        asker = await new_member(api, cloud, "restask")
        leaver, _ = await api.account()
        room_id = await room_of(admin, [peer], "rest fuzz")
        asked = await asker.socket.request({"action": "joinRoom", "roomId": room_id})
        assert asked["type"] == "joinRequested", asked

        # Messages of every shape history can return: plain, edited, reacted, deleted, a file.
        status, upload = await api.call(
            "POST",
            f"/rooms/{room_id}/uploads",
            {"filename": "notes.pdf", "contentType": "application/pdf", "size": len(PDF)},
            admin.token,
        )
        assert status == 201, upload
        assert await post_file(http, upload, PDF, "application/pdf", cloud.base_url) in (200, 204)
        for text in ("hello world", "to be edited", "to be deleted", "react to this"):
            await admin.socket.send({"action": "sendMessage", "roomId": room_id, "text": text})
        await admin.socket.send(
            {"action": "sendMessage", "roomId": room_id, "attachments": [upload["uploadId"]]}
        )
        ids = await _stored(api, admin.token, room_id, 5)
        await admin.socket.send(
            {"action": "editMessage", "roomId": room_id, "messageId": ids[1], "text": "edited"}
        )
        await admin.socket.send({"action": "deleteMessage", "roomId": room_id, "messageId": ids[2]})
        await peer.socket.send(
            {"action": "react", "roomId": room_id, "messageId": ids[3], "emoji": "🎉", "on": True}
        )
        for _ in range(3):
            await admin.socket.next_of("messageUpdated")
        read = await peer.socket.request(
            {"action": "markRead", "roomId": room_id, "messageId": ids[3]}
        )
        assert read["type"] == "readAck", read
        status, direct = await api.call(
            "POST", "/rooms/direct", {"username": peer.username}, admin.token
        )
        assert status == 201, direct

        # No socket stays open: nothing but the cases may change a table from here on.
        for member in (admin, peer, asker):
            await member.socket.close()
    world = World(
        cloud, admin.username, admin.token, peer.username, room_id, upload["uploadId"], leaver
    )
    await _settled(world)
    return world


async def _stored(api: Api, token: str, room_id: str, count: int) -> list[str]:
    for _ in range(200):
        ids = await stored_history(api, token, room_id)
        if len(ids) >= count:
            return ids
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} messages were not stored")


async def _settled(world: World) -> None:
    """Until the disconnects and the stream's deliveries have left the tables alone."""
    previous = None
    for _ in range(100):
        current = await asyncio.to_thread(world.tables)
        if current == previous:
            return
        previous = current
        await asyncio.sleep(0.2)
    raise AssertionError("the tables kept changing after the set-up")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with reliability_cloud() as cloud:
        built = run(build_world(cloud))
        yield built
        built.session.close()
        built.pool.shutdown()


def _pick(value: Any, every: int) -> bool:
    """A deterministic 1-in-`every` choice by a generated value (derandomised runs repeat; an
    absent body is Schemathesis' NOT_SET, whose repr holds its address: it counts as None)."""
    stable = json.dumps(value, default=lambda v: None if v is NOT_SET else repr(v))
    return zlib.crc32(stable.encode("utf-8", "surrogatepass")) % every == 0


LOGOUTS = {"/auth/logout", "/auth/logout-all"}


def steer(case: schemathesis.Case, world: World) -> dict[str, str] | None:
    """Point most cases at the real room, file and users, keeping some of what was generated;
    the headers to send: the real token, or None to send the generated (or no) Authorization.
    Every choice is made on the generated values, before any is replaced."""
    params = case.path_parameters or {}
    body = case.body
    generated = (case.headers or {}).get("Authorization")
    keep_generated_token = _pick((params, case.query, body, generated), 4)
    if "roomId" in params and not _pick(params["roomId"], 4):
        params["roomId"] = world.room_id
    if "uploadId" in params and not _pick(params["uploadId"], 2):
        params["uploadId"] = world.upload_id
    if isinstance(body, dict) and "username" in body and not _pick(body, 3):
        if case.operation.path == "/auth/login":
            body.update(username=world.username, password=PASSWORD)
        elif case.operation.path == "/rooms/direct":
            body["username"] = world.peer
    if keep_generated_token:
        return None
    if case.operation.path in LOGOUTS:
        return {"Authorization": f"Bearer {world.leaver_token()}"}
    return {"Authorization": f"Bearer {world.token}"}


def no_internal_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """No answer, whatever the input, is the `internal` error of a bug."""
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        assert body["error"].get("code") != "internal", f"internal error: {case.method} {case.path}"


def cases(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_answers_as_described_and_rejected_input_changes_nothing(
    operation: schemathesis.APIOperation, world: World
) -> None:
    statuses: Counter[int] = Counter()
    needs_token = operation.definition.raw.get("security") != []

    @BUDGET
    @given(case=cases(operation))
    def fuzz(case: schemathesis.Case) -> None:
        headers = steer(case, world)
        before = world.before()
        response = case.call_and_validate(
            base_url=world.cloud.rest_url,
            session=world.session,
            headers=headers,
            excluded_checks=EXCLUDED_CHECKS,
            additional_checks=[no_internal_error],
            allow_redirects=False,  # the 302 of a download is the answer, not S3's file behind it
        )
        statuses[response.status_code] += 1
        if headers is None and needs_token:
            assert response.status_code == 401, "answered without the real token"
        if response.status_code < 400:
            world.after_accepted()
        else:
            assert world.after_rejected() == before, f"{response.status_code}, yet a table changed"

    fuzz()
    assert any(status < 400 for status in statuses), f"nothing was accepted: {statuses}"
    if operation.path != "/openapi.json":  # takes no input, so nothing to reject
        assert any(400 <= status < 500 for status in statuses), f"nothing rejected: {statuses}"


@pytest.mark.parametrize("path", sorted(DESCRIPTION["paths"]))
def test_a_method_no_path_takes_is_405_with_the_documented_allow_header(
    path: str, world: World
) -> None:
    concrete = path.replace("{roomId}", world.room_id).replace("{uploadId}", world.upload_id)
    before = world.before()
    response = world.session.patch(
        world.cloud.rest_url + concrete,
        headers={"Authorization": f"Bearer {world.token}"},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    documented = {m.upper() for m in DESCRIPTION["paths"][path] if m != "parameters"}
    assert set(response.headers["Allow"].split(", ")) == documented | {"OPTIONS"}
    assert world.after_rejected() == before


def test_the_served_description_is_the_one_fuzzed(world: World) -> None:
    response = world.session.get(f"{world.cloud.rest_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.json() == DESCRIPTION
