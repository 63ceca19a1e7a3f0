"""What Terraform declares is what the local cloud serves, with AWS's event shapes.

Runs against `fake_cloud`: a copy of terraform/ with an `echo` and a `boom` route, an `echo`
REST function and a fake authorizer added to the copy's locals.tf (see conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
import websockets

from localcloud.motoserver import ACCOUNT_ID, REGION
from localcloud.testing import LocalCloudStartError, RunningLocalCloud, running_local_cloud
from tests.events import load_event
from tests.integration.chat_client import handshake_status
from tests.integration.conftest import TERRAFORM_DIR, fake_stack, run

pytestmark = pytest.mark.integration


def keys(value: Any) -> Any:
    """The shape of an event: nested key sets, values dropped."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    return None


async def echo_frame(cloud: RunningLocalCloud, user: str, frame: str) -> dict[str, Any]:
    async with websockets.connect(f"{cloud.ws_url}?user={user}") as ws:
        await ws.send(frame)
        return dict(json.loads(await ws.recv()))


def test_a_route_added_in_terraform_is_served(fake_cloud: RunningLocalCloud) -> None:
    reply = run(echo_frame(fake_cloud, "alice", json.dumps({"action": "echo", "n": 1})))
    event = reply["event"]
    assert event["requestContext"]["routeKey"] == "echo"
    assert event["body"] == '{"action": "echo", "n": 1}'
    assert reply["function"] == "echo"
    assert reply["memory"] == 128
    assert 0 < reply["remaining"] <= 3000


def test_websocket_message_event_has_the_shape_aws_documents(
    fake_cloud: RunningLocalCloud,
) -> None:
    event = run(echo_frame(fake_cloud, "alice", '{"action":"echo"}'))["event"]
    sample = load_event("websocket_message")
    assert set(event) == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"])
    context = event["requestContext"]
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    assert isinstance(context["connectedAt"], int)
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["connectionId"].endswith("=")
    assert context["authorizer"]["username"] == "alice"
    assert context["authorizer"]["principalId"] == "alice"
    assert event["isBase64Encoded"] is False


def test_authorizer_event_has_the_shape_aws_documents(fake_cloud: RunningLocalCloud) -> None:
    event = run(echo_frame(fake_cloud, "alice", '{"action":"echo"}'))["event"]
    authorizer_event = json.loads(event["requestContext"]["authorizer"]["authorizerEvent"])
    sample = load_event("websocket_authorizer_request")
    assert set(authorizer_event) == set(sample)
    assert set(authorizer_event["requestContext"]) == set(sample["requestContext"])
    assert authorizer_event["type"] == "REQUEST"
    assert authorizer_event["queryStringParameters"] == {"user": "alice"}
    assert authorizer_event["methodArn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:"
        f"{authorizer_event['requestContext']['apiId']}/{fake_cloud.stage}/$connect"
    )
    assert authorizer_event["requestContext"]["routeKey"] == "$connect"
    assert authorizer_event["requestContext"]["eventType"] == "CONNECT"


def test_rest_event_has_the_shape_aws_documents(fake_cloud: RunningLocalCloud) -> None:
    async def scenario() -> tuple[int, dict[str, str], dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{fake_cloud.rest_url}/rooms/abc/messages?limit=5&limit=7&x=1",
                data='{"hello": "world"}',
                headers={"Content-Type": "application/json"},
            ) as response,
        ):
            return response.status, dict(response.headers), await response.json()

    status, headers, body = run(scenario())
    assert status == 200
    assert headers["X-Echo"] == "yes"
    event = body["event"]
    sample = load_event("rest_api_proxy")
    assert set(event) == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"])
    assert set(event["requestContext"]["identity"]) == set(sample["requestContext"]["identity"])
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/rooms/abc/messages"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "rooms/abc/messages"}
    assert event["queryStringParameters"] == {"limit": "7", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5", "7"], "x": ["1"]}
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["path"] == f"/{fake_cloud.stage}/rooms/abc/messages"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]


