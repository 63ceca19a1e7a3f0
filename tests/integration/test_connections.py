"""Connection lifecycle: clean-up on disconnect and after 410, API Gateway's limits, and the
Management API as boto3's apigatewaymanagementapi client sees it."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chat import keys
from chat.store import ConnectionsStore
from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api, Socket, unique
from tests.integration.conftest import run

pytestmark = pytest.mark.integration


def connection_ids(cloud: RunningLocalCloud, username: str) -> list[str]:
    table = cloud.dynamodb().Table(cloud.tables["connections"])
    items = table.query(KeyConditionExpression=Key("pk").eq(keys.user_pk(username)))["Items"]
    return [str(i["connectionId"]) for i in items]


def items_naming(cloud: RunningLocalCloud, connection_id: str) -> list[dict[str, Any]]:
    table = cloud.dynamodb().Table(cloud.tables["connections"])
    return [i for i in table.scan()["Items"] if i.get("connectionId") == connection_id]


async def open_socket(api: Api, cloud: RunningLocalCloud) -> Socket:
    name, token = await api.account(unique("conn"))
    return await Socket.open(api, token, name, cloud.ws_url)


async def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_disconnect_removes_every_item_of_the_connection(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            await socket.request({"action": "createRoom", "name": "bye"})
            [connection_id] = connection_ids(cloud, socket.username)
            # META, USER# index and ROOM# index items.
            assert len(items_naming(cloud, connection_id)) == 3
            await socket.close()
            await eventually(lambda: items_naming(cloud, connection_id) == [])

    run(scenario())


def test_a_stale_connection_is_removed_after_410(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            room = await socket.request({"action": "createRoom", "name": "stale"})
            room_id = room["room"]["roomId"]
            # A connection whose $disconnect was lost: in the table, unknown to the gateway.
            stale_id = "StaleConn0000Q=="
            store = ConnectionsStore(cloud.dynamodb().Table(cloud.tables["connections"]))
            store.add(stale_id, socket.username, "2026-01-01T00:00:00.000Z", 2**31, [room_id])
            assert len(items_naming(cloud, stale_id)) == 3
            await socket.send({"action": "sendMessage", "roomId": room_id, "text": "anyone?"})
            assert (await socket.next_of("message"))["message"]["text"] == "anyone?"
            await eventually(lambda: items_naming(cloud, stale_id) == [])
            await socket.close()

    run(scenario())
    assert "@connections/StaleConn0000Q== -> 410 GoneException" in cloud.logs()


def test_frames_over_32_kb_close_the_connection_with_1009(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            [connection_id] = connection_ids(cloud, socket.username)
            at_limit = '{"action":"ping","pad":"' + "x" * (32 * 1024 - 26) + '"}'
            assert len(at_limit.encode()) == 32 * 1024
            await socket.send(at_limit)
            assert (await socket.next_of("pong"))["type"] == "pong"
            await socket.send('{"action":"ping","pad":"' + "x" * (32 * 1024) + '"}')
            assert await socket.closed() == 1009
            await eventually(lambda: items_naming(cloud, connection_id) == [])

    run(scenario())


def test_the_management_api_works_with_boto3(cloud: RunningLocalCloud) -> None:
    client = cloud.management_client()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            [connection_id] = connection_ids(cloud, socket.username)
            assert connection_id.endswith("=")  # needs URL-encoding, as AWS's ids do
            loop = asyncio.get_running_loop()
            info = await loop.run_in_executor(
                None, lambda: client.get_connection(ConnectionId=connection_id)
            )
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            assert info["Identity"]["UserAgent"].startswith("Python/")
            assert info["ConnectedAt"] <= info["LastActiveAt"]
            await loop.run_in_executor(
                None,
                lambda: client.post_to_connection(ConnectionId=connection_id, Data=b'{"x":1}'),
            )
            assert await socket.wait_for(lambda f: f.get("x") == 1)
            await loop.run_in_executor(
                None, lambda: client.delete_connection(ConnectionId=connection_id)
            )
            assert await socket.closed() == 1000
            await eventually(lambda: items_naming(cloud, connection_id) == [])
            for call in (
                lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"late"),
                lambda: client.get_connection(ConnectionId=connection_id),
                lambda: client.delete_connection(ConnectionId=connection_id),
            ):
                with pytest.raises(client.exceptions.GoneException) as gone:
                    await loop.run_in_executor(None, call)
                error: ClientError = gone.value
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    run(scenario())


def test_idle_connections_and_old_connections_are_closed(short_cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, short_cloud.rest_url)
            # Each connection's clock starts when it opens: the busy one first, kept busy.
            busy = await open_socket(api, short_cloud)
            busy_opened = time.monotonic()

            async def keep_busy() -> None:
                while not busy._reader.done():
                    await busy.send({"action": "ping"})
                    await asyncio.sleep(0.3)

            pinger = asyncio.create_task(keep_busy())
            idle = await open_socket(api, short_cloud)
            idle_opened = time.monotonic()
            assert await idle.closed(timeout=5) == 1001  # idle timeout 1.5 s
            idle_after = time.monotonic() - idle_opened
            assert await busy.closed(timeout=8) == 1001  # maximum duration 4 s
            busy_after = time.monotonic() - busy_opened
            pinger.cancel()
            assert 1.4 < idle_after < 4.5
            # From the client's mark after its handshake: the server's 4 s started earlier.
            assert 3.5 < busy_after < 7
            assert len(busy.of_type("pong")) >= 8
            for socket in (idle, busy):
                await eventually(lambda s=socket: connection_ids(short_cloud, s.username) == [])

    run(scenario())


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer whatever",
        "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=" + "0" * 64,
    ],
)
def test_the_management_api_refuses_unsigned_requests(
    cloud: RunningLocalCloud, authorization: str | None
) -> None:
    """Anyone who read a connection id in the dev log could post to it before."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            [connection_id] = connection_ids(cloud, socket.username)
            headers = {"Authorization": authorization} if authorization is not None else {}
            url = f"{cloud.management_url}/@connections/{quote(connection_id, safe='')}"
            for method in ("POST", "GET", "DELETE"):
                async with session.request(
                    method, url, data=b'{"forged":1}', headers=headers
                ) as response:
                    assert response.status == 403, method
                    assert "Missing Authentication Token" in await response.text()
            # The connection is untouched: still open, and it received nothing forged.
            assert (await socket.request({"action": "ping"}))["type"] == "pong"
            assert not [f for f in socket.frames if f.get("forged")]
            await socket.close()

    run(scenario())


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 5000 + "]" * 5000,
        '{"action": "sendMessage", "roomId": ' + '{"a":' * 5000 + "1" + "}" * 5001,
        '{"action": "createRoom", "name": ' + "[" * 30_000,  # unclosed, under 32 KB
    ],
)
def test_deeply_nested_frames_get_an_answer(cloud: RunningLocalCloud, frame: str) -> None:
    """Route selection used to raise RecursionError in a task nobody awaited: no reply."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            socket = await open_socket(api, cloud)
            await socket.send(frame)
            error = await socket.next_of("error")
            assert error["code"] == "invalid_input" and error["message"]
            assert (await socket.request({"action": "ping"}))["type"] == "pong"
            await socket.close()

    run(scenario())


def test_a_deeply_nested_rest_body_is_a_400(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            body = '{"username": ' + "[" * 5000 + "]" * 5000 + ', "password": "x"}'
            async with session.post(f"{cloud.rest_url}/auth/signup", data=body) as response:
                assert response.status == 400
                assert (await response.json())["error"]["code"] == "invalid_input"

    run(scenario())
