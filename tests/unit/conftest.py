"""Unit tier: the real handlers against moto (in-process), no sockets."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import MockAWS
from moto.dynamodb.models import Table, dynamodb_backends

from localcloud.motoserver import ACCOUNT_ID, REGION
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


class SessionTables:
    """The deployed tables, created once per session from Terraform and emptied before each test.

    Creating four tables (with their indexes and streams) cost more than most tests. Emptying
    them goes to moto's in-memory tables directly: their items and stream records go, and the
    same table objects are put back into an otherwise freshly reset moto. A test that changed a
    table's definition (its description, TTL or tags differ from when it was made) gets that
    table created again, so every test still starts from the deployed, empty schema."""

    def __init__(self, mock: MockAWS) -> None:
        self.mock = mock
        self.definitions = table_definitions("test")
        self.tables: dict[str, Table] = {}
        self.fingerprints: dict[str, str] = {}
        self.sqs = boto3.client("sqs")
        self.mock.reset()
        for name in self.definitions:
            self._create(name)
        self._create_queues()

    def _create_queues(self) -> None:
        self.sqs.create_queue(QueueName="test-room-purge")

    @staticmethod
    def _backend() -> Any:
        return dynamodb_backends[ACCOUNT_ID][REGION]

    @staticmethod
    def _fingerprint(table: Table) -> str:
        """Everything about a table but its items and stream records (indexes via describe)."""
        kept = ("items", "stream_shard", "indexes", "global_indexes")
        state = {k: v for k, v in vars(table).items() if k not in kept}
        return json.dumps([table.describe(), state], sort_keys=True, default=str)

    def _create(self, name: str) -> None:
        boto3.client("dynamodb").create_table(**copy.deepcopy(self.definitions[name]))
        table = self._backend().tables[self.definitions[name]["TableName"]]
        self.tables[name] = table
        self.fingerprints[name] = self._fingerprint(table)

    def reset(self) -> None:
        """Every moto backend reset (SSM, the Management API, Streams, ...), then the deployed
        tables back in it, empty, and the queue made again: nothing a test wrote is visible to
        the next."""
        self.mock.reset()
        backend = self._backend()
        for name, table in self.tables.items():
            table.items.clear()
            if table.stream_shard is not None:
                table.stream_shard.items.clear()
            if self._fingerprint(table) == self.fingerprints[name]:
                backend.tables[table.name] = table
            else:
                self._create(name)
        self._create_queues()


@pytest.fixture(scope="session")
def moto_session() -> Iterator[SessionTables]:
    """One in-process moto for the whole session, with the deployed tables: starting and
    stopping it per test cost more than the tests. `aws` empties it before each test."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_env(monkeypatch)
        with mock_aws() as mock:
            yield SessionTables(mock)


@pytest.fixture
def aws(moto_session: SessionTables, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh environment, a reset moto and the deployed tables and queue, empty, per test."""
    apply_env(monkeypatch)
    moto_session.reset()


@pytest.fixture
def chat(aws: None) -> Harness:
    return Harness()
