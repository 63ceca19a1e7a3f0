"""POST /auth/logout and /auth/logout-all through the real REST handler and authorizer, in both
identity modes: which tokens stop working, which keep working, and what bad input changes."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import jwt
import pytest

from chat.accounts import (
    LOGGED_OUT,
    LOGGED_OUT_EVERYWHERE,
    everywhere,
    refusal,
    without_token,
)
from chat.models import TokenState
from chat.tokens import Credential
from tests.unit.conftest import ENV, CognitoPool
from tests.unit.harness import Harness

PASSWORD = "correct horse battery"
SECRET = ENV["JWT_SECRET"]
ISSUER = ENV["JWT_ISSUER"]


def state(chat: Harness, identity: CognitoPool | None) -> dict[str, object]:
    return {"tables": chat.snapshot(), "pool": identity.users() if identity else None}


def me(chat: Harness, token: str) -> tuple[int, dict[str, Any]]:
    return chat.rest("GET", "/me", token=token)


def refused_because(chat: Harness, token: str) -> str:
    status, body = me(chat, token)
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"
    return str(body["error"]["message"])


def allowed(policy: dict[str, Any]) -> bool:
    return bool(policy["policyDocument"]["Statement"][0]["Effect"] == "Allow")


def test_logout_ends_that_token_only(accounts_chat: Harness, identity: CognitoPool | None) -> None:
    first = accounts_chat.signup_and_login("alice")
    second = accounts_chat.login("alice")
    assert first != second
    assert accounts_chat.rest("POST", "/auth/logout", token=first) == (204, {})
    assert refused_because(accounts_chat, first) == LOGGED_OUT
    status, body = accounts_chat.rest("POST", "/auth/ticket", token=first)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert accounts_chat.rest("GET", "/rooms", token=first)[0] == 401
    # The other session is untouched: REST, tickets, connections.
    assert me(accounts_chat, second) == (200, {"username": "alice"})
    assert allowed(accounts_chat.authorize(accounts_chat.ticket(second)))


def test_logout_twice_is_refused_and_changes_nothing(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    token = accounts_chat.signup_and_login("alice")
    assert accounts_chat.rest("POST", "/auth/logout", token=token)[0] == 204
    before = state(accounts_chat, identity)
    for path in ("/auth/logout", "/auth/logout-all"):
        status, body = accounts_chat.rest("POST", path, token=token)
        assert (status, body["error"]) == (401, {"code": "unauthorized", "message": LOGGED_OUT})
    assert state(accounts_chat, identity) == before


@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all"])
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="no-token"),
        pytest.param("", id="empty"),
        pytest.param(
            jwt.encode(
                {"sub": "alice", "iat": 1, "exp": 4_000_000_000, "iss": ISSUER}, None, "none"
            ),
            id="alg-none",
        ),
        pytest.param(
            jwt.encode(
                {"sub": "alice", "iat": 1, "exp": 4_000_000_000, "iss": ISSUER, "ver": 0},
                "a-different-key-0123456789abcdef012",
                "HS256",
            ),
            id="forged",
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
def test_logout_without_a_valid_token_is_refused_and_changes_nothing(
    accounts_chat: Harness, identity: CognitoPool | None, path: str, token: str | None
) -> None:
    kept = accounts_chat.signup_and_login("alice")
    before = state(accounts_chat, identity)
    status, body = accounts_chat.rest("POST", path, token=token)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert state(accounts_chat, identity) == before
    assert me(accounts_chat, kept)[0] == 200


def test_logout_everywhere_ends_every_token_and_closes_the_connections(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    first = accounts_chat.signup_and_login("alice")
    second = accounts_chat.login("alice")
    bob = accounts_chat.signup_and_login("bob")
    sockets = [accounts_chat.connect(second), accounts_chat.connect(first)]
    bobs = accounts_chat.connect(bob)
    pending = accounts_chat.ticket(second)  # issued before, redeemed after
    management = accounts_chat._management.connections
    assert all(s in management for s in sockets)
    status, body = accounts_chat.rest("POST", "/auth/logout-all", token=first)
    assert (status, body) == (200, {"closedConnections": 2})
    assert not any(s in management for s in sockets)  # DeleteConnection reached both
    assert bobs in management
    for token in (first, second):
        assert refused_because(accounts_chat, token) == LOGGED_OUT_EVERYWHERE
    assert not allowed(accounts_chat.authorize(pending))
    # Other users are untouched, and a new login works at once.
    assert me(accounts_chat, bob)[0] == 200
    fresh = accounts_chat.login("alice")
    assert me(accounts_chat, fresh) == (200, {"username": "alice"})
    assert allowed(accounts_chat.authorize(accounts_chat.ticket(fresh)))


def test_a_ticket_issued_before_a_logout_does_not_connect(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    token = accounts_chat.signup_and_login("alice")
    other = accounts_chat.login("alice")
    ticket, kept = accounts_chat.ticket(token), accounts_chat.ticket(other)
    assert accounts_chat.rest("POST", "/auth/logout", token=token)[0] == 204
    assert not allowed(accounts_chat.authorize(ticket))
    assert allowed(accounts_chat.authorize(kept))


def test_cognito_logout_everywhere_also_signs_out_at_the_pool(cognito_pool: CognitoPool) -> None:
    chat = Harness()
    token = chat.signup_and_login("alice")
    # A refresh token from the pool itself (another app of the same pool, say).
    refresh = cognito_pool.client.initiate_auth(
        ClientId=cognito_pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["RefreshToken"]
    assert chat.rest("POST", "/auth/logout-all", token=token)[0] == 200
    with pytest.raises(cognito_pool.client.exceptions.NotAuthorizedException):
        cognito_pool.client.initiate_auth(
            ClientId=cognito_pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh},
        )


def test_a_cognito_login_in_the_second_of_a_logout_everywhere_waits_for_the_next(
    cognito_pool: CognitoPool,
) -> None:
    chat = Harness()
    token = chat.signup_and_login("alice")
    provider = chat.modules["rest"].accounts.provider
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    provider.sleep = sleep
    assert chat.rest("POST", "/auth/logout-all", token=token)[0] == 200
    # Pin the record to the coming second, so that the next token falls in it.
    users = chat.modules["rest"].stores.users
    current = users.token_state("alice")
    assert current is not None
    ahead = int(time.time()) + 1
    assert users.save_token_state("alice", current, TokenState(current.version, ahead, {}, 0))
    fresh = chat.login("alice")
    assert len(waits) == 1 and 0 < waits[0] <= 2
    assert jwt.decode(fresh, options={"verify_signature": False})["iat"] > ahead
    assert me(chat, fresh) == (200, {"username": "alice"})


def _old_token(iat: int) -> str:
    """A builtin token as made before logout existed: no `jti`, no `ver`."""
    claims = {"sub": "alice", "iat": iat, "exp": iat + 3600, "iss": ISSUER}
    return jwt.encode(claims, SECRET, "HS256")


def test_tokens_from_before_logout_existed_count_as_version_0(chat: Harness) -> None:
    chat.signup_and_login("alice")
    now = int(time.time())
    old, other_old = _old_token(now - 10), _old_token(now - 20)
    assert me(chat, old) == (200, {"username": "alice"})
    # Logged out alone (by a digest of the token itself): the other old one keeps working.
    assert chat.rest("POST", "/auth/logout", token=old)[0] == 204
    assert refused_because(chat, old) == LOGGED_OUT
    assert me(chat, other_old)[0] == 200
    new = chat.login("alice")
    assert chat.rest("POST", "/auth/logout-all", token=new)[0] == 200
    assert refused_because(chat, other_old) == LOGGED_OUT_EVERYWHERE


@pytest.mark.parametrize(
    "extra",
    [{"ver": "0"}, {"ver": -1}, {"ver": True}, {"ver": 1.5}, {"jti": 7}, {"jti": ""}],
    ids=["ver-string", "ver-negative", "ver-bool", "ver-float", "jti-number", "jti-empty"],
)
def test_tokens_with_malformed_jti_or_ver_are_refused(
    chat: Harness, extra: dict[str, object]
) -> None:
    chat.signup_and_login("alice")
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 600, "iss": ISSUER, **extra}
    assert refused_because(chat, jwt.encode(claims, SECRET, "HS256")) == (
        "The token is missing or not valid."
    )


def test_a_token_of_an_older_or_newer_version_is_refused(chat: Harness) -> None:
    chat.signup_and_login("alice")
    now = int(time.time())
    for ver in (1, 5):
        claims = {
            "sub": "alice",
            "iat": now,
            "exp": now + 600,
            "iss": ISSUER,
            "jti": "j",
            "ver": ver,
        }
        assert refused_because(chat, jwt.encode(claims, SECRET, "HS256")) == LOGGED_OUT_EVERYWHERE


def test_a_full_revocation_map_logs_out_everywhere_instead(chat: Harness) -> None:
    chat.modules["rest"].accounts.max_revoked = 2
    tokens = [chat.signup_and_login("alice")] + [chat.login("alice") for _ in range(3)]
    for token in tokens[:2]:
        assert chat.rest("POST", "/auth/logout", token=token)[0] == 204
    assert me(chat, tokens[3])[0] == 200
    # The map holds 2: the third logout moves the version on, which ends the fourth token too.
    assert chat.rest("POST", "/auth/logout", token=tokens[2])[0] == 204
    assert refused_because(chat, tokens[3]) == LOGGED_OUT_EVERYWHERE
    record = chat.modules["rest"].stores.users.token_state("alice")
    assert record is not None and record.version == 1 and record.revoked == {}


def test_two_logouts_at_once_both_hold(chat: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    first = chat.signup_and_login("alice")
    second = chat.login("alice")
    users = chat.modules["rest"].stores.users
    real = users.save_token_state
    raced: list[bool] = []

    def racing(username: str, before: TokenState, after: TokenState) -> bool:
        if not raced:  # another container's logout lands between our read and our write
            raced.append(real(username, before, without_token(before, cred(second), 0, 32)))
        return real(username, before, after)

    def cred(token: str) -> Credential:
        return chat.modules["rest"].accounts.provider.credential(token)

    monkeypatch.setattr(users, "save_token_state", racing)
    assert chat.rest("POST", "/auth/logout", token=first)[0] == 204
    assert raced == [True]
    assert refused_because(chat, first) == LOGGED_OUT
    assert refused_because(chat, second) == LOGGED_OUT


def _credential(token_id: str = "t1", version: int | None = 0, iat: int = 100) -> Credential:
    return Credential("alice", token_id, iat, iat + 3600, version)


def test_expired_entries_are_pruned_on_every_write() -> None:
    record = TokenState(revoked={"old": 50, "live": 5000})
    after = without_token(record, _credential("new"), now=100, limit=32)
    assert after.revoked == {"live": 5000, "new": 3700}
    assert after.version == 0


def test_the_refusals_each_record_makes() -> None:
    assert refusal(_credential(), None) is None
    assert refusal(_credential(), TokenState()) is None
    assert refusal(_credential("t1"), TokenState(revoked={"t1": 9999})) == LOGGED_OUT
    assert refusal(_credential(version=0), TokenState(version=1)) == LOGGED_OUT_EVERYWHERE
    # Cognito's tokens (no version) go by their issue time, the same second included.
    signed_out = everywhere(TokenState(), now=100)
    assert refusal(_credential(version=None, iat=100), signed_out) == LOGGED_OUT_EVERYWHERE
    assert refusal(_credential(version=None, iat=101), signed_out) is None


def _size(value: Any) -> int:
    """An attribute value's size as DynamoDB counts it (the developer guide's "Item sizes")."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | Decimal):
        digits = len(str(abs(int(value))).rstrip("0") or "0")
        return (digits + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + _size(v) + 1 for k, v in value.items())
    raise TypeError(type(value))


def test_a_full_record_keeps_the_user_item_inside_one_read_unit(chat: Harness) -> None:
    chat.rest("POST", "/auth/signup", {"username": "a" * 32, "password": PASSWORD})
    users = chat.modules["rest"].stores.users
    # 32 Cognito-sized ids (UUIDs), each with a 10-digit expiry: the largest record a user holds.
    full = TokenState(7, 1_800_000_000, {str(uuid.uuid4()): 1_900_000_000 + i for i in range(32)})
    assert users.save_token_state("a" * 32, TokenState(), full)
    item = users.table.get_item(Key={"pk": "USER#" + "a" * 32})["Item"]
    size = sum(len(name.encode()) + _size(value) for name, value in item.items())
    assert size < 2048, size
