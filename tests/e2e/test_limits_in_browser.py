"""The abuse limits as the browser client shows them (docs/protocol.md, "Limits"), against a
local cloud of its own with the limits on and a tiny message bucket: a burst of sends is held
and sent again after retryAfter, never lost or shown twice; the login form shows throttling."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.e2e.flows import PASSWORD, create_room, messages, send, sign_up, unique

pytestmark = pytest.mark.e2e

# 1 message per second and no burst (a send round trip here is well under a second, so the
# second of two sends in a row is refused); the login limits as deployed (5 per pair).
LIMITED = {"rate_limit_messages_per_second": "1", "rate_limit_messages_burst": "1"}


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningLocalCloud]:
    """Replaces the e2e tier's cloud (limits off) for this module's pages."""
    with running_local_cloud(variables=LIMITED) as running:
        yield running


def stored_texts(page: Page, room_id: str) -> list[str]:
    """The room's history as the server stored it, in id order, read with the page's session."""
    pairs = page.evaluate(
        """async (roomId) => {
          const { token } = JSON.parse(localStorage.getItem("chat.session"));
          const response = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/messages?limit=100`,
            { headers: { Authorization: `Bearer ${token}` } });
          return (await response.json()).messages.map((m) => [m.messageId, m.text]);
        }""",
        room_id,
    )
    return [text for _, text in sorted(pairs)]


def test_a_burst_over_the_message_bucket_is_held_and_resent_never_lost_or_doubled(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    sign_up(page, unique("rita"))
    room_id = create_room(page, "Rapid fire")
    texts = [f"burst {n}" for n in range(6)]
    for text in texts:
        send(page, text)
    # The second goes over the bucket: it waits with a note, the later ones behind it.
    expect(page.get_by_role("status").filter(has_text="Sending too fast")).to_contain_text(
        re.compile(r"trying again in 1 s")
    )
    expect(page.locator(".message.failed")).to_have_count(0)
    # At 1 per second: all stored, none left pending, each shown once, in order.
    expect(page.locator(".message.pending")).to_have_count(0, timeout=30_000)
    expect(messages(page).locator(".text")).to_have_text(texts)
    assert stored_texts(page, room_id) == texts
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_login_form_shows_throttling_after_five_wrong_passwords(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    name = unique("walt")
    sign_up(page, name)
    page.get_by_role("button", name="Log out", exact=True).click()
    alert = page.locator("#auth-error")

    def log_in(password: str) -> int:
        page.get_by_label("Username").fill(name)
        page.get_by_label("Password").fill(password)
        with page.expect_response("**/api/auth/login") as answer:
            page.get_by_role("button", name="Log in").click()
        return answer.value.status

    for _ in range(5):
        assert log_in("wrong password") == 401
        expect(alert).to_have_text("Wrong username or password.")
    # The right password too: the pair is blocked for the window (15 minutes), and the form
    # says for how long instead of "wrong password".
    assert log_in(PASSWORD) == 429
    expect(alert).to_have_text(re.compile(r"^Slow down: try again in (899|900) s\.$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
