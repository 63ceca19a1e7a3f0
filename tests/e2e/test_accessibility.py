"""Accessibility measured, not asserted by eye: an axe-core audit of the sign-in page and an open
room at desktop and phone widths in both colour schemes, keyboard use of the phone-width Rooms
panel, and what the user is told about messages they have not seen."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from localcloud.testing import RunningLocalCloud

from .flows import create_room, messages, send, sign_up, two_users_in_a_room, unique

pytestmark = pytest.mark.e2e

AXE = Axe()
BLOCKING = {"serious", "critical"}


def blocking_violations(page: Page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_no_serious_or_critical_violation(
    new_page: Callable[..., Page], width: int, scheme: str
) -> None:
    alice, bob, *_ = two_users_in_a_room(new_page)
    page = new_page(width, 800)
    page.emulate_media(color_scheme=scheme)
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert blocking_violations(page) == [], "sign-in page"

    # An open room with several authors' messages, one of them our own, and an admin's room tag.
    sign_up(page, unique("auditor"))
    assert blocking_violations(page) == [], "signed in, no room open"
    if width < 720:
        page.get_by_role("button", name="Rooms").click()
        assert blocking_violations(page) == [], "phone rooms panel open"
    create_room(page, "Audit")
    send(page, "A message of my own, with a link-like www.example.com text.")
    expect(messages(page)).to_have_count(1)
    assert blocking_violations(page) == [], "open room"

    # Someone else's messages in a room the auditor joined (colour-coded author names).
    send(alice, "Hello from Alice")
    send(bob, "And from Bob")
    expect(messages(bob)).to_have_count(2)
    bob.emulate_media(color_scheme=scheme)
    bob.set_viewport_size({"width": width, "height": 800})
    assert blocking_violations(bob) == [], "room with other authors"


def test_the_phone_rooms_panel_traps_focus_and_escape_gives_it_back(
    new_page: Callable[..., Page],
) -> None:
    page = new_page(375, 740)
    sign_up(page, unique("keys"))
    menu = page.get_by_role("button", name="Rooms")
    # Closed, the off-screen panel is out of the tab order.
    assert page.locator("#sidebar").evaluate("n => getComputedStyle(n).visibility") == "hidden"
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Room name")).to_be_focused()
    # Tab many times: focus never leaves the panel and its menu button.
    for _ in range(12):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "document.getElementById('sidebar').contains(document.activeElement)"
            " || document.activeElement.id === 'menu-button'"
        )
        assert inside, page.evaluate("document.activeElement.outerHTML")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    # The whole flow by keyboard: open, type a room name, Enter creates and opens the room.
    page.keyboard.press("Enter")
    page.keyboard.type("Keyboard room")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard room")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("typed, never clicked")
    page.keyboard.press("Enter")
    expect(messages(page)).to_have_count(1)


def test_messages_in_a_room_not_open_show_a_badge_and_a_count_in_the_title(
    new_page: Callable[..., Page],
) -> None:
    alice, bob, a_name, _, _ = two_users_in_a_room(new_page)
    # Bob opens another room of his own; Alice keeps talking in the first.
    create_room(bob, "Elsewhere")
    send(alice, "one")
    send(alice, "two")
    launch = bob.get_by_role("button", name=re.compile("Launch plans"))
    expect(launch).to_contain_text("2")
    expect(launch).to_contain_text("(2 unread)")
    expect(bob).to_have_title("(2) Chat")
    # Opening the room reads them: badge and title count go.
    launch.click()
    expect(messages(bob)).to_have_count(2)
    expect(launch).not_to_contain_text("unread")
    expect(bob).to_have_title("Chat")
    # Own messages never count as unread.
    create_room(alice, "Alice alone")
    send(bob, "from bob")
    expect(alice).to_have_title("(1) Chat")
    assert a_name  # the first room's admin


def test_desktop_notifications_are_opt_in_from_a_click(
    new_page: Callable[..., Page], cloud: RunningLocalCloud
) -> None:
    page = new_page()
    # Per origin, like the clipboard grant: a grant for all origins after it reads as "denied".
    page.context.grant_permissions(["notifications"], origin=cloud.base_url)
    sign_up(page, unique("notify"))
    toggle = page.get_by_role("button", name="Desktop notifications")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
