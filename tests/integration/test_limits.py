"""The abuse limits through the running local cloud: on by default (`limited_cloud`, the stack's
own variables), none with rate_limits_enabled=false (`cloud`, see conftest.py).

`limited_cloud` allows 20 sign-ups per hour from this machine's address: the tests here use
two, and the sign-up test, last in the file, spends the rest."""

from __future__ import annotations

import asyncio

import aiohttp
from boto3.dynamodb.conditions import Key

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import PASSWORD, Api, Socket, unique
from tests.integration.conftest import run
from tests.integration.test_rooms_and_messages import create_room

SENDS = 100


def _stored(cloud: RunningLocalCloud, room_id: str) -> int:
    table = cloud.dynamodb().Table(cloud.tables["messages"])
    return len(table.query(KeyConditionExpression=Key("roomId").eq(room_id))["Items"])


async def _flood(cloud: RunningLocalCloud) -> tuple[list[dict[str, object]], str]:
    """SENDS messages as fast as one socket sends them; the error frames and the room, once
    every send is accounted for (stored, or refused with an error frame)."""
    async with aiohttp.ClientSession() as session:
        api = Api(session, cloud.rest_url)
        name, token = await api.account()
        socket = await Socket.open(api, token, name, cloud.ws_url)
        room_id = await create_room(socket)
        for i in range(SENDS):
            await socket.send({"action": "sendMessage", "roomId": room_id, "text": f"m{i}"})
        # One-way routes run on their own and post errors later: wait until all are in.
        for _ in range(600):
            errors = [f for f in socket.frames if f.get("type") == "error"]
            if len(errors) + _stored(cloud, room_id) >= SENDS:
                break
            await asyncio.sleep(0.05)
        await socket.ws.close()
        return errors, room_id


def test_a_flood_of_messages_is_rate_limited_and_the_refused_ones_are_not_stored(
    limited_cloud: RunningLocalCloud,
) -> None:
    errors, room_id = run(_flood(limited_cloud))
    # 20 at once, then 5 a second: 100 sends would need 16 s to all pass.
    assert errors, "no sendMessage was rate_limited"
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert all(isinstance(e["retryAfter"], int) and e["retryAfter"] >= 1 for e in errors)
    assert _stored(limited_cloud, room_id) == SENDS - len(errors)


def test_without_the_switch_nothing_is_rate_limited(cloud: RunningLocalCloud) -> None:
    errors, room_id = run(_flood(cloud))
    assert errors == []
    assert _stored(cloud, room_id) == SENDS

    async def logins() -> list[int]:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            name, _ = await api.account()
            wrong = {"username": name, "password": "wrong password!"}
            statuses = [(await api.call("POST", "/auth/login", wrong))[0] for _ in range(6)]
            right = {"username": name, "password": PASSWORD}
            return [*statuses, (await api.call("POST", "/auth/login", right))[0]]

    assert run(logins()) == [401] * 6 + [200]


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, str]
) -> tuple[int, dict[str, object], str | None]:
    async with session.post(url, json=body) as response:
        payload = await response.json()
        return response.status, payload, response.headers.get("Retry-After")


def test_five_failed_logins_then_429_with_retry_after_even_for_the_right_password(
    limited_cloud: RunningLocalCloud,
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, limited_cloud.rest_url)
            name, _ = await api.account()
            url = limited_cloud.rest_url + "/auth/login"
            ghost = unique()
            for who in (name, ghost):
                for _ in range(5):
                    status, _body, _after = await _post(
                        session, url, {"username": who, "password": "wrong password!"}
                    )
                    assert status == 401
                status, body, after = await _post(
                    session, url, {"username": who, "password": PASSWORD}
                )
                assert status == 429 and body["error"]["code"] == "rate_limited"  # type: ignore[index]
                assert after is not None and 890 <= int(after) <= 900

    run(scenario())


def test_signups_from_one_address_stop_at_twenty_an_hour(limited_cloud: RunningLocalCloud) -> None:
    async def scenario() -> tuple[int, str | None]:
        async with aiohttp.ClientSession() as session:
            url = limited_cloud.rest_url + "/auth/signup"
            for _ in range(21):
                status, body, after = await _post(
                    session, url, {"username": unique(), "password": PASSWORD}
                )
                if status != 201:
                    assert body["error"]["code"] == "rate_limited", body  # type: ignore[index]
                    return status, after
        return 201, None

    status, after = run(scenario())
    assert status == 429 and after is not None and int(after) >= 1
