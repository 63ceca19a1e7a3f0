"""The harness's isolation: each test starts from empty tables, fresh handler modules and the
test environment, although moto, the deployed tables and the boto3 clients live for the whole
session."""

from __future__ import annotations

import os
import sys

import boto3
import pytest

from tests.unit.conftest import ENV
from tests.unit.harness import Harness
from tests.unit.test_rooms import create_room

TABLES = ("test-users", "test-rooms", "test-connections", "test-messages", "test-limits")

# The two tests below run in file order: the first leaves state behind, the second checks
# none of it is visible. Each also holds on its own.
_left_behind: dict[str, object] = {}


def test_a_test_that_writes_and_changes_module_state(
    chat: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = chat.connect(chat.signup_and_login("alice"))
    room_id = create_room(chat, connection, name="leftover")
    chat.send(connection, "alice", {"action": "sendMessage", "roomId": room_id, "text": "hi"})
    assert any(chat.snapshot()[name] for name in TABLES)
    chat.modules["authorizer"].tickets.clock = lambda: 0.0  # not undone on purpose
    monkeypatch.setenv("JWT_ISSUER", "someone-else")
    _left_behind["tickets"] = chat.modules["authorizer"].tickets
    # Other services, a table of its own and a changed deployed table: none of it undone.
    boto3.client("ssm").put_parameter(Name="/left/behind", Value="x", Type="String")
    boto3.client("sqs").send_message(QueueUrl=os.environ["ROOM_PURGE_QUEUE_URL"], MessageBody="{}")
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="test-extra",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName="test-rooms",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    assert chat.stream_event()["Records"]


def test_the_next_test_sees_none_of_it(chat: Harness) -> None:
    assert all(chat.snapshot()[name] == [] for name in TABLES)
    assert chat.modules["authorizer"].tickets is not _left_behind.get("tickets")
    assert sys.modules["chat.handlers.authorizer"] is chat.modules["authorizer"]
    assert chat.modules["authorizer"].tickets.clock() > 1e9  # time.time again
    assert os.environ["JWT_ISSUER"] == ENV["JWT_ISSUER"]
    assert chat.modules["rest"].settings.jwt_issuer == ENV["JWT_ISSUER"]
    assert chat.stream_event()["Records"] == []  # no stream record of another test's writes
    assert chat._management.connections == {}
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []
    queue = os.environ["ROOM_PURGE_QUEUE_URL"]
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue)
    client = boto3.client("dynamodb")
    assert sorted(client.list_tables()["TableNames"]) == sorted(TABLES)
    ttl = client.describe_time_to_live(TableName="test-rooms")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "DISABLED"}
