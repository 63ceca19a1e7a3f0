"""Message life in the local cloud: an edit, a reaction and a delete travel from the Messages
table's stream (MODIFY records, passed by the Terraform filter the local cloud reads) to every
connection as messageUpdated, after the message itself; typing goes straight to the others;
search over REST."""

from __future__ import annotations

import aiohttp
import pytest

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api
from tests.integration.conftest import run
from tests.integration.test_rooms_and_messages import admit, connect, create_room

pytestmark = pytest.mark.integration


def test_changes_arrive_as_message_updated_in_order(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, alice_token = await connect(api, cloud, "alice")
            bob, _ = await connect(api, cloud, "bob")
            room_id = await create_room(alice, "life")
            await admit(alice, bob, room_id)

            await bob.send({"action": "sendMessage", "roomId": room_id, "text": "draft one"})
            mid = (await alice.next_of("message"))["message"]["messageId"]
            frames = [
                {"action": "editMessage", "roomId": room_id, "messageId": mid, "text": "final"},
                {"action": "react", "roomId": room_id, "messageId": mid, "emoji": "🎉", "on": True},
            ]
            for frame in frames:
                await bob.send(frame)
            # The two writes run as two concurrent invocations (on AWS too): either may land
            # first. Each update carries the whole item as stored at that point in the stream,
            # so the second one holds both changes, whichever order they took.
            first = (await alice.next_of("messageUpdated"))["message"]
            second = (await alice.next_of("messageUpdated"))["message"]
            assert first["text"] == "final" or first.get("reactions") == {"🎉": [bob.username]}
            assert (second["text"], second["reactions"]) == ("final", {"🎉": [bob.username]})
            await bob.send({"action": "deleteMessage", "roomId": room_id, "messageId": mid})
            gone = await bob.next_of("messageUpdated", timeout=10)
            while not gone["message"].get("deleted"):
                gone = await bob.next_of("messageUpdated", timeout=10)
            assert gone["message"]["text"] == ""

            await alice.send({"action": "typing", "roomId": room_id})
            typing = await bob.next_of("typing")
            assert typing == {"type": "typing", "roomId": room_id, "username": alice.username}

            await alice.send({"action": "sendMessage", "roomId": room_id, "text": "Ship it Friday"})
            # bob still holds his own first `message` frame: wait for this one by its text.
            await bob.wait_for(
                lambda f: f.get("type") == "message" and f["message"]["text"] == "Ship it Friday"
            )
            status, body = await api.call(
                "GET", f"/rooms/{room_id}/search", token=alice_token, query={"q": "friday SHIP"}
            )
            assert status == 200 and [m["text"] for m in body["messages"]] == ["Ship it Friday"]
            refused = await bob.request(
                {"action": "editMessage", "roomId": room_id, "messageId": mid, "text": "x"}
            )
            assert (refused["type"], refused["code"]) == ("error", "conflict")

    run(scenario())
