"""Integration tier: the local cloud as a real process on a free port, driven by real HTTP and
WebSocket clients.

Fixtures:
- `cloud`: the stack exactly as `terraform/` describes it (bcrypt at cost 4).
- `cognito_cloud`: the same with identity_provider = "cognito" (moto's Cognito holds the
  accounts); `identity_cloud` is `cloud` and `cognito_cloud` in turn.
- `short_cloud`: the same with short limits (1-second tickets, an idle timeout and a maximum
  lifetime of seconds) for the expiry and timeout tests.
- `fake_cloud`: a copy of `terraform/` with functions and routes added to the copy's
  `locals.tf`, served from a module written to a temporary directory. It proves that the local
  cloud serves what Terraform declares, and exposes the exact events handlers receive.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import textwrap
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from localcloud.testing import RunningLocalCloud, running_local_cloud

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = Path(os.environ.get("LOCALCLOUD_TEST_TERRAFORM_DIR") or REPO / "terraform")

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run one async scenario to completion (the suite does not depend on pytest-asyncio)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


# These tests sign up many users from one address and send faster than a person: the shared
# clouds run with the abuse limits off. `limited_cloud` has them on, as `make dev` does.
NO_LIMITS = {"rate_limits_enabled": "false"}


@pytest.fixture(scope="session")
def cloud() -> Iterator[RunningLocalCloud]:
    with running_local_cloud(terraform_dir=TERRAFORM_DIR, variables=NO_LIMITS) as running:
        yield running


@pytest.fixture(scope="session")
def limited_cloud() -> Iterator[RunningLocalCloud]:
    """The stack with its default variables: every abuse limit on."""
    with running_local_cloud(terraform_dir=TERRAFORM_DIR) as running:
        yield running


@pytest.fixture(scope="session")
def cognito_cloud() -> Iterator[RunningLocalCloud]:
    """The stack with identity_provider = "cognito": accounts in moto's Cognito user pool."""
    with running_local_cloud(
        terraform_dir=TERRAFORM_DIR, variables={"identity_provider": "cognito", **NO_LIMITS}
    ) as running:
        yield running


@pytest.fixture(params=["builtin", "cognito"])
def identity_cloud(request: pytest.FixtureRequest) -> RunningLocalCloud:
    """`cloud` and `cognito_cloud` in turn: the same test against both identity providers."""
    name = "cloud" if request.param == "builtin" else "cognito_cloud"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


SHORT_TICKET_TTL_SECONDS = 5


@pytest.fixture(scope="session")
def short_cloud() -> Iterator[RunningLocalCloud]:
    with running_local_cloud(
        terraform_dir=TERRAFORM_DIR,
        variables=NO_LIMITS,
        # Short enough for the expiry test to wait out, long enough that a loaded machine's
        # ticket-to-handshake time (over 1 s under CI load) does not expire the others' tickets.
        lambda_env={"TICKET_TTL_SECONDS": str(SHORT_TICKET_TTL_SECONDS)},
        extra_args=["--idle-timeout", "1.5", "--max-connection-duration", "4"],
    ) as running:
        yield running


FAKE_HANDLERS = '''
"""Handlers that exist only in the tests' copy of the Terraform stack."""
import json
import os

import boto3

management = boto3.client(
    "apigatewaymanagementapi", endpoint_url=os.environ["WS_MANAGEMENT_ENDPOINT"]
)


def connect(event, context):
    """$connect: 403 for 'refused'; otherwise tries to post to itself first."""
    if event["requestContext"]["authorizer"]["username"] == "refused":
        return {"statusCode": 403}
    try:
        management.post_to_connection(
            ConnectionId=event["requestContext"]["connectionId"], Data=b"{}"
        )
        outcome = "delivered"
    except management.exceptions.GoneException:
        outcome = "GoneException"
    print(f"self-post during $connect: {outcome}", flush=True)
    return {"statusCode": 200}


def echo(event, context):
    """Returns the event it received (REST or WebSocket) as the body."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "body": json.dumps({"event": event, "requestId": context.aws_request_id,
                            "remaining": context.get_remaining_time_in_millis(),
                            "memory": context.memory_limit_in_mb,
                            "function": context.function_name}),
    }


def sleepy(event, context):
    import time

    time.sleep(context.get_remaining_time_in_millis() / 1000 + 0.5)
    return {"statusCode": 200, "body": "too late"}


def boom(event, context):
    raise RuntimeError("boom: this handler always raises")


def authorize(event, context):
    """Allows ?user=NAME (except 'mallory'), carrying the authorizer event in the context."""
    user = (event.get("queryStringParameters") or {}).get("user")
    if user == "raise":
        raise RuntimeError("authorizer failure")
    if user == "unauthorized":
        raise Exception("Unauthorized")
    effect = "Deny" if user == "mallory" else "Allow"
    return {
        "principalId": user,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
        "context": {"username": user, "authorizerEvent": json.dumps(event)},
    }
'''

