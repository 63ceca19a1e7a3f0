"""Abuse limits (docs/protocol.md, "Limits") against moto's limits table: the GCRA bucket and
the failure windows in the store, and each limited action through the real handlers."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chat import keys
from chat.accounts import WRONG_CREDENTIALS
from chat.config import ConfigurationError, Settings
from chat.gcra import Bucket
from chat.store import LimitsStore
from tests.events import load_event
from tests.unit.harness import Harness, LambdaContext, fresh_handlers
from tests.unit.test_messages import room  # noqa: F401  (fixture)
from tests.unit.test_rooms import create_room, error_of

NOW_MS = 1_800_000_000_000


@pytest.fixture
def store(aws: None) -> LimitsStore:
    return LimitsStore(boto3.resource("dynamodb").Table("test-limits"))


def test_bucket_allows_exactly_the_burst_then_answers_when_the_next_unit_is_free(
    store: LimitsStore,
) -> None:
    bucket = Bucket(5, 1, 20)  # 200 ms apart, 20 at once
    key = keys.rate("msg", "alice")
    waits = [store.take(key, NOW_MS, bucket) for _ in range(21)]
    assert waits[:20] == [0] * 20
    assert waits[20] == 200
    # A rejected take changes nothing: 199 ms later it is still refused, at 200 ms allowed.
    assert store.take(key, NOW_MS + 199, bucket) == 1
    assert store.take(key, NOW_MS + 200, bucket) == 0


def test_bucket_refills_at_the_sustained_rate(store: LimitsStore) -> None:
    bucket = Bucket(5, 1, 20)
    key = keys.rate("msg", "bob")
    # 5 per second forever is allowed; a sixth inside one second after the burst is spent is not.
    for second in range(10):
        for i in range(5):
            now = NOW_MS + second * 1000 + i * 200
            assert store.take(key, now, bucket) == 0
    item = store.table.get_item(Key=key)["Item"]
    assert int(item["ttl"]) > (NOW_MS // 1000)


def test_a_take_is_one_conditional_write_when_the_container_saw_the_key_last(
    store: LimitsStore,
) -> None:
    """The issue's budget: at most one extra conditional write per limited action. Idle or in a
    burst, a container that made the key's last write predicts the branch; another container
    (a second store on the same table) pays one mispredicted write, then predicts too."""
    writes: list[str] = []
    client = store.table.meta.client
    handler = client.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem",
        lambda params, **_: writes.append(params["ConditionExpression"]),
    )
    try:
        bucket = Bucket(5, 1, 20)
        key = keys.rate("msg", "dora")
        for second in range(3):  # idle: each take finds tat in the past
            assert store.take(key, NOW_MS + second * 1000, bucket) == 0
        assert len(writes) == 3
        burst_at = NOW_MS + 10_000
        assert [store.take(key, burst_at, bucket) for _ in range(20)] == [0] * 20
        assert len(writes) == 3 + 20
        assert store.take(key, burst_at, bucket) == 200  # refused: one failed write, no second
        assert len(writes) == 3 + 21
        other = LimitsStore(store.table)  # another container, which has never seen the key
        assert other.take(key, burst_at + 200, bucket) == 0
        assert len(writes) == 3 + 21 + 2
        assert other.take(key, burst_at + 400, bucket) == 0
        assert len(writes) == 3 + 21 + 3
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", handler)


def test_the_container_remembers_a_bounded_number_of_keys(store: LimitsStore) -> None:
    store.SEEN_KEYS = 3
    bucket = Bucket(5, 1, 20)
    for who in ["a", "b", "c", "d"]:
        assert store.take(keys.rate("msg", who), NOW_MS, bucket) == 0
    assert list(store._seen) == [keys.rate("msg", w)["pk"] for w in ["b", "c", "d"]]
    # A forgotten key costs a write at most, never a wrong answer.
    assert [store.take(keys.rate("msg", "a"), NOW_MS, bucket) for _ in range(19)] == [0] * 19
    assert store.take(keys.rate("msg", "a"), NOW_MS, bucket) == 200


def test_buckets_are_per_key(store: LimitsStore) -> None:
    bucket = Bucket(1, 60, 1)
    assert store.take(keys.rate("msg", "a"), NOW_MS, bucket) == 0
    assert store.take(keys.rate("msg", "a"), NOW_MS, bucket) == 60_000
    assert store.take(keys.rate("msg", "b"), NOW_MS, bucket) == 0


def test_a_rate_that_does_not_divide_a_second_is_kept_exactly_in_ticks_of_its_own_key(
    store: LimitsStore,
) -> None:
    """600 per second is 5/3 ms apart: in whole ms it would be 1 ms apart (1000 per second). In
    ticks of 1/3 ms (chat.gcra), a request every ms for 299 ms gets 181 through: the burst of 2
    and 600 * 0.299, rounded down."""
    bucket = Bucket(600, 1, 2)
    assert (bucket.ticks_per_ms, bucket.interval) == (3, 5)
    key = keys.rate("msg", "fast", bucket.ticks_per_ms)
    assert key == {"pk": "RATE#msg@3#fast"}
    admitted = sum(store.take(key, NOW_MS + ms, bucket) == 0 for ms in range(300))
    assert admitted == 181
    assert store.take(key, NOW_MS + 300, bucket) == 0
    # Refused: the next unit is free 5/3 ms later, said as a whole 2 ms.
    assert store.take(key, NOW_MS + 300, bucket) == 2


def test_failure_window_counts_then_starts_again_after_it_ends(store: LimitsStore) -> None:
    key = keys.rate("login", "carol")
    for i in range(3):
        store.count(key, NOW_MS + i, 900_000)
    assert store.windows([key]) == {key["pk"]: (3, NOW_MS + 900_000)}
    store.count(key, NOW_MS + 900_000, 900_000)
    assert store.windows([key]) == {key["pk"]: (1, NOW_MS + 1_800_000)}
    assert store.windows([keys.rate("login", "nobody")]) == {}


# -- through the handlers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def limits_on(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tier's environment has the limits off (tests/unit/conftest.py); here they are
    on, as deployed (RATE_LIMITS_ENABLED defaults to true)."""
    monkeypatch.delenv("RATE_LIMITS_ENABLED", raising=False)


