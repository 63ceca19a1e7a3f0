"""The browser client in Chromium: the whole flow with two users, reconnect and catch-up,
XSS safety, session handling, and screenshots of the main screens."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from boto3.dynamodb.conditions import Key
from playwright.sync_api import Page, expect

from localcloud.testing import RunningLocalCloud

from .conftest import CSP_VIOLATION
from .flows import (
    come_back,
    create_room,
    drop_and_stay_away,
    messages,
    send,
    sign_up,
    two_users_in_a_room,
    unique,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def publish_screenshot(artifact: Path, name: str) -> None:
    """UPDATE_SCREENSHOTS=1 make test-e2e refreshes the README's screenshots in docs/."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(artifact, REPO / "docs" / name)


def test_two_users_chat_live_with_approval_and_presence(
    new_page: Callable[..., Page], artifacts: Path
) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    members = alice.get_by_role("list", name="Members")
    expect(members.get_by_role("listitem").filter(has_text=b_name)).to_contain_text("(online)")

    send(alice, "Hello Bob!")
    # Bob answers what he has seen: sent at once, the two could be stored in either order.
    expect(messages(bob)).to_have_count(1)
    send(bob, "Hi Alice,\nready when you are.")
    for page in (alice, bob):
        expect(messages(page)).to_have_count(2)
        expect(messages(page).nth(0)).to_contain_text("Hello Bob!")
        expect(messages(page).nth(1)).to_contain_text("ready when you are.")
        expect(messages(page).nth(1)).to_contain_text(b_name)

    alice.screenshot(path=str(artifacts / "chat-desktop.png"))
    publish_screenshot(artifacts / "chat-desktop.png", "screenshot-desktop.png")

    # Bob leaves: his presence goes offline in Alice's member list.
    bob.context.close()
    expect(members.get_by_role("listitem").filter(has_text=b_name)).to_contain_text("(offline)")
    assert alice.js_errors == []  # type: ignore[attr-defined]


def test_reconnect_catches_up_without_loss_or_duplicates(new_page: Callable[..., Page]) -> None:
    alice, bob, *_ = two_users_in_a_room(new_page)
    send(alice, "before the drop")
    expect(messages(bob)).to_have_count(1)

    # Bob's socket drops and stays down while Alice talks (his reconnect attempts are blocked).
    drop_and_stay_away(bob)
    for i in range(5):
        send(alice, f"while away {i}")
    expect(messages(alice)).to_have_count(6)
    expect(messages(bob)).to_have_count(1)

    come_back(bob)
    expect(messages(bob)).to_have_count(6)
    texts = messages(bob).all_inner_texts()
    assert "before the drop" in texts[0]
    away = [m.group(0) for t in texts[1:] if (m := re.search(r"while away \d", t))]
    assert away == [f"while away {i}" for i in range(5)]  # each once, in order
    send(alice, "after the return")
    expect(messages(bob)).to_have_count(7)
    expect(messages(bob).nth(6)).to_contain_text("after the return")


def test_a_message_with_html_is_shown_as_text_and_runs_nothing(
    new_page: Callable[..., Page],
) -> None:
    alice, bob, *_ = two_users_in_a_room(new_page)
    dialogs: list[str] = []
    for page in (alice, bob):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    payload = "<img src=x onerror=alert(1)>"
    send(alice, payload)
    for page in (alice, bob):
        expect(messages(page).last).to_contain_text(payload)
        assert page.locator("#messages img").count() == 0
    bob.wait_for_timeout(500)
    assert dialogs == []