EXTRA_FUNCTIONS = """
    echo = {
      handler     = "fakehandlers.echo"
      description = "tests: returns its event"
      memory_size = 128
      timeout     = 3
    }
    sleepy = {
      handler     = "fakehandlers.sleepy"
      description = "tests: outlives its timeout"
      memory_size = 128
      timeout     = 1
    }
    raiser = {
      handler     = "fakehandlers.boom"
      description = "tests: always raises"
      memory_size = 128
      timeout     = 3
    }
    fake_connect = {
      handler     = "fakehandlers.connect"
      description = "tests: $connect"
      memory_size = 128
      timeout     = 3
    }
    fake_authorizer = {
      handler     = "fakehandlers.authorize"
      description = "tests: allows ?user="
      memory_size = 128
      timeout     = 3
    }
"""

EXTRA_ROUTES = """
    echo = { function = "echo", authorizer = false, reply = true }
    boom = { function = "raiser", authorizer = false, reply = true }
    slow = { function = "sleepy", authorizer = false, reply = true }
"""

FAKE_AUTHORIZER_RESOURCE = """
resource "aws_apigatewayv2_authorizer" "tests_fake" {
  api_id           = "fake"
  authorizer_type  = "REQUEST"
  name             = "tests-fake"
  identity_sources = ["route.request.querystring.user"]
}
"""


def insert_after(text: str, pattern: str, addition: str) -> str:
    match = re.search(pattern, text, flags=re.MULTILINE)
    assert match is not None, f"{pattern!r} not found in locals.tf"
    return text[: match.end()] + addition + text[match.end() :]


def replace_value(text: str, name: str, value: str) -> str:
    new, count = re.subn(rf'^(\s*{name}\s*=\s*)"[^"]*"', rf'\g<1>"{value}"', text, flags=re.M)
    assert count == 1, f"{name} not found in locals.tf"
    return new


def fake_stack(tmp: Path) -> tuple[Path, Path]:
    """(terraform dir, python path) of the tests' copy of the stack."""
    terraform = tmp / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, terraform, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    for path in terraform.glob("*.tf"):
        text = path.read_text()
        if "aws_apigatewayv2_authorizer" in text:
            # The copy's authorizer is the fake one, with its own identity source.
            text = re.sub(
                r'resource "aws_apigatewayv2_authorizer"',
                'resource "aws_apigatewayv2_authorizer_disabled"',
                text,
            )
            path.write_text(text)
    locals_tf = terraform / "locals.tf"
    text = locals_tf.read_text()
    text = insert_after(text, r"^\s*lambda_functions\s*=\s*\{\n", EXTRA_FUNCTIONS)
    text = insert_after(text, r"^\s*websocket_routes\s*=\s*\{\n", EXTRA_ROUTES)
    text, count = re.subn(
        r'("\$connect"\s*=\s*\{\s*function\s*=\s*)"[^"]*"', r'\g<1>"fake_connect"', text
    )
    assert count == 1, "$connect route not found in locals.tf"
    text = replace_value(text, "rest_api_function", "echo")
    text = replace_value(text, "websocket_authorizer_function", "fake_authorizer")
    locals_tf.write_text(text)
    (terraform / "tests_fake.tf").write_text(FAKE_AUTHORIZER_RESOURCE)
    python = tmp / "python"
    python.mkdir()
    (python / "fakehandlers.py").write_text(textwrap.dedent(FAKE_HANDLERS))
    return terraform, python


@pytest.fixture(scope="session")
def fake_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    terraform, python = fake_stack(tmp_path_factory.mktemp("fake-stack"))
    with running_local_cloud(terraform_dir=terraform, python_path=[python]) as running:
        yield running