@pytest.fixture
def chat(aws: None, limits_on: None) -> Harness:
    return Harness()


def _freeze(chat: Harness, module: str, now: float = NOW_MS / 1000) -> list[float]:
    """The module's limiter reads a clock the test moves."""
    clock = [now]
    chat.modules[module].limits.clock = lambda: clock[0]
    return clock


def _errors(chat: Harness, connection_id: str) -> list[dict[str, Any]]:
    return [f for f in chat.frames(connection_id) if f["type"] == "error"]


def _stored(chat: Harness, room_id: str) -> int:
    table = chat.dynamodb.Table("test-messages")
    return len(
        table.query(
            KeyConditionExpression="roomId = :r", ExpressionAttributeValues={":r": room_id}
        )["Items"]
    )


def test_send_message_over_the_burst_is_rate_limited_and_not_stored(
    chat: Harness,
    room: dict[str, Any],  # noqa: F811
) -> None:
    clock = _freeze(chat, "send_message")
    frame = {"action": "sendMessage", "roomId": room["id"], "text": "hi"}
    for _ in range(20):
        chat.send(room["alice"], "alice", frame)
    assert _errors(chat, room["alice"]) == []
    assert _stored(chat, room["id"]) == 20
    chat.send(room["alice"], "alice", {**frame, "requestId": "r21"})
    [error] = _errors(chat, room["alice"])
    assert error["code"] == "rate_limited" and error["retryAfter"] == 1
    assert error["requestId"] == "r21" and error["action"] == "sendMessage"
    assert _stored(chat, room["id"]) == 20
    # Another user has a bucket of their own; alice's refills at 5 per second.
    chat.send(room["bob"], "bob", {**frame, "text": "me too"})
    assert _errors(chat, room["bob"]) == []
    clock[0] += 0.2
    chat.send(room["alice"], "alice", frame)
    assert _errors(chat, room["alice"]) == []
    assert _stored(chat, room["id"]) == 22


def test_edit_and_react_share_the_senders_bucket(
    chat: Harness,
    room: dict[str, Any],  # noqa: F811
) -> None:
    _freeze(chat, "send_message")
    chat.send(room["alice"], "alice", {"action": "sendMessage", "roomId": room["id"], "text": "x"})
    chat.pump()
    chat.frames(room["alice"]), chat.frames(room["bob"])
    [item] = chat.dynamodb.Table("test-messages").query(
        KeyConditionExpression="roomId = :r", ExpressionAttributeValues={":r": room["id"]}
    )["Items"]
    message_id = item["messageId"]
    edit = {"action": "editMessage", "roomId": room["id"], "messageId": message_id}
    react = {"action": "react", "roomId": room["id"], "messageId": message_id, "emoji": "👍"}
    for i in range(18):  # with the send and the react below: the burst of 20
        chat.send(room["alice"], "alice", {**edit, "text": f"edit {i}"})
    assert _errors(chat, room["alice"]) == []
    chat.send(room["alice"], "alice", {**react, "on": True})
    chat.send(room["alice"], "alice", {**edit, "text": "one too many"})
    [error] = _errors(chat, room["alice"])
    assert error["code"] == "rate_limited" and error["action"] == "editMessage"
    stored = chat.dynamodb.Table("test-messages").get_item(
        Key={"roomId": room["id"], "messageId": message_id}
    )["Item"]
    assert stored["text"] == "edit 17"