def test_bad_credentials_and_server_errors_are_shown_where_the_user_acted(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    page.goto("/")
    page.get_by_label("Username").fill(unique("nobody"))
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong username or password")).to_be_visible()
    page.get_by_label("Username").fill("x")
    page.get_by_role("button", name="Sign up").click()
    expect(
        page.get_by_role("alert").filter(has_text="Usernames are 3-32 characters")
    ).to_be_visible()

    sign_up(page, unique("carol"))
    page.get_by_label("Room ID").fill("no-such-room")
    page.get_by_role("button", name="Join room").click()
    expect(page.get_by_text("There is no room with that id.")).to_be_visible()


def test_session_survives_a_reload_and_logout_ends_it(new_page: Callable[..., Page]) -> None:
    page = new_page()
    name = unique("dora")
    sign_up(page, name)
    create_room(page, "Notes")
    page.reload()
    expect(page.get_by_role("status").filter(has_text="connected")).to_have_text("connected")
    expect(page.get_by_role("button", name=re.compile("Notes"))).to_be_visible()
    logouts: list[str] = []
    page.on(
        "request", lambda r: logouts.append(r.method) if r.url.endswith("/auth/logout") else None
    )
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert logouts == ["POST"]  # the server was told: the token is dead, not only forgotten
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_logout_clears_the_session_even_when_the_server_cannot_be_told(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    sign_up(page, unique("fay"))
    page.context.route("**/api/auth/logout", lambda route: route.abort())
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('chat.session')") is None


def test_log_out_everywhere_sends_every_page_of_the_user_to_the_login_form(
    new_page: Callable[..., Page],
) -> None:
    here, there = new_page(), new_page()
    name = unique("gus")
    sign_up(here, name)
    there.goto("/")
    there.get_by_label("Username").fill(name)
    there.get_by_label("Password").fill("correct horse battery")
    there.get_by_role("button", name="Log in").click()
    expect(there.get_by_role("status").filter(has_text="connected")).to_have_text("connected")
    # Declining the confirmation changes nothing.
    here.once("dialog", lambda dialog: dialog.dismiss())
    here.get_by_role("button", name="Log out everywhere").click()
    expect(here.get_by_role("status").filter(has_text="connected")).to_have_text("connected")
    here.once("dialog", lambda dialog: dialog.accept())
    here.get_by_role("button", name="Log out everywhere").click()
    # This page's own socket closes too; whichever comes first, the reply or the refused
    # reconnect, says so.
    expect(here.get_by_role("button", name="Log in")).to_be_visible()
    expect(
        here.get_by_text(
            re.compile(
                r"You (logged out everywhere \(2 live connections closed\)|were logged out everywhere)"
            )
        )
    ).to_be_visible()
    # The other page's socket was closed by the server; its next ticket is refused (401).
    expect(there.get_by_role("button", name="Log in")).to_be_visible()
    expect(
        there.get_by_text("You were logged out everywhere. Please log in again.")
    ).to_be_visible()
    assert there.evaluate("localStorage.getItem('chat.session')") is None
    assert here.js_errors == [] and there.js_errors == []  # type: ignore[attr-defined]


def test_an_expired_session_asks_to_log_in_again(new_page: Callable[..., Page]) -> None:
    page = new_page()
    sign_up(page, unique("erin"))
    page.evaluate(
        """() => {
            const s = JSON.parse(localStorage.getItem('chat.session'));
            s.expiresAt = '2000-01-01T00:00:00Z';
            localStorage.setItem('chat.session', JSON.stringify(s));
        }"""
    )
    page.reload()
    expect(page.get_by_text("Your session has expired. Please log in again.")).to_be_visible()


def test_phone_width_layout(new_page: Callable[..., Page], artifacts: Path) -> None:
    page = new_page(375, 740)
    sign_up(page, unique("phone"))
    # There is no "left" at phone width: the empty state names the menu instead.
    expect(
        page.get_by_text("Open the Rooms menu (☰) to pick a room or create one.")
    ).to_be_visible()
    expect(page.get_by_text("Pick a room on the left")).to_be_hidden()
    page.get_by_role("button", name="Rooms").click()
    create_room(page, "Mobile")
    send(page, "Typing on a phone works too.")
    expect(messages(page)).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    page.screenshot(path=str(artifacts / "chat-mobile.png"))
    publish_screenshot(artifacts / "chat-mobile.png", "screenshot-mobile.png")


def test_catch_up_finds_a_lower_id_that_was_in_flight_when_the_socket_dropped(
    new_page: Callable[..., Page], cloud: RunningLocalCloud
) -> None:
    """The interleaving that "after the highest id held" loses: while Bob is away, a message
    whose id is *below* the newest one he holds is stored (as a send racing in another Lambda
    container would be). Catch-up from the time cursor must still bring it."""
    alice, bob, a_name, _, room_id = two_users_in_a_room(new_page)
    send(alice, "first")
    send(alice, "second")
    expect(messages(bob)).to_have_count(2)
    table = cloud.dynamodb().Table(cloud.tables["messages"])
    stored = table.query(KeyConditionExpression=Key("roomId").eq(room_id))["Items"]
    newest = max(stored, key=lambda item: str(item["messageId"]))
    # Same millisecond as the newest message, lowest possible random part: a lower id.
    racing_id = str(newest["messageId"])[:10] + "0" * 16
    assert racing_id < str(newest["messageId"])

    drop_and_stay_away(bob)
    table.put_item(
        Item={
            "roomId": room_id,
            "messageId": racing_id,
            "username": a_name,
            "text": "the one in flight",
            "createdAt": str(newest["createdAt"]),
        }
    )
    # Alice is connected: once she shows it, the stream has delivered it, with Bob away.
    expect(messages(alice).filter(has_text="the one in flight")).to_have_count(1)
    expect(messages(bob)).to_have_count(2)

    come_back(bob)
    expect(messages(bob)).to_have_count(3)
    texts = messages(bob).all_inner_texts()
    assert "first" in texts[0] and "the one in flight" in texts[1] and "second" in texts[2], texts


def test_messages_typed_in_quick_succession_are_sent_one_at_a_time_and_keep_their_order(
    new_page: Callable[..., Page],
) -> None:
    """Two sends in flight at once are two concurrent invocations that may store them either
    way round; the client sends a room's next message only once the previous one is stored."""
    page = new_page()
    sign_up(page, unique("quick"))
    create_room(page, "Rapid fire")
    # Each sendMessage frame notes how many stored messages the list showed when it left.
    page.evaluate(
        """() => {
            window.storedWhenSent = [];
            const real = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
                if (data.includes('"sendMessage"')) {
                    const stored = document.querySelectorAll("#messages li:not(.pending)").length;
                    window.storedWhenSent.push(stored);
                }
                return real.call(this, data);
            };
        }"""
    )
    for i in range(5):
        send(page, f"quick {i}")
    expect(messages(page).filter(has_text="Sending…")).to_have_count(0, timeout=20_000)
    texts = messages(page).all_inner_texts()
    assert [m.group(0) for t in texts if (m := re.search(r"quick \d", t))] == [
        f"quick {i}" for i in range(5)
    ]
    assert page.evaluate("window.storedWhenSent") == [0, 1, 2, 3, 4]


def test_a_sent_message_shows_at_once_and_a_rejected_one_says_why(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    sign_up(page, unique("frank"))
    create_room(page, "Drafts")
    # Held back in the browser, the first send of this text never reaches the server.
    page.evaluate(
        """() => {
            const real = WebSocket.prototype.send;
            let held = false;
            WebSocket.prototype.send = function (data) {
                if (!held && data.includes('"held back"')) { held = true; return; }
                return real.call(this, data);
            };
        }"""
    )
    send(page, "held back")
    pending = messages(page).filter(has_text="held back")
    expect(pending).to_contain_text("Sending…")
    # No stored message and no error: after the send timeout it is marked as not sent.
    expect(pending).to_contain_text("Not sent: no answer from the server.", timeout=20_000)
    pending.get_by_role("button", name="Retry").click()
    expect(messages(page)).to_have_count(1)
    expect(messages(page).first).not_to_contain_text("Sending…")
    expect(messages(page).first).not_to_contain_text("Not sent")

    # The server refuses a message with nothing visible in it; the error lands on that message.
    send(page, "\u200b")
    refused = page.locator("#messages .failed")
    expect(refused).to_contain_text("Not sent")
    expect(refused.get_by_role("alert")).to_contain_text("visible")
    refused.get_by_role("button", name="Discard").click()
    expect(messages(page)).to_have_count(1)
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_messages_that_arrive_in_one_message_batch_are_all_shown_in_order(
    new_page: Callable[..., Page], cloud: RunningLocalCloud
) -> None:
    """The client connects with `batch=1`; three messages stored in one BatchWriteItem reach
    the stream processor in one batch, so Bob's socket gets them as one `messageBatch`."""
    alice, bob, a_name, _, room_id = two_users_in_a_room(new_page)
    received: list[str] = []
    bob.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(frame)))
    drop_and_stay_away(bob)
    come_back(bob)  # a new socket, watched from its first frame
    send(alice, "first")
    expect(messages(bob)).to_have_count(1)
    newest = max(
        cloud.dynamodb()
        .Table(cloud.tables["messages"])
        .query(KeyConditionExpression=Key("roomId").eq(room_id))["Items"],
        key=lambda item: str(item["messageId"]),
    )
    with cloud.dynamodb().Table(cloud.tables["messages"]).batch_writer() as batch:
        for i in range(3):
            batch.put_item(
                Item={
                    "roomId": room_id,
                    # Just after the newest, in order: the same millisecond, higher random parts.
                    "messageId": str(newest["messageId"])[:10] + "Z" * 15 + "XYZ"[i],
                    "username": a_name,
                    "text": f"batched {i}",
                    "createdAt": str(newest["createdAt"]),
                }
            )
    expect(messages(bob)).to_have_count(4)
    texts = messages(bob).all_inner_texts()
    assert [re.search(r"batched \d", t).group(0) for t in texts[1:]] == [  # type: ignore[union-attr]
        f"batched {i}" for i in range(3)
    ], texts
    assert any('"type":"messageBatch"' in str(frame) for frame in received), received


def reported(text: str, directive: str) -> bool:
    """A violation as the page factory's listener reports it (Chromium logs its own too)."""
    return text.startswith(CSP_VIOLATION) and f" {directive}" in text


def test_the_client_runs_under_its_csp_which_refuses_other_hosts_and_inline_script(
    new_page: Callable[..., Page], cloud: RunningLocalCloud
) -> None:
    """The local cloud sends the site's CSP from Terraform (local.site_csp) with its own origins;
    the whole client works under it (this test, and every page of the tier: the new_page
    fixture fails a test whose pages reported a violation), and Chromium enforces it."""
    page = new_page()
    response = page.goto("/")
    assert response is not None
    host = cloud.base_url.removeprefix("http://")
    csp = response.headers["content-security-policy"]
    directives = {d.split(" ")[0]: d.split(" ")[1:] for d in csp.split("; ")}
    assert directives["connect-src"] == ["'self'", f"http://{host}", f"ws://{host}"]
    assert directives["script-src"] == directives["style-src"] == ["'self'"]
    assert "unsafe" not in csp

    sign_up(page, unique("policy"))
    create_room(page, "Under the policy")
    send(page, "sent under the policy")
    expect(messages(page)).to_have_count(1)
    expect(messages(page).nth(0)).not_to_contain_text("Sending")
    assert page.csp_violations == []  # type: ignore[attr-defined]

    # Anywhere else is refused by the browser before any request leaves.
    with page.expect_console_message(lambda m: reported(m.text, "connect-src")) as refused:
        name = page.evaluate(
            "fetch('https://elsewhere.example/steal').then(() => 'sent', (e) => e.name)"
        )
    assert name == "TypeError"
    assert "blocked https://elsewhere.example" in refused.value.text
    # So is a script injected inline.
    with page.expect_console_message(lambda m: reported(m.text, "script-src")):
        ran = page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "window.injected = true"; document.head.append(s);
                       return window.injected === true; }"""
        )
    assert ran is False
    assert len(page.csp_violations) == 2  # type: ignore[attr-defined]
    page.csp_violations.clear()  # type: ignore[attr-defined]  # provoked: not the client's
