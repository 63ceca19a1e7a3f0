"""Conversations end to end in the local cloud: direct rooms over REST and WebSocket, leaving
(no delivery after), markRead receipts, and deleting a room, purged by the room_purge function
that the local cloud drives from its SQS queue as Lambda's event source mapping would."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from boto3.dynamodb.conditions import Key

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api
from tests.integration.conftest import run
from tests.integration.test_rooms_and_messages import admit, connect, create_room, history

pytestmark = pytest.mark.integration


def test_direct_rooms_leaving_and_read_receipts(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, alice_token = await connect(api, cloud, "alice")
            bob, bob_token = await connect(api, cloud, "bob")

            status, body = await api.call(
                "POST", "/rooms/direct", token=alice_token, body={"username": bob.username}
            )
            assert status == 201, body
            room_id = body["room"]["roomId"]
            added = await bob.next_of("roomAdded")
            assert added["room"]["peer"] == alice.username
            opened = await bob.request({"action": "openDirect", "username": alice.username})
            assert (opened["type"], opened["room"]["roomId"]) == ("directOpened", room_id)

            await bob.send({"action": "sendMessage", "roomId": room_id, "text": "hi"})
            message = (await alice.next_of("message"))["message"]
            ack = await alice.request(
                {"action": "markRead", "roomId": room_id, "messageId": message["messageId"]}
            )
            assert ack["type"] == "readAck"
            receipt = await bob.next_of("read", roomId=room_id)
            assert receipt["username"] == alice.username

            status, rooms = await api.call("GET", "/rooms", token=bob_token)
            [listed] = rooms["rooms"]
            assert (listed["kind"], listed["peer"], listed["unread"]) == (
                "direct",
                alice.username,
                0,
            )

            group = await create_room(alice, "leavers")
            await admit(alice, bob, group)
            left = await bob.request({"action": "leaveRoom", "roomId": group})
            assert left == {"type": "leftRoom", "roomId": group, "requestId": left["requestId"]}
            await alice.next_of("memberLeft", roomId=group, username=bob.username)
            await alice.send({"action": "sendMessage", "roomId": group, "text": "gone?"})
            await alice.next_of("message", timeout=10)
            await asyncio.sleep(0.5)  # time for a wrongly routed copy to arrive
            assert [f for f in bob.of_type("message") if f["message"]["roomId"] == group] == []

    run(scenario())


def test_a_deleted_room_is_purged_by_the_queue_job(cloud: RunningLocalCloud) -> None:
    async def scenario() -> str:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, alice_token = await connect(api, cloud, "alice")
            bob, bob_token = await connect(api, cloud, "bob")
            room_id = await create_room(alice, "doomed")
            await admit(alice, bob, room_id)
            for n in range(30):
                await bob.send({"action": "sendMessage", "roomId": room_id, "text": f"m{n}"})
            for _ in range(30):
                await alice.next_of("message")
            assert len((await history(api, alice_token, room_id, limit="100"))["messages"]) == 30

            ack = await alice.request({"action": "deleteRoom", "roomId": room_id})
            assert ack["type"] == "roomDeletedAck"
            await bob.next_of("roomDeleted", roomId=room_id)
            status, body = await api.call("GET", f"/rooms/{room_id}/messages", token=bob_token)
            assert (status, body["error"]["code"]) == (404, "not_found")
            again = await alice.request({"action": "deleteRoom", "roomId": room_id})
            assert (again["type"], again["code"]) == ("error", "not_found")
            return room_id

    room_id = run(scenario())
    messages = cloud.dynamodb().Table(cloud.tables["messages"])
    deadline = time.monotonic() + 30
    left = None
    while time.monotonic() < deadline:
        left = messages.query(KeyConditionExpression=Key("roomId").eq(room_id))["Items"]
        if not left:
            break
        time.sleep(0.2)
    assert left == [], "the purge job did not delete the room's messages"
    rooms = cloud.dynamodb().Table(cloud.tables["rooms"])
    # Members and requests go after the messages; only the tombstone waits out its grace period.
    items: list = []
    while time.monotonic() < deadline:
        items = rooms.query(KeyConditionExpression=Key("pk").eq(f"ROOM#{room_id}"))["Items"]
        if [i["sk"] for i in items] == ["META"]:
            break
        time.sleep(0.2)
    assert [i["sk"] for i in items] == ["META"] and "deletedAt" in items[0]
