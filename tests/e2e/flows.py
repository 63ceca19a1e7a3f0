"""What a user does in the browser, as steps the e2e tests share."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery"


def unique(name: str) -> str:
    return f"{name}{secrets.token_hex(3)}"


def sign_up(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status").filter(has_text="connected")).to_have_text("connected")


def create_room(page: Page, name: str) -> str:
    page.get_by_label("Room name").fill(name)
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_role("button", name="Copy invite link").click()
    link = page.evaluate("navigator.clipboard.readText()")
    match = re.search(r"#join=([A-Za-z0-9_-]+)$", link)
    assert match, link
    return match.group(1)


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def messages(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("list", name="Messages", exact=True).get_by_role("listitem")


def two_users_in_a_room(new_page: Callable[..., Page]) -> tuple[Page, Page, str, str, str]:
    alice, bob = new_page(), new_page()
    a_name, b_name = unique("alice"), unique("bob")
    sign_up(alice, a_name)
    sign_up(bob, b_name)
    room_id = create_room(alice, "Launch plans")
    bob.get_by_label("Room ID").fill(room_id)
    bob.get_by_role("button", name="Join room").click()
    expect(bob.get_by_text("Request sent")).to_be_visible()
    # The admin sees the request arrive live and approves it.
    alice.get_by_role("button", name=f"Approve {b_name}").click()
    expect(bob.get_by_role("heading", name="Launch plans")).to_be_visible()
    return alice, bob, a_name, b_name, room_id


def drop_and_stay_away(page: Page) -> None:
    """The socket drops and cannot come back: every reconnect's ticket request fails."""
    page.context.route("**/api/auth/ticket", lambda route: route.abort())
    page.evaluate("window.__chat.dropConnection()")
    expect(page.get_by_role("status").filter(has_text="reconnecting")).to_be_visible()


def come_back(page: Page) -> None:
    page.context.unroute("**/api/auth/ticket")
    expect(page.get_by_role("status").filter(has_text="connected")).to_have_text(
        "connected", timeout=40_000
    )
