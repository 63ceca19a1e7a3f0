"""The harness's isolation: each test starts from empty tables, fresh handler modules and the
test environment, although moto and the boto3 clients live for the whole session."""

from __future__ import annotations

import os

import pytest

from tests.unit.conftest import ENV
from tests.unit.harness import Harness

TABLES = ("test-users", "test-rooms", "test-connections", "test-messages")

# The two tests below run in file order: the first leaves state behind, the second checks
# none of it is visible. Each also holds on its own.
_left_behind: dict[str, object] = {}


def test_a_test_that_writes_and_changes_module_state(
    chat: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = chat.connect(chat.signup_and_login("alice"))
    chat.send(connection, "alice", {"action": "createRoom", "name": "leftover"})
    assert any(chat.snapshot()[name] for name in TABLES)
    chat.modules["authorizer"].tickets.clock = lambda: 0.0  # not undone on purpose
    monkeypatch.setenv("JWT_ISSUER", "someone-else")
    _left_behind["tickets"] = chat.modules["authorizer"].tickets


def test_the_next_test_sees_none_of_it(chat: Harness) -> None:
    assert all(chat.snapshot()[name] == [] for name in TABLES)
    assert chat.modules["authorizer"].tickets is not _left_behind.get("tickets")
    assert chat.modules["authorizer"].tickets.clock() > 1e9  # time.time again
    assert os.environ["JWT_ISSUER"] == ENV["JWT_ISSUER"]
    assert chat.modules["rest"].settings.jwt_issuer == ENV["JWT_ISSUER"]
