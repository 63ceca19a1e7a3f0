"""identity_provider = "cognito" through the local cloud: moto's Cognito over HTTP holds the
accounts, the REST function fetches the pool's JWKS from the moto server, and a token that is
not this pool's, this client's, unexpired ID token is refused everywhere one is accepted."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localcloud.motoserver import REGION
from localcloud.testing import RunningLocalCloud
from tests.cognito_keys import sign
from tests.integration.chat_client import PASSWORD, Api, unique
from tests.integration.conftest import run

pytestmark = pytest.mark.integration


def cognito(cloud: RunningLocalCloud) -> Any:
    return cloud.client("cognito-idp")


def the_pool(cloud: RunningLocalCloud) -> tuple[str, str]:
    """(pool id, app client id) the local cloud made from terraform/cognito.tf."""
    client = cognito(cloud)
    pools = client.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next(p["Id"] for p in pools if p["Name"].endswith("-users"))
    clients = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    return pool_id, clients["UserPoolClients"][0]["ClientId"]


def real_id_token(cloud: RunningLocalCloud, pool_id: str, client_id: str, username: str) -> str:
    client = cognito(cloud)
    client.sign_up(ClientId=client_id, Username=username, Password=PASSWORD)
    client.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    result = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return str(result["IdToken"])


def test_accounts_live_in_the_user_pool(cognito_cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cognito_cloud.rest_url)
            name, token = await api.account(unique("Cog"))
            pool_id, client_id = the_pool(cognito_cloud)
            user = cognito(cognito_cloud).admin_get_user(UserPoolId=pool_id, Username=name.lower())
            assert user["UserStatus"] == "CONFIRMED"
            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["aud"] == client_id and claims["token_use"] == "id"
            assert await api.call("GET", "/me", token=token) == (200, {"username": name})

    run(scenario())


@pytest.mark.parametrize("case", ["forged", "expired", "wrong-pool", "wrong-client"])
def test_foreign_tokens_are_refused(cognito_cloud: RunningLocalCloud, case: str) -> None:
    pool_id, client_id = the_pool(cognito_cloud)
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "5a7c1d3e-0000-4000-8000-000000000002",
        "aud": client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:username": "alice",
    }
    if case == "forged":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = sign(claims, key)
    elif case == "expired":
        claims.update(iat=now - 3700, exp=now - 5)
        token = sign(claims)
    elif case == "wrong-pool":
        other = cognito(cognito_cloud).create_user_pool(
            PoolName=unique("other"),
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 8,
                    "RequireUppercase": False,
                    "RequireNumbers": False,
                    "RequireSymbols": False,
                }
            },
        )["UserPool"]
        app = cognito(cognito_cloud).create_user_pool_client(
            UserPoolId=other["Id"],
            ClientName="other",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]
        token = real_id_token(cognito_cloud, other["Id"], app["ClientId"], unique("eve"))
    else:
        app = cognito(cognito_cloud).create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=unique("other"),
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]
        token = real_id_token(cognito_cloud, pool_id, app["ClientId"], unique("eve"))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cognito_cloud.rest_url)
            for method, path in (("GET", "/me"), ("POST", "/auth/ticket"), ("GET", "/rooms")):
                status, body = await api.call(method, path, token=token)
                assert (status, body["error"]["code"]) == (401, "unauthorized"), (case, path)

    run(scenario())