def test_switch_off_removes_the_message_limit(
    chat: Harness,
    room: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMITS_ENABLED", "false")
    chat.modules = fresh_handlers()
    _freeze(chat, "send_message")
    frame = {"action": "sendMessage", "roomId": room["id"], "text": "load"}
    for _ in range(30):
        chat.send(room["alice"], "alice", frame)
    assert _errors(chat, room["alice"]) == []
    assert _stored(chat, room["id"]) == 30
    items = chat.dynamodb.Table("test-limits").scan()["Items"]
    assert [i["pk"] for i in items if i["pk"].startswith("RATE#msg#")] == []


TABLES = {
    "USERS_TABLE": "u",
    "ROOMS_TABLE": "r",
    "CONNECTIONS_TABLE": "c",
    "MESSAGES_TABLE": "m",
}


def test_the_typing_window_is_a_limit_setting_that_the_switch_turns_off() -> None:
    assert Settings.from_env(TABLES).limits.typing_window == 2
    window = {**TABLES, "RATE_LIMIT_TYPING_WINDOW_SECONDS": "5"}
    assert Settings.from_env(window).limits.typing_window == 5
    # The contract's one switch turns every limit off, this one included.
    assert (
        Settings.from_env({**window, "RATE_LIMITS_ENABLED": "false"}).limits.typing_window is None
    )
    for bad in ("0", "-1", "2.5", "soon"):
        with pytest.raises(ConfigurationError, match="RATE_LIMIT_TYPING_WINDOW_SECONDS"):
            Settings.from_env({**TABLES, "RATE_LIMIT_TYPING_WINDOW_SECONDS": bad})


def _typing(chat: Harness, where: dict[str, Any]) -> None:
    """bob types in the room (one-way: no reply)."""
    assert chat.send(where["bob"], "bob", {"action": "typing", "roomId": where["id"]}) is None


def _typing_frames(chat: Harness, where: dict[str, Any]) -> int:
    """The typing events alice received since the last look."""
    return len([f for f in chat.frames(where["alice"]) if f["type"] == "typing"])


def test_typing_is_forwarded_once_per_the_configured_window(
    chat: Harness,
    room: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMIT_TYPING_WINDOW_SECONDS", "5")
    chat.modules = fresh_handlers()
    clock = [NOW_MS / 1000]
    chat.modules["send_message"].service.clock = lambda: clock[0]
    _typing(chat, room)
    _typing(chat, room)
    assert _typing_frames(chat, room) == 1
    clock[0] += 2.5  # past the default window, inside this one
    _typing(chat, room)
    assert _typing_frames(chat, room) == 0
    clock[0] += 2.5
    _typing(chat, room)
    assert _typing_frames(chat, room) == 1


def test_switch_off_forwards_every_typing_event_and_writes_nothing(
    chat: Harness,
    room: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMITS_ENABLED", "false")
    chat.modules = fresh_handlers()
    chat.modules["send_message"].service.clock = lambda: NOW_MS / 1000
    for _ in range(3):
        _typing(chat, room)
    assert _typing_frames(chat, room) == 3
    items = chat.dynamodb.Table("test-connections").scan()["Items"]
    assert [i for i in items if i["pk"].startswith(keys.TYPING_PREFIX)] == []


def _rest(
    chat: Harness, path: str, body: dict[str, Any], source_ip: str = "203.0.113.10"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A REST call from `source_ip`; status, body and headers."""
    event = load_event("rest_api_proxy")
    event.update(httpMethod="POST", path=path, body=json.dumps(body))
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "{}"), response["headers"]


def _login(
    chat: Harness, username: str, password: str, source_ip: str = "203.0.113.10"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return _rest(chat, "/auth/login", {"username": username, "password": password}, source_ip)


PASSWORD = "correct horse battery"
# The answer to a wrong password, for a known username and an unknown one alike.
WRONG_PASSWORD = json.dumps(
    {"error": {"code": "invalid_credentials", "message": WRONG_CREDENTIALS}},
    sort_keys=True,
)


@pytest.mark.parametrize("known", [True, False], ids=["known user", "unknown user"])
def test_five_failed_logins_block_the_pair_even_for_the_right_password(
    chat: Harness, known: bool
) -> None:
    if known:
        assert _rest(chat, "/auth/signup", {"username": "dave", "password": PASSWORD})[0] == 201
    clock = _freeze(chat, "rest")
    answers = [_login(chat, "dave", "wrong password!")[:2] for _ in range(5)]
    # Known or not, the five answers are the same.
    assert {(s, b["error"]["code"]) for s, b in answers} == {(401, "invalid_credentials")}
    status, body, headers = _login(chat, "Dave", PASSWORD)
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert body["error"]["retryAfter"] == 900 and headers["Retry-After"] == "900"
    # Another source is not blocked by this pair.
    assert _login(chat, "dave", PASSWORD, "198.51.100.7")[0] == (200 if known else 401)
    # Once the window has passed, the right password works again.
    clock[0] += 900
    assert _login(chat, "dave", PASSWORD)[0] == (200 if known else 401)


@pytest.mark.parametrize("known", [True, False], ids=["known user", "unknown user"])
def test_a_hundred_failures_from_any_sources_block_the_username_everywhere(
    chat: Harness, known: bool
) -> None:
    if known:
        assert _rest(chat, "/auth/signup", {"username": "erin", "password": PASSWORD})[0] == 201
    _freeze(chat, "rest")
    answers = [
        _login(chat, "erin", "wrong password!", f"198.51.{i // 4}.{i % 4}")[:2] for i in range(100)
    ]
    # Known or not, the hundred answers are the same, to the byte, and so is the 429.
    assert {(s, json.dumps(b, sort_keys=True)) for s, b in answers} == {(401, WRONG_PASSWORD)}
    status, body, headers = _login(chat, "erin", PASSWORD, "192.0.2.200")
    assert (status, headers["Retry-After"]) == (429, "900")
    assert body == {
        "error": {"code": "rate_limited", "message": body["error"]["message"], "retryAfter": 900}
    }
    # Other usernames are untouched.
    assert _login(chat, "frank", "wrong password!", "192.0.2.200")[0] == 401


def test_signups_per_source_per_hour(chat: Harness) -> None:
    clock = _freeze(chat, "rest")
    for i in range(20):
        assert _rest(chat, "/auth/signup", {"username": f"user{i}", "password": PASSWORD})[0] == 201
    status, body, headers = _rest(
        chat, "/auth/signup", {"username": "user20", "password": PASSWORD}
    )
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) == 180  # one sign-up frees every 3600 / 20 s
    # Nothing was stored for the refused sign-up.
    assert chat.dynamodb.Table("test-users").get_item(Key={"pk": "USER#user20"}).get("Item") is None
    assert (
        _rest(chat, "/auth/signup", {"username": "user20", "password": PASSWORD}, "192.0.2.9")[0]
        == 201
    )
    clock[0] += 180
    assert _rest(chat, "/auth/signup", {"username": "user21", "password": PASSWORD})[0] == 201


def test_after_a_rejection_the_next_join_request_within_the_cooldown_is_rate_limited(
    chat: Harness,
) -> None:
    a = chat.connect(chat.signup_and_login("alice"))
    b = chat.connect(chat.signup_and_login("bob"))
    c = chat.connect(chat.signup_and_login("carol"))
    room_id = create_room(chat, a)
    other_room = create_room(chat, a, name="Other")
    clock = _freeze(chat, "rooms")
    join = {"action": "joinRoom", "roomId": room_id}
    assert chat.send(b, "bob", join)["type"] == "joinRequested"  # type: ignore[index]
    chat.send(a, "alice", {"action": "rejectJoin", "roomId": room_id, "username": "bob"})
    reply = chat.send(b, "bob", {**join, "requestId": "again"})
    assert error_of(reply) == "rate_limited"
    assert reply is not None and reply["retryAfter"] == 600 and reply["requestId"] == "again"
    # Nothing was stored: the admin has no request to decide on.
    status, body = chat.rest("GET", f"/rooms/{room_id}/members", token=chat.login("alice"))
    assert status == 200 and body["requests"] == []
    # Other rooms, and other users, are not affected.
    assert (
        chat.send(b, "bob", {"action": "joinRoom", "roomId": other_room})["type"] == "joinRequested"
    )  # type: ignore[index]
    assert chat.send(c, "carol", join)["type"] == "joinRequested"  # type: ignore[index]
    clock[0] += 600
    assert chat.send(b, "bob", join)["type"] == "joinRequested"  # type: ignore[index]
