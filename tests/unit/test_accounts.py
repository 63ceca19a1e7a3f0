"""Signup, login, sessions (JWT) and WebSocket tickets through the real REST handler."""

from __future__ import annotations

import time

import bcrypt
import boto3
import jwt
import pytest

from chat import keys
from chat.passwords import PasswordHasher
from chat.tokens import SigningKey, TokenService
from tests.unit.conftest import CognitoPool
from tests.unit.harness import Harness

PASSWORD = "correct horse battery"


def state(chat: Harness, identity: CognitoPool | None) -> dict[str, object]:
    """Everything an account operation could change: the tables, and the pool's users."""
    return {"tables": chat.snapshot(), "pool": identity.users() if identity else None}


def test_signup_then_login_returns_a_token_for_the_canonical_username(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    status, body = accounts_chat.rest(
        "POST", "/auth/signup", {"username": "Alice", "password": PASSWORD}
    )
    assert (status, body) == (201, {"username": "Alice"})
    status, body = accounts_chat.rest(
        "POST", "/auth/login", {"username": "alice", "password": PASSWORD}
    )
    assert status == 200
    assert body["username"] == "Alice"
    assert body["expiresAt"].endswith("Z")
    status, me = accounts_chat.rest("GET", "/me", token=body["token"])
    assert (status, me) == (200, {"username": "Alice"})


def test_usernames_are_unique_regardless_of_case(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    accounts_chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})
    before = state(accounts_chat, identity)
    status, body = accounts_chat.rest(
        "POST", "/auth/signup", {"username": "ALICE", "password": "another pw 123"}
    )
    assert status == 409
    assert body["error"]["code"] == "username_taken"
    assert state(accounts_chat, identity) == before


@pytest.mark.parametrize(
    "body",
    [
        {"username": "al", "password": PASSWORD},
        {"username": "a" * 33, "password": PASSWORD},
        {"username": "alice smith", "password": PASSWORD},
        {"username": "<script>", "password": PASSWORD},
        {"username": "alice", "password": "short"},
        {"username": "alice", "password": "x" * 129},
        {"username": 12345, "password": PASSWORD},
        {"username": "alice", "password": ["not", "a", "string"]},
        {"username": "alice"},
        {"password": PASSWORD},
        [],
        "just a string",
    ],
)
def test_signup_with_bad_input_is_rejected_and_changes_nothing(
    accounts_chat: Harness, identity: CognitoPool | None, body: object
) -> None:
    before = state(accounts_chat, identity)
    status, reply = accounts_chat.rest("POST", "/auth/signup", body)
    assert status == 400
    assert reply["error"]["code"] == "invalid_input"
    assert reply["error"]["message"]
    assert state(accounts_chat, identity) == before


@pytest.mark.parametrize(
    "raw",
    ["{not json", "", "null", '{"username": "alice", "password": "' + "x" * 70_000 + '"}'],
)
def test_signup_with_malformed_or_oversized_body_is_rejected(
    accounts_chat: Harness, identity: CognitoPool | None, raw: str
) -> None:
    before = state(accounts_chat, identity)
    status, reply = accounts_chat.rest("POST", "/auth/signup", raw_body=raw)
    assert status == 400
    assert reply["error"]["code"] == "invalid_input"
    assert state(accounts_chat, identity) == before


def test_login_answers_unknown_user_and_wrong_password_identically(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    accounts_chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})
    wrong = accounts_chat.rest(
        "POST", "/auth/login", {"username": "alice", "password": "wrong password"}
    )
    unknown = accounts_chat.rest(
        "POST", "/auth/login", {"username": "mallory", "password": PASSWORD}
    )
    assert wrong == unknown
    assert wrong[0] == 401
    assert wrong[1]["error"]["code"] == "invalid_credentials"


