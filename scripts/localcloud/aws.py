"""DynamoDB with Streams: an embedded moto server, or another endpoint (LocalStack, DynamoDB
Local) given with --aws-endpoint; and the tables Terraform declares, created idempotently (and
its Cognito user pool, with identity_provider = "cognito")."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.motoserver import REGION, MotoServer, MotoServerError
from localcloud.terraform import CorsRule, Table, UserPool

log = logging.getLogger("localcloud")


# What every handler and every client of ours sees: no real credentials, one region, and
# (for moto's Streams with current boto3) no account-id-based endpoints.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def client_config() -> Config:
    return Config(
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=16,
    )


class Backend:
    """Where DynamoDB and DynamoDB Streams are served."""

    endpoint: str
    embedded: bool = False

    def stop(self) -> None:
        """Release what start-up took (nothing for an external endpoint)."""


class EmbeddedMoto(Backend):
    """A moto server in a child process (see localcloud.motoserver for why a process): no
    Docker, nothing to install, stopped with the local cloud."""

    embedded = True

    def __init__(self, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
        try:
            self.server = MotoServer(host, timeout)
        except MotoServerError as e:
            raise RuntimeError(str(e)) from None
        self.endpoint = self.server.endpoint

    def stop(self) -> None:
        self.server.stop()


class External(Backend):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")


def backend_for(aws_endpoint: str | None, host: str = "127.0.0.1") -> Backend:
    """None: embedded moto. "localstack": LocalStack's edge endpoint as localstack-client
    resolves it (LOCALSTACK_HOST, default localhost:4566). Anything else: that URL."""
    if not aws_endpoint:
        return EmbeddedMoto(host)
    if aws_endpoint.lower() == "localstack":
        from localstack_client import config as localstack_config

        endpoint = localstack_config.get_service_endpoint("dynamodb")
        if not endpoint:
            raise RuntimeError("localstack-client could not resolve a DynamoDB endpoint")
        return External(endpoint)
    return External(aws_endpoint)


def sqs_client(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    # Long polls hold a request open for up to 20 s.
    config = client_config().merge(Config(read_timeout=30))
    return session.client("sqs", endpoint_url=endpoint, config=config)


def clients(endpoint: str) -> tuple[Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    dynamodb = session.client("dynamodb", endpoint_url=endpoint, config=client_config())
    streams = session.client("dynamodbstreams", endpoint_url=endpoint, config=client_config())
    return dynamodb, streams


@dataclass(frozen=True)
class TableState:
    table: Table
    created: bool  # created by this run (its stream holds nothing from before)
    stream_arn: str | None


def ensure_tables(dynamodb: Any, tables: Iterable[Table]) -> dict[str, TableState]:
    """Create every table Terraform declares unless it exists; turn on TTL where declared."""
    states: dict[str, TableState] = {}
    for table in tables:
        created = False
        try:
            dynamodb.create_table(**table.create_table_kwargs())
            created = True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        description = _wait_active(dynamodb, table.name)
        if created and table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        if not created:
            _check_keys(table, description)
        states[table.key] = TableState(table, created, description.get("LatestStreamArn"))
    return states


def _wait_active(dynamodb: Any, name: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = dynamodb.describe_table(TableName=name)["Table"]
        if description.get("TableStatus") == "ACTIVE" or time.monotonic() > deadline:
            return description
        time.sleep(0.1)


def _check_keys(table: Table, description: dict[str, Any]) -> None:
    keys = {k["KeyType"]: k["AttributeName"] for k in description.get("KeySchema", [])}
    if keys.get("HASH") != table.hash_key or keys.get("RANGE") != table.range_key:
        raise RuntimeError(
            f"table {table.name} exists with keys {keys}, but Terraform declares "
            f"hash {table.hash_key!r} range {table.range_key!r}; delete it or use another endpoint"
        )


def apply_environment(endpoint: str) -> None:
    os.environ.update(AWS_ENVIRONMENT)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)


@dataclass(frozen=True)
class PoolState:
    pool_id: str
    client_id: str
    created: bool

    def lambda_environment(self, endpoint: str) -> dict[str, str]:
        """COGNITO_* for the handlers. moto writes AWS's issuer into its tokens
        (https://cognito-idp.<region>.amazonaws.com/<pool>) but serves the JWKS itself."""
        return {
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_CLIENT_ID": self.client_id,
            "COGNITO_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}",
            "COGNITO_JWKS_URL": f"{endpoint}/{self.pool_id}/.well-known/jwks.json",
        }


def ensure_user_pool(cognito: Any, pool: UserPool) -> PoolState:
    """The user pool and app client Terraform declares, created unless one of that name exists
    (an external endpoint keeps its users across runs)."""
    existing = [
        p["Id"]
        for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
        for p in page["UserPools"]
        if p["Name"] == pool.name
    ]
    if existing:
        pool_id = existing[0]
        clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
        named = [
            c["ClientId"] for c in clients["UserPoolClients"] if c["ClientName"] == pool.client_name
        ]
        if named:
            return PoolState(pool_id, named[0], created=False)
    else:
        pool_id = cognito.create_user_pool(**pool.create_pool_kwargs())["UserPool"]["Id"]
    app = cognito.create_user_pool_client(**pool.create_client_kwargs(pool_id))["UserPoolClient"]
    return PoolState(pool_id, app["ClientId"], created=True)


def cognito_client(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    return session.client("cognito-idp", endpoint_url=endpoint, config=client_config())


def s3_client(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    config = client_config().merge(Config(s3={"addressing_style": "path"}))
    return session.client("s3", endpoint_url=endpoint, config=config)


def ensure_media_bucket(s3: Any, name: str, cors: Sequence[CorsRule]) -> None:
    """The media bucket (terraform/media.tf) in the emulator, with the CORS rules Terraform
    declares for it (Topology.media_cors_rules): the browser POSTs uploads to it and fetches
    downloads from it on loopback. No rules: no CORS configuration, as on S3."""
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise
    if cors:
        s3.put_bucket_cors(
            Bucket=name, CORSConfiguration={"CORSRules": [rule.to_s3() for rule in cors]}
        )
    else:
        s3.delete_bucket_cors(Bucket=name)
