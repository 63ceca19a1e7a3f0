"""`--aws-endpoint`: DynamoDB and Streams from another endpoint (here a separate moto server
process standing in for LocalStack or DynamoDB Local). Tables are created once and reused by
the next start; the stream is then read from LATEST, so old messages are not re-delivered."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from localcloud.motoserver import moto_server
from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.integration.chat_client import Api, Socket
from tests.integration.conftest import TERRAFORM_DIR, run

pytestmark = pytest.mark.integration


@pytest.fixture
def external_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


async def say(cloud: RunningLocalCloud, username: str, text: str, room_id: str | None) -> str:
    """Log in (signing up the first time), connect, send one message, return the room id."""
    async with aiohttp.ClientSession() as session:
        api = Api(session, cloud.rest_url)
        credentials = {"username": username, "password": "correct horse battery"}
        await api.call("POST", "/auth/signup", credentials)
        status, login = await api.call("POST", "/auth/login", credentials)
        assert status == 200, login
        socket = await Socket.open(api, login["token"], username, cloud.ws_url)
        if room_id is None:
            room_id = str(
                (await socket.request({"action": "createRoom", "name": "x"}))["room"]["roomId"]
            )
        await socket.send({"action": "sendMessage", "roomId": room_id, "text": text})
        frame = await socket.next_of("message")
        assert frame["message"]["text"] == text
        await socket.close()
        # Only the new message arrived live: the one from the previous run was not replayed.
        assert [f["message"]["text"] for f in socket.of_type("message")] == []
        return room_id


def test_an_external_endpoint_keeps_data_across_restarts(external_endpoint: str) -> None:
    args = ["--aws-endpoint", external_endpoint]
    with running_local_cloud(terraform_dir=TERRAFORM_DIR, extra_args=args) as first:
        assert first.aws_endpoint == external_endpoint
        room_id = run(say(first, "persistent", "before restart", None))
    with running_local_cloud(terraform_dir=TERRAFORM_DIR, extra_args=args) as second:
        run(say(second, "persistent", "after restart", room_id))
    logs = second.logs()  # complete once the process has stopped
    assert "(existing)" in logs
    # One invocation with one record: the stream was read from LATEST, not replayed.
    invocations = [line for line in logs.splitlines() if "-> stream_processor records=" in line]
    assert len(invocations) == 1 and "records=1 " in invocations[0], invocations