def test_login_for_an_unknown_user_spends_the_same_bcrypt_work(
    chat: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    chat.rest("POST", "/auth/login", {"username": "alice", "password": "wrong password"})
    chat.rest("POST", "/auth/login", {"username": "nobody", "password": PASSWORD})
    assert len(calls) == 2
    # Same cost factor in both hashes ($2b$<cost>$...).
    assert calls[0][:7] == calls[1][:7]


def test_long_multibyte_passwords_work_and_are_not_truncated(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    # 384 bytes of UTF-8, far past bcrypt's 72. moto's Cognito refuses passwords of 99 characters
    # or more (real Cognito takes up to 256), so the cognito run uses 90 (270 bytes).
    length = 90 if identity else 128
    long_password = "密" * length
    accounts_chat.rest("POST", "/auth/signup", {"username": "alice", "password": long_password})
    ok = accounts_chat.rest("POST", "/auth/login", {"username": "alice", "password": long_password})
    assert ok[0] == 200
    # Same first 72 bytes, different end: a truncating scheme would accept this.
    near_miss = "密" * (length - 1) + "x"
    assert (
        accounts_chat.rest("POST", "/auth/login", {"username": "alice", "password": near_miss})[0]
        == 401
    )


def test_password_hashes_use_bcrypt_cost_12_by_default() -> None:
    hasher = PasswordHasher()
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("bcrypt-sha256$$2b$12$")
    assert hasher.verify("correct horse battery", stored)
    assert not hasher.verify("correct horse batterx", stored)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "alice",
        "iat": now,
        "exp": now + 600,
        "iss": "serverless-chat-tests",
    }
    claims.update(overrides)
    return claims


SECRET = "unit-test-signing-key-0123456789abcdef"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            jwt.encode(_claims(), "a-different-key-0123456789abcdef012", "HS256"), id="forged"
        ),
        pytest.param(jwt.encode(_claims(exp=int(time.time()) - 5), SECRET, "HS256"), id="expired"),
        pytest.param(jwt.encode(_claims(iss="someone-else"), SECRET, "HS256"), id="wrong-issuer"),
        pytest.param(jwt.encode(_claims(), None, "none"), id="alg-none"),
        pytest.param(jwt.encode(_claims(), SECRET, "HS512"), id="other-alg"),
        pytest.param(
            jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET, "HS256"),
            id="no-exp",
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
def test_bad_tokens_are_rejected(chat: Harness, token: str) -> None:
    chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})
    status, body = chat.rest("GET", "/me", token=token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_missing_or_malformed_authorization_is_rejected(
    accounts_chat: Harness, identity: CognitoPool | None
) -> None:
    assert accounts_chat.rest("GET", "/me")[0] == 401
    assert accounts_chat.rest("POST", "/auth/ticket")[0] == 401
    event_status, _ = accounts_chat.rest("GET", "/rooms", token="")
    assert event_status == 401


def test_a_token_expires_after_its_lifetime() -> None:
    key = SigningKey.fixed(SECRET)
    issued_at = time.time() - 3601
    token, expires_at = TokenService(key, "iss", 3600, lambda: issued_at).issue("alice")
    assert expires_at < time.time()
    with pytest.raises(Exception, match="expired"):
        TokenService(key, "iss", 3600, time.time).verify(token)


def test_signing_key_is_read_from_ssm_once_per_container(aws: None) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/chat/dev/jwt", Value="k" * 48, Type="SecureString")
    calls: list[str] = []

    class CountingSsm:
        def get_parameter(self, **kwargs: object) -> dict[str, object]:
            calls.append(str(kwargs["Name"]))
            return ssm.get_parameter(**kwargs)  # type: ignore[arg-type]

    key = SigningKey.from_ssm(CountingSsm(), "/chat/dev/jwt")
    service = TokenService(key, "iss", 60, time.time)
    token, _ = service.issue("alice")
    assert service.verify(token) == "alice"
    assert service.verify(token) == "alice"
    assert calls == ["/chat/dev/jwt"]


def test_short_signing_keys_are_refused() -> None:
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        SigningKey.fixed("too-short").get()


def test_a_ticket_connects_once(accounts_chat: Harness, identity: CognitoPool | None) -> None:
    token = accounts_chat.signup_and_login("alice")
    ticket = accounts_chat.ticket(token)
    first = accounts_chat.authorize(ticket)
    assert first["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert first["context"] == {"username": "alice"}
    assert first["principalId"] == "alice"
    second = accounts_chat.authorize(ticket)
    assert second["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in second


@pytest.mark.parametrize("ticket", [None, "", "forged-ticket-value", "x" * 5000])
def test_missing_or_forged_tickets_are_denied(
    accounts_chat: Harness, identity: CognitoPool | None, ticket: str | None
) -> None:
    accounts_chat.signup_and_login("alice")
    before = state(accounts_chat, identity)
    policy = accounts_chat.authorize(ticket)
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert state(accounts_chat, identity) == before


def test_an_expired_ticket_is_denied(accounts_chat: Harness, identity: CognitoPool | None) -> None:
    token = accounts_chat.signup_and_login("alice")
    ticket = accounts_chat.ticket(token)
    tickets = accounts_chat.modules["authorizer"].tickets
    tickets.clock = lambda: time.time() + 31
    assert accounts_chat.authorize(ticket)["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_tickets_are_stored_hashed_with_a_ttl(chat: Harness) -> None:
    token = chat.signup_and_login("alice")
    ticket = chat.ticket(token)
    items = [i for i in chat.snapshot()["test-users"] if i["pk"].startswith(keys.TICKET_PREFIX)]
    assert len(items) == 1
    assert ticket not in items[0]["pk"]
    assert 25 <= int(items[0]["ttl"]) - time.time() <= 31


def test_the_shipped_dummy_hash_has_the_cost_it_claims() -> None:
    hasher = PasswordHasher(12)
    assert hasher._dummy_hash.startswith("bcrypt-sha256$$2b$12$")
    assert not hasher.verify("anything", None)
