"""Conversations in Chromium: direct messages, unread badges, "Seen by", leaving, removal and
deletion, against the local cloud."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Dialog, Page, Route, expect

from tests.e2e.flows import messages, send, sign_up, two_users_in_a_room, unique


def accept_dialogs(page: Page, answers: list[bool] | None = None) -> list[str]:
    """Answers the page's confirmations (with `answers` in turn, then yes); what it asked."""
    asked: list[str] = []
    pending = list(answers or [])

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if pending and not pending.pop(0):
            dialog.dismiss()
        else:
            dialog.accept()

    page.on("dialog", answer)
    return asked


def test_a_direct_conversation_with_unread_badge_title_and_seen(
    new_page: Callable[..., Page],
) -> None:
    alice, bob = new_page(), new_page()
    a_name, b_name = unique("alice"), unique("bob")
    sign_up(alice, a_name)
    sign_up(bob, b_name)

    alice.get_by_label("Start a conversation with").fill(b_name.upper())
    alice.get_by_role("button", name="Start conversation").click()
    expect(alice.get_by_role("heading", name=f"Direct: {b_name}")).to_be_visible()
    # Bob learns of it at once, in his Direct messages list.
    directs = bob.get_by_role("list", name="Direct messages")
    expect(directs.get_by_role("button", name=a_name)).to_be_visible()

    send(alice, "hello bob")
    send(alice, "are you there?")
    # Two unread, on the badge (with a screen-reader label) and in the tab title.
    expect(directs.get_by_role("button", name=f"{a_name} (2 unread)")).to_be_visible()
    expect(bob).to_have_title("(2) Chat")
    expect(alice.get_by_text("Seen", exact=True)).to_be_hidden()

    directs.get_by_role("button", name=a_name).click()
    expect(messages(bob)).to_have_count(2)
    expect(bob).to_have_title("Chat")
    # Bob's client tells the server he read the newest message; Alice sees it under it.
    expect(alice.get_by_text("Seen", exact=True)).to_be_visible()

    send(bob, "here!")
    expect(messages(alice).last).to_contain_text("here!")
    # Opening it again from Bob's side finds the same conversation.
    bob.get_by_label("Start a conversation with").fill(a_name)
    bob.get_by_role("button", name="Start conversation").click()
    expect(bob.get_by_label("Start a conversation with")).to_have_value("")  # answered
    expect(directs.get_by_role("listitem")).to_have_count(1)

    bob.get_by_label("Start a conversation with").fill(b_name)
    bob.get_by_role("button", name="Start conversation").click()
    expect(bob.get_by_role("alert").filter(has_text="someone other than you")).to_be_visible()
    bob.get_by_label("Start a conversation with").fill(unique("nobody"))
    bob.get_by_role("button", name="Start conversation").click()
    expect(bob.get_by_role("alert").filter(has_text="There is no user called")).to_be_visible(
        timeout=15_000
    )


def test_unread_counts_survive_a_reload_and_seen_by_names_readers(
    new_page: Callable[..., Page],
) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    rooms = bob.get_by_role("list", name="Rooms", exact=True)
    # Bob looks away: a second room of his own is open.
    bob.get_by_label("Room name").fill("Elsewhere")
    bob.get_by_role("button", name="Create room").click()
    expect(bob.get_by_role("heading", name="Elsewhere")).to_be_visible()
    for n in range(3):
        send(alice, f"update {n}")
    expect(rooms.get_by_role("button", name="Launch plans (3 unread)")).to_be_visible()
    bob.reload()  # the count comes from the server (GET /rooms), not only from this tab
    expect(rooms.get_by_role("button", name="Launch plans (3 unread)")).to_be_visible()
    expect(alice.get_by_text(f"Seen by {b_name}")).to_be_hidden()
    rooms.get_by_role("button", name="Launch plans").click()
    expect(alice.get_by_text(f"Seen by {b_name}")).to_be_visible()
    expect(rooms.get_by_role("button", name="Launch plans", exact=True)).to_be_visible()


def test_leaving_a_room(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    asked = accept_dialogs(bob)
    expect(alice.get_by_role("list", name="Members").get_by_text(b_name)).to_be_visible()
    # The admin has no Leave button, only Delete; a member the other way round.
    expect(alice.get_by_role("button", name="Leave room")).to_be_hidden()
    expect(bob.get_by_role("button", name="Delete room")).to_be_hidden()
    bob.get_by_role("button", name="Leave room").click()
    assert asked and "Leave Launch plans?" in asked[0]
    expect(bob.get_by_role("list", name="Rooms", exact=True).get_by_role("listitem")).to_have_count(
        0
    )
    expect(alice.get_by_role("list", name="Members").get_by_text(b_name)).to_be_hidden()
    send(alice, "after bob left")
    expect(messages(alice).last).to_contain_text("after bob left")


def test_the_admin_removes_a_member(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    asked = accept_dialogs(alice)
    expect(bob.get_by_role("button", name=f"Remove {a_name}")).to_have_count(0)
    alice.get_by_role("button", name=f"Remove {b_name}").click()
    assert asked == [f"Remove {b_name} from Launch plans?"]
    expect(
        bob.get_by_role("status").filter(has_text="You were removed from Launch plans.")
    ).to_be_visible()
    expect(bob.get_by_role("heading", name="Launch plans")).to_be_hidden()
    expect(alice.get_by_role("list", name="Members").get_by_text(b_name)).to_be_hidden()


def test_the_admin_deletes_the_room_at_phone_width(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, room_id = two_users_in_a_room(new_page)
    bob.set_viewport_size({"width": 375, "height": 740})
    asked = accept_dialogs(alice, answers=[False])
    # Declining the confirmation changes nothing.
    alice.get_by_role("button", name="Delete room").click()
    send(alice, "still here")
    expect(messages(bob).last).to_contain_text("still here")
    alice.get_by_role("button", name="Delete room").click()
    expect(alice.get_by_role("heading", name="Launch plans")).to_be_hidden()
    assert asked and "Delete Launch plans for everyone?" in asked[-1]
    expect(
        bob.get_by_role("status").filter(has_text="Launch plans was deleted by its admin.")
    ).to_be_visible()
    # At phone width the Rooms panel, reached by keyboard, no longer lists it.
    bob.get_by_role("button", name="Rooms").focus()
    bob.keyboard.press("Enter")
    expect(bob.get_by_label("Start a conversation with")).to_be_visible()
    expect(bob.get_by_role("list", name="Rooms", exact=True).get_by_role("listitem")).to_have_count(
        0
    )


def test_what_is_typed_while_a_conversation_opens_is_kept(new_page: Callable[..., Page]) -> None:
    """The answer to one "Start conversation" may come after the next name is typed: emptying
    the box then would lose it (a loaded machine showed it)."""
    alice, bob = new_page(), new_page()
    a_name, b_name = unique("alice"), unique("bob")
    sign_up(alice, a_name)
    sign_up(bob, b_name)
    answers: list[Route] = []
    alice.route("**/rooms/direct", lambda route: answers.append(route))  # held until released
    alice.get_by_label("Start a conversation with").fill(b_name)
    alice.get_by_role("button", name="Start conversation").click()
    alice.wait_for_timeout(200)
    assert len(answers) == 1
    alice.get_by_label("Start a conversation with").fill("someone else")
    answers[0].continue_()
    expect(alice.get_by_role("heading", name=f"Direct: {b_name}")).to_be_visible()
    expect(alice.get_by_label("Start a conversation with")).to_have_value("someone else")
