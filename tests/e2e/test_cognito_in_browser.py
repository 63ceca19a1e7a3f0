"""The browser client against the local cloud with identity_provider = "cognito": sign-up,
login and a live chat, with the accounts in moto's Cognito user pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from chat import keys
from localcloud.testing import RunningLocalCloud, running_local_cloud

from .conftest import NO_LIMITS
from .flows import messages, send, two_users_in_a_room

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningLocalCloud]:
    """This module's pages (conftest's new_page) open the Cognito stack."""
    with running_local_cloud(variables={"identity_provider": "cognito", **NO_LIMITS}) as running:
        yield running


def test_sign_up_and_chat_with_cognito_accounts(
    new_page: Callable[..., Page], cloud: RunningLocalCloud
) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    send(alice, "Hello from a Cognito account")
    # Bob answers what he has seen: sent at once, the two could be stored in either order.
    expect(messages(bob)).to_have_count(1)
    send(bob, "Same here")
    for page in (alice, bob):
        expect(messages(page)).to_have_count(2)
        expect(messages(page).nth(1)).to_contain_text(b_name)
    cognito = cloud.client("cognito-idp")
    pool_id = cognito.list_user_pools(MaxResults=10)["UserPools"][0]["Id"]
    users = {u["Username"] for u in cognito.list_users(UserPoolId=pool_id)["Users"]}
    assert {a_name.lower(), b_name.lower()} <= users
    # The users table lists them (for direct rooms) but holds no password of theirs.
    table = cloud.dynamodb().Table(cloud.tables["users"])
    listed = [i for i in table.scan()["Items"] if i["pk"].startswith(keys.USER_PREFIX)]
    assert {i["passwordHash"] for i in listed} == {"cognito"}
    assert alice.js_errors == [] and bob.js_errors == []  # type: ignore[attr-defined]
