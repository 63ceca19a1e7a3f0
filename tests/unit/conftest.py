"""Unit tier: the real handlers against moto (in-process), no sockets."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import moto.cognitoidp.models as cognito_models
import moto.core.responses as moto_responses
import pytest
from moto import mock_aws
from moto.core.models import MockAWS
from moto.dynamodb.models import Table, dynamodb_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from localcloud.motoserver import (
    ACCOUNT_ID,
    REGION,
    memoize_moto_attribute_aliases,
    query_one_partition,
)
from tests.cognito_keys import moto_jwks
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
    "LIMITS_TABLE": "test-limits",
    # Many tests send faster than a user may; tests/unit/test_limits.py turns the limits on.
    "RATE_LIMITS_ENABLED": "false",
    "JWT_SECRET": "unit-test-signing-key-0123456789abcdef",
    "JWT_ISSUER": "serverless-chat-tests",
    # Cost 4 keeps the suite fast; the deployed default is 12 (terraform/variables.tf).
    "BCRYPT_ROUNDS": "4",
    "WS_MANAGEMENT_ENDPOINT": "https://wsapi12345.execute-api.us-east-1.amazonaws.com/dev",
    "LOG_LEVEL": "WARNING",
    "ROOM_PURGE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/test-room-purge",
    "ROOM_PURGE_GRACE_SECONDS": "0",
    "MEDIA_BUCKET": "test-media",
    # Chunking is off (threshold 0) unless a test sets FANOUT_CHUNK_THRESHOLD.
    "FANOUT_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/test-fanout.fifo",
}


UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_PROFILE",
    "JWT_SECRET_PARAMETER",
    "IDENTITY_PROVIDER",
    "COGNITO_USER_POOL_ID",
    "COGNITO_CLIENT_ID",
    "COGNITO_ISSUER",
    "COGNITO_JWKS_URL",
    "FANOUT_CHUNK_THRESHOLD",
)


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
        self.mock.reset()
        for name in self.definitions:
            self._create(name)
        self._create_queues()

    @staticmethod
    def _create_queues() -> None:
        """The queues and the media bucket, made by moto's backends directly: what CreateQueue
        and CreateBucket do without a boto3 client and its request (a new S3 client per test
        and three calls through boto3 took a tenth of this tier's time)."""
        sqs = sqs_backends[ACCOUNT_ID][REGION]
        sqs.create_queue("test-room-purge")
        sqs.create_queue("test-fanout.fifo", FifoQueue="true", VisibilityTimeout="0")
        s3_backends[ACCOUNT_ID]["aws"].create_bucket(ENV["MEDIA_BUCKET"], REGION)

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


def import_moto_pool_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto gives every user pool the same RSA key from its package and imports it anew for each
    pool (recovering its primes: about 0.5 s per pool, a fifth of this tier's time). The key
    is one constant, so it is imported once; every pool still signs with moto's own key."""
    rsa_key = cognito_models.jwk.RSAKey
    original = rsa_key.import_key
    imported: dict[str, Any] = {}

    def import_key(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(value, dict):
            return original(value, *args, **kwargs)
        fingerprint = json.dumps(value, sort_keys=True)
        if fingerprint not in imported:
            imported[fingerprint] = original(value)
        return imported[fingerprint]

    monkeypatch.setattr(rsa_key, "import_key", import_key)


def cache_moto_method_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto lists a response class's methods (inspect.getmembers) on every request to pick the
    action's method; the classes do not change during a run, so the list is made once each."""
    original = moto_responses.method_names_from_class
    monkeypatch.setattr(
        moto_responses, "method_names_from_class", functools.lru_cache(maxsize=None)(original)
    )


@pytest.fixture(scope="session")
def moto_session() -> Iterator[SessionTables]:
    """One in-process moto for the whole session, with the deployed tables: starting and
    stopping it per test cost more than the tests. `aws` empties it before each test."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_env(monkeypatch)
        import_moto_pool_key_once(monkeypatch)
        cache_moto_method_names(monkeypatch)
        memoize_moto_attribute_aliases()
        query_one_partition()
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


@dataclass(frozen=True)
class CognitoPool:
    client: Any
    pool_id: str
    client_id: str
    issuer: str

    def users(self) -> list[str]:
        return sorted(
            u["Username"] for u in self.client.list_users(UserPoolId=self.pool_id)["Users"]
        )


def make_pool(name: str = "test-users", **policy: Any) -> CognitoPool:
    """A user pool and app client as terraform/cognito.tf declares them, in moto."""
    client = boto3.client("cognito-idp")
    password_policy = {
        "MinimumLength": 8,
        "RequireLowercase": False,
        "RequireUppercase": False,
        "RequireNumbers": False,
        "RequireSymbols": False,
        **policy,
    }
    pool = client.create_user_pool(
        PoolName=name,
        UsernameConfiguration={"CaseSensitive": False},
        Policies={"PasswordPolicy": password_policy},
    )["UserPool"]
    app = client.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=f"{name}-api",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["preferred_username"],
        WriteAttributes=["preferred_username"],
    )["UserPoolClient"]
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"
    return CognitoPool(client, pool["Id"], app["ClientId"], issuer)


class MotoJwks(jwt.PyJWKClient):
    """PyJWKClient with only its HTTP fetch replaced: moto in-process answers boto3, not
    urllib, so the key set moto signs with is read from moto's package. Key selection by `kid`,
    caching and refetching stay PyJWKClient's own (the integration tier fetches over HTTP)."""

    fetches = 0

    def fetch_data(self) -> Any:
        MotoJwks.fetches += 1
        data = moto_jwks()
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        return data


def use_cognito(monkeypatch: pytest.MonkeyPatch, pool: CognitoPool) -> None:
    """IDENTITY_PROVIDER=cognito against `pool` for the handlers imported next."""
    monkeypatch.setenv("IDENTITY_PROVIDER", "cognito")
    monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.pool_id)
    monkeypatch.setenv("COGNITO_CLIENT_ID", pool.client_id)
    monkeypatch.setenv("COGNITO_ISSUER", pool.issuer)
    monkeypatch.setattr(jwt, "PyJWKClient", MotoJwks)


@pytest.fixture
def cognito_pool(aws: None, monkeypatch: pytest.MonkeyPatch) -> CognitoPool:
    pool = make_pool()
    use_cognito(monkeypatch, pool)
    return pool


@pytest.fixture(params=["builtin", "cognito"])
def identity(request: pytest.FixtureRequest, aws: None) -> CognitoPool | None:
    """Both identity providers: None for builtin, the pool for cognito."""
    if request.param == "cognito":
        return request.getfixturevalue("cognito_pool")  # type: ignore[no-any-return]
    return None


@pytest.fixture
def accounts_chat(identity: CognitoPool | None) -> Harness:
    """A Harness whose REST function holds its accounts in `identity`'s provider."""
    return Harness()


@pytest.fixture
def people(chat: Harness) -> dict[str, tuple[str, str]]:
    """alice, bob and carol, signed up and connected: (token, connection id) each."""
    result = {}
    for name in ("alice", "bob", "carol"):
        token = chat.signup_and_login(name)
        result[name] = (token, chat.connect(token))
    return result
