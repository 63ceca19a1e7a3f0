"""Large rooms in the local cloud: with `fanout_chunk_threshold = 1` (a Terraform variable),
every room of two or more connections goes from the stream processor through the FIFO fan-out
queue (created from terraform/queues.tf) to the fanout_worker function, and every connection,
batching or not, still gets every message and its edit, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.infra.conftest import TERRAFORM_DIR
from tests.integration.chat_client import Api, Socket
from tests.integration.conftest import run
from tests.integration.test_rooms_and_messages import admit, connect, create_room, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chunked_cloud() -> Iterator[RunningLocalCloud]:
    with running_local_cloud(
        terraform_dir=TERRAFORM_DIR, variables={"fanout_chunk_threshold": "1"}
    ) as running:
        yield running


def _texts(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for frame in frames:
        for item in frame["items"] if frame["type"] == "messageBatch" else [frame]:
            if item["type"] in ("message", "messageUpdated"):
                out.append((item["type"], item["message"]["text"]))
    return out


def test_a_large_room_is_delivered_in_order_by_the_fanout_workers(
    chunked_cloud: RunningLocalCloud,
) -> None:
    cloud = chunked_cloud

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, _ = await connect(api, cloud, "alice")
            bob, _ = await connect(api, cloud, "bob")
            room_id = await create_room(alice, "big")
            await admit(alice, bob, room_id)
            name, token = await api.account(unique("carol"))
            carol = await Socket.open(api, token, name, cloud.ws_url, batch=True)
            await admit(alice, carol, room_id)
            texts = [f"m{i}" for i in range(6)]
            for text in texts:
                # One at a time (each stored after the last arrived): the order is then the
                # send order, across stream batches, and each connection must keep it.
                await bob.send({"action": "sendMessage", "roomId": room_id, "text": text})
                await bob.wait_for(
                    lambda f, t=text: t in [text for _, text in _texts([f])], consume=False
                )
            last = await alice.wait_for(
                lambda f: f.get("type") == "message" and f["message"]["text"] == "m5",
                consume=False,
            )
            edit = {"action": "editMessage", "roomId": room_id, "text": "m5 edited"}
            await bob.send({**edit, "messageId": last["message"]["messageId"]})
            expected = [("message", t) for t in texts] + [("messageUpdated", "m5 edited")]
            for socket in (alice, bob, carol):
                await socket.wait_for(
                    lambda f: (
                        f.get("type") == "messageUpdated"
                        or (
                            f.get("type") == "messageBatch"
                            and f["items"][-1]["type"] == "messageUpdated"
                        )
                    ),
                    consume=False,
                    timeout=20,
                )
                assert _texts(socket.frames) == expected, socket.username

    run(scenario())
    assert "fanout_worker" in cloud.logs()
    queues = cloud.client("sqs").list_queues()["QueueUrls"]
    assert any(url.endswith("-fanout.fifo") for url in queues), queues
