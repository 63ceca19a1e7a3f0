"""Signup, login, tickets and the WebSocket handshake, end to end through the local cloud."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import websockets
from boto3.dynamodb.conditions import Key

from chat import keys
from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import PASSWORD, Api, Socket, handshake_status, unique
from tests.integration.conftest import SHORT_TICKET_TTL_SECONDS, run

pytestmark = pytest.mark.integration


def user_connections(cloud: RunningLocalCloud, username: str) -> list[dict[str, Any]]:
    table = cloud.dynamodb().Table(cloud.tables["connections"])
    items = table.query(KeyConditionExpression=Key("pk").eq(keys.user_pk(username)))
    return list(items["Items"])


def test_signup_login_me_and_ticket(identity_cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, identity_cloud.rest_url)
            name = unique("Ann")
            credentials = {"username": name, "password": PASSWORD}
            assert await api.call("POST", "/auth/signup", credentials) == (201, {"username": name})
            status, body = await api.call(
                "POST", "/auth/signup", {"username": name.lower(), "password": PASSWORD}
            )
            assert (status, body["error"]["code"]) == (409, "username_taken")
            status, login = await api.call("POST", "/auth/login", credentials)
            assert status == 200 and login["username"] == name and login["expiresAt"]
            wrong = await api.call(
                "POST", "/auth/login", {"username": name, "password": "wrong password"}
            )
            unknown = await api.call(
                "POST", "/auth/login", {"username": unique(), "password": "wrong password"}
            )
            assert wrong[0] == unknown[0] == 401
            assert wrong[1] == unknown[1]
            assert await api.call("GET", "/me", token=login["token"]) == (200, {"username": name})
            status, body = await api.call("GET", "/me")
            assert (status, body["error"]["code"]) == (401, "unauthorized")
            status, ticket = await api.call("POST", "/auth/ticket", token=login["token"])
            assert status == 201 and ticket["ticket"] and ticket["expiresAt"]
            status, body = await api.call("POST", "/auth/signup", raw="{not json")
            assert (status, body["error"]["code"]) == (400, "invalid_input")
            status, body = await api.call("GET", "/no/such/path")
            assert (status, body["error"]["code"]) == (404, "not_found")

    run(scenario())


def test_a_ticket_opens_one_connection_and_bad_tickets_leave_none(
    identity_cloud: RunningLocalCloud,
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, identity_cloud.rest_url)
            name, token = await api.account()
            ticket = await api.ticket(token)
            ws = await websockets.connect(f"{identity_cloud.ws_url}?ticket={ticket}")
            socket = Socket(ws, name)
            assert len(user_connections(identity_cloud, name)) == 1
            # Used, forged, missing: the handshake fails and nothing is stored.
            assert await handshake_status(identity_cloud.ws_url, f"?ticket={ticket}") == 403
            assert (
                await handshake_status(identity_cloud.ws_url, "?ticket=forged-" + ticket[7:]) == 403
            )
            # Missing or empty identity source (terraform/websocket_api.tf): 401, no invocation.
            assert await handshake_status(identity_cloud.ws_url, "") == 401
            assert await handshake_status(identity_cloud.ws_url, "?ticket=") == 401
            assert len(user_connections(identity_cloud, name)) == 1
            assert await socket.request({"action": "ping"}) == {
                "type": "pong",
                "requestId": f"{name}-1",
            }
            await socket.close()
            # $disconnect runs after the close handshake; give it a moment under load.
            for _ in range(100):
                if not user_connections(identity_cloud, name):
                    break
                await asyncio.sleep(0.05)
            assert user_connections(identity_cloud, name) == []

    run(scenario())


def test_an_expired_ticket_is_rejected(short_cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, short_cloud.rest_url)
            name, token = await api.account()
            ticket = await api.ticket(token)
            await asyncio.sleep(SHORT_TICKET_TTL_SECONDS + 1.2)
            assert await handshake_status(short_cloud.ws_url, f"?ticket={ticket}") == 403
            assert user_connections(short_cloud, name) == []

    run(scenario())


def test_logout_ends_one_session_and_logout_all_ends_every_one(
    identity_cloud: RunningLocalCloud,
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, identity_cloud.rest_url)
            name, first = await api.account()
            credentials = {"username": name, "password": PASSWORD}
            status, login = await api.call("POST", "/auth/login", credentials)
            assert status == 200
            second = str(login["token"])
            # Logout: that token stops at once, for REST and for tickets; the other goes on.
            assert await api.call("POST", "/auth/logout", token=first) == (204, None)
            for method, path in (("GET", "/me"), ("POST", "/auth/ticket"), ("GET", "/rooms")):
                status, body = await api.call(method, path, token=first)
                assert (status, body["error"]["code"]) == (401, "unauthorized"), path
            status, body = await api.call("POST", "/auth/logout", token=first)
            assert (status, body["error"]["code"]) == (401, "unauthorized")
            assert await api.call("GET", "/me", token=second) == (200, {"username": name})
            sockets = [
                await Socket.open(api, second, name, identity_cloud.ws_url, batch=True)
                for _ in range(2)
            ]
            assert await sockets[0].request({"action": "ping"}) == {
                "type": "pong",
                "requestId": f"{name}-1",
            }
            status, login = await api.call("POST", "/auth/login", credentials)
            third = str(login["token"])
            # Log out everywhere from a third session: every token ends, both sockets close.
            status, body = await api.call("POST", "/auth/logout-all", token=third)
            assert (status, body) == (200, {"closedConnections": 2})
            for socket in sockets:
                await socket.closed()
            for token in (second, third):
                status, body = await api.call("GET", "/me", token=token)
                assert (status, body["error"]["code"]) == (401, "unauthorized")
                status, _ = await api.call("POST", "/auth/ticket", token=token)
                assert status == 401
            for _ in range(100):  # $disconnect ran for both
                if not user_connections(identity_cloud, name):
                    break
                await asyncio.sleep(0.05)
            assert user_connections(identity_cloud, name) == []
            # A new login works at once.
            status, login = await api.call("POST", "/auth/login", credentials)
            fresh = str(login["token"])
            assert await api.call("GET", "/me", token=fresh) == (200, {"username": name})
            socket = await Socket.open(api, fresh, name, identity_cloud.ws_url)
            await socket.close()

    run(scenario())