def test_a_handler_that_raises_gets_api_gateways_error_frame_and_serving_goes_on(
    fake_cloud: RunningLocalCloud,
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(f"{fake_cloud.ws_url}?user=bob") as ws:
            await ws.send('{"action":"boom"}')
            error = json.loads(await ws.recv())
            await ws.send('{"action":"echo"}')
            after = json.loads(await ws.recv())
            return error, after

    error, after = run(scenario())
    assert error["message"] == "Internal server error"
    assert set(error) == {"message", "connectionId", "requestId"}
    assert after["event"]["requestContext"]["connectionId"] == error["connectionId"]
    logs = fake_cloud.logs()
    assert "RuntimeError: boom: this handler always raises" in logs
    assert "Traceback (most recent call last)" in logs


def test_a_function_past_its_timeout_fails_like_lambda(fake_cloud: RunningLocalCloud) -> None:
    reply = run(echo_frame(fake_cloud, "tim", '{"action":"slow"}'))
    assert reply["message"] == "Internal server error"
    assert "sleepy: Task timed out after 1.00 seconds" in fake_cloud.logs()


def test_a_missing_identity_source_is_401_without_invoking_the_authorizer(
    fake_cloud: RunningLocalCloud,
) -> None:
    assert run(handshake_status(fake_cloud.ws_url)) == 401
    assert "identity source route.request.querystring.user missing" in fake_cloud.logs()


def test_a_deny_is_403_and_an_authorizer_failure_is_500(fake_cloud: RunningLocalCloud) -> None:
    assert run(handshake_status(fake_cloud.ws_url, "?user=mallory")) == 403
    assert run(handshake_status(fake_cloud.ws_url, "?user=raise")) == 500
    # API Gateway's convention: an authorizer that raises "Unauthorized" means 401.
    assert run(handshake_status(fake_cloud.ws_url, "?user=unauthorized")) == 401


def test_a_connect_route_that_refuses_fails_the_handshake(fake_cloud: RunningLocalCloud) -> None:
    assert run(handshake_status(fake_cloud.ws_url, "?user=refused")) == 403
    assert "rejected: 403 $connect returned 403" in fake_cloud.logs()


def test_a_post_while_connect_runs_is_gone_as_on_aws(fake_cloud: RunningLocalCloud) -> None:
    assert run(handshake_status(fake_cloud.ws_url, "?user=selfpost")) == 101
    assert "self-post during $connect: GoneException" in fake_cloud.logs()


def test_a_handler_that_does_not_import_stops_start_up(tmp_path: Any) -> None:
    terraform, python = fake_stack(tmp_path)
    locals_tf = terraform / "locals.tf"
    locals_tf.write_text(
        locals_tf.read_text().replace('"fakehandlers.echo"', '"fakehandlers_missing.echo"')
    )
    with (
        pytest.raises(LocalCloudStartError) as failure,
        running_local_cloud(terraform_dir=terraform, python_path=[python]),
    ):
        pass
    message = str(failure.value)
    assert "exited with 2" in message
    assert "function 'echo': handler 'fakehandlers_missing.echo' does not import" in message
    assert "No module named 'fakehandlers_missing'" in message


def test_the_real_stack_declares_every_route_in_the_protocol() -> None:
    from localcloud.terraform import load

    topology = load(TERRAFORM_DIR)
    for route in (
        "$connect",
        "$disconnect",
        "$default",
        "createRoom",
        "joinRoom",
        "approveJoin",
        "rejectJoin",
        "sendMessage",
        "getMessages",
        "getMembers",
    ):
        assert route in topology.routes
    assert topology.routes["$connect"].authorizer
    # One-way: the stored message is the answer; errors are posted by the function.
    assert not topology.routes["sendMessage"].reply
    assert topology.stream is not None and topology.stream.table == "messages"
