"""IDENTITY_PROVIDER=cognito: the REST function's accounts in a Cognito user pool (moto), and
every token that is not this pool's, this client's, unexpired ID token refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chat.config import ConfigurationError, Settings
from tests.cognito_keys import moto_jwks, sign
from tests.unit.conftest import ENV, CognitoPool, MotoJwks, make_pool
from tests.unit.harness import Harness

PASSWORD = "correct horse battery"


@pytest.fixture
def chat(cognito_pool: CognitoPool) -> Harness:
    return Harness()


def _login(pool: CognitoPool, username: str, client_id: str | None = None) -> dict[str, Any]:
    """A real token from moto for a user of `pool` (signed up and confirmed there)."""
    client_id = client_id or pool.client_id
    pool.client.sign_up(ClientId=client_id, Username=username, Password=PASSWORD)
    pool.client.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=username)
    response = pool.client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return dict(response["AuthenticationResult"])


def _claims(pool: CognitoPool, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": pool.issuer,
        "sub": "5a7c1d3e-0000-4000-8000-000000000001",
        "aud": pool.client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:username": "alice",
    }
    claims.update(overrides)
    return claims


def _hs256_with_public_key(claims: dict[str, object]) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the pool's public key (PEM). PyJWT
    refuses to make one, so it is assembled by hand."""
    public = jwt.PyJWK(moto_jwks()["keys"][0]).key
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "dummy"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(pem, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()


def test_signup_creates_a_confirmed_pool_user_and_lists_it_without_a_password(
    chat: Harness, cognito_pool: CognitoPool
) -> None:
    status, body = chat.rest("POST", "/auth/signup", {"username": "Alice", "password": PASSWORD})
    assert (status, body) == (201, {"username": "Alice"})
    user = cognito_pool.client.admin_get_user(UserPoolId=cognito_pool.pool_id, Username="alice")
    assert user["UserStatus"] == "CONFIRMED"
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["preferred_username"] == "Alice"
    # The users table lists the user (direct rooms look users up there), with no password.
    [entry] = chat.snapshot()["test-users"]
    assert entry["username"] == "Alice" and entry["passwordHash"] == "cognito"


def test_the_token_is_the_pools_id_token_and_names_the_user(
    chat: Harness, cognito_pool: CognitoPool
) -> None:
    token = chat.signup_and_login("Alice")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert claims["iss"] == cognito_pool.issuer
    assert claims["aud"] == cognito_pool.client_id
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == "alice"
    assert chat.rest("GET", "/me", token=token) == (200, {"username": "Alice"})


def test_the_jwks_is_fetched_once_per_container(chat: Harness) -> None:
    token = chat.signup_and_login("alice")
    before = MotoJwks.fetches
    for _ in range(3):
        assert chat.rest("GET", "/me", token=token)[0] == 200
    assert chat.rest("POST", "/auth/ticket", token=token)[0] == 201
    assert MotoJwks.fetches == before


def test_a_rewritten_preferred_username_cannot_take_another_name(
    chat: Harness, cognito_pool: CognitoPool
) -> None:
    chat.signup_and_login("bob")
    token = sign(_claims(cognito_pool, **{"cognito:username": "mallory"}, preferred_username="Bob"))
    assert chat.rest("GET", "/me", token=token) == (200, {"username": "mallory"})


def test_a_password_the_pool_policy_refuses_is_invalid_input(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.conftest import use_cognito

    use_cognito(monkeypatch, make_pool("strict", RequireNumbers=True))
    chat = Harness()
    status, body = chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})
    assert status == 400
    assert body["error"]["code"] == "invalid_input"
    assert "policy" in body["error"]["message"]


def test_an_unconfirmed_signup_is_confirmed_at_login_after_its_password_is_checked(
    chat: Harness, cognito_pool: CognitoPool
) -> None:
    cognito_pool.client.sign_up(
        ClientId=cognito_pool.client_id, Username="alice", Password=PASSWORD
    )
    wrong = chat.rest("POST", "/auth/login", {"username": "alice", "password": "wrong password"})
    assert wrong[1]["error"]["code"] == "invalid_credentials"
    status, body = chat.rest("POST", "/auth/login", {"username": "Alice", "password": PASSWORD})
    assert status == 200
    assert body["username"] == "alice"  # no preferred_username was written outside the API


@pytest.mark.parametrize(
    "case",
    [
        "forged",
        "expired",
        "wrong-pool",
        "wrong-client",
        "access-token",
        "no-token-use",
        "alg-none",
        "hs256-with-the-public-key",
        "unknown-kid",
        "garbage",
    ],
)
def test_tokens_that_are_not_this_pools_id_tokens_are_refused(
    chat: Harness, cognito_pool: CognitoPool, case: str
) -> None:
    chat.signup_and_login("alice")
    if case == "forged":
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = sign(_claims(cognito_pool), key=other_key)
    elif case == "expired":
        token = sign(_claims(cognito_pool, iat=int(time.time()) - 3700, exp=int(time.time()) - 5))
    elif case == "wrong-pool":
        # A real ID token of another pool: same moto signing key, another issuer.
        token = _login(make_pool("other-pool"), "alice")["IdToken"]
    elif case == "wrong-client":
        # A real ID token of this pool, issued to another app client.
        other = cognito_pool.client.create_user_pool_client(
            UserPoolId=cognito_pool.pool_id,
            ClientName="other-app",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        token = _login(cognito_pool, "carol", other)["IdToken"]
    elif case == "access-token":
        token = _login(cognito_pool, "dave")["AccessToken"]
    elif case == "no-token-use":
        token = sign({k: v for k, v in _claims(cognito_pool).items() if k != "token_use"})
    elif case == "alg-none":
        token = jwt.encode(_claims(cognito_pool), None, "none")
    elif case == "hs256-with-the-public-key":
        token = _hs256_with_public_key(_claims(cognito_pool))
    elif case == "unknown-kid":
        token = sign(_claims(cognito_pool), kid="not-a-key-of-this-pool")
    else:
        token = "not.a.jwt"
    for method, path in (("GET", "/me"), ("POST", "/auth/ticket"), ("GET", "/rooms")):
        status, body = chat.rest(method, path, token=token)
        assert status == 401, (case, path, body)
        assert body["error"]["code"] == "unauthorized"
        assert ("expired" in body["error"]["message"]) == (case == "expired")


def test_cognito_without_its_pool_settings_is_a_configuration_error() -> None:
    env = {k: v for k, v in ENV.items() if k != "JWT_SECRET"} | {"IDENTITY_PROVIDER": "cognito"}
    with pytest.raises(ConfigurationError, match="COGNITO_USER_POOL_ID"):
        Settings.from_env(env)
    with pytest.raises(ConfigurationError, match="IDENTITY_PROVIDER"):
        Settings.from_env(ENV | {"IDENTITY_PROVIDER": "ldap"})


def test_direct_rooms_find_cognito_users(chat: Harness, cognito_pool: CognitoPool) -> None:
    alice = chat.signup_and_login("Alice")
    chat.signup_and_login("bob")
    status, body = chat.rest("POST", "/rooms/direct", {"username": "BOB"}, token=alice)
    assert status in (200, 201), body
    # An account made in Cognito itself (console, admin API) is listed at its first login.
    _login(cognito_pool, "carol")
    assert chat.rest("POST", "/rooms/direct", {"username": "carol"}, token=alice)[0] == 404
    assert chat.login("carol")
    status, body = chat.rest("POST", "/rooms/direct", {"username": "carol"}, token=alice)
    assert status in (200, 201), body
