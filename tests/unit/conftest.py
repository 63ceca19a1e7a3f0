"""Unit tier: the real handlers against moto (in-process), no sockets."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core.models import MockAWS

from localcloud.motoserver import REGION
from tests.unit.harness import Harness
from tests.unit.schema import table_definitions

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # With current boto3, moto's in-process Streams calls need this.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "USERS_TABLE": "test-users",
    "ROOMS_TABLE": "test-rooms",
    "CONNECTIONS_TABLE": "test-connections",
    "MESSAGES_TABLE": "test-messages",
    "JWT_SECRET": "unit-test-signing-key-0123456789abcdef",
    "JWT_ISSUER": "serverless-chat-tests",
    # Cost 4 keeps the suite fast; the deployed default is 12 (terraform/variables.tf).
    "BCRYPT_ROUNDS": "4",
    "WS_MANAGEMENT_ENDPOINT": "https://wsapi12345.execute-api.us-east-1.amazonaws.com/dev",
    "LOG_LEVEL": "WARNING",
    "ROOM_PURGE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/test-room-purge",
    "ROOM_PURGE_GRACE_SECONDS": "0",
}


UNSET = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "JWT_SECRET_PARAMETER")


def apply_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in UNSET:
        monkeypatch.delenv(key, raising=False)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MockAWS]:
    """One in-process moto for the whole session: starting and stopping it per test cost more
    than the tests. `aws` empties every backend before each test."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_env(monkeypatch)
        with mock_aws() as mock:
            yield mock


@pytest.fixture
def aws(moto_session: MockAWS, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh environment, empty moto (every backend reset) and the deployed tables, per test."""
    apply_env(monkeypatch)
    moto_session.reset()
    client = boto3.client("dynamodb")
    for definition in table_definitions("test").values():
        client.create_table(**definition)
    boto3.client("sqs").create_queue(QueueName="test-room-purge")
    yield
    moto_session.reset()


@pytest.fixture
def chat(aws: None) -> Harness:
    return Harness()
