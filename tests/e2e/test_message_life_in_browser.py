"""Message life in Chromium: inline edit (Escape cancels), delete with confirmation, reactions
with who reacted, typing, and search that jumps to the message in context."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.flows import messages, send, two_users_in_a_room
from tests.e2e.test_conversations_in_browser import accept_dialogs


def test_edit_delete_and_react(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    send(bob, "teh plan is ready")
    expect(messages(alice).last).to_contain_text("teh plan is ready")
    mine = messages(bob).last

    # Escape cancels an edit; Enter saves it, and everyone sees the new text marked edited.
    mine.get_by_role("button", name="Edit").click()
    box = bob.get_by_label("Edit message")
    box.fill("never mind")
    box.press("Escape")
    expect(mine).to_contain_text("teh plan is ready")
    mine.get_by_role("button", name="Edit").click()
    bob.get_by_label("Edit message").fill("the plan is ready")
    bob.get_by_label("Edit message").press("Enter")
    for page in (alice, bob):
        expect(messages(page).last).to_contain_text("the plan is ready")
        expect(messages(page).last).to_contain_text("(edited)")
    # Only the author edits.
    expect(messages(alice).last.get_by_role("button", name="Edit", exact=True)).to_have_count(0)

    # Reactions: counts, and who reacted for screen readers and as a tooltip.
    theirs = messages(alice).last
    theirs.get_by_role("button", name="Add reaction").click()
    theirs.get_by_role("button", name="React with 🎉").click()
    reaction = messages(bob).last.get_by_role("button", name=f"🎉 1: {a_name}")
    expect(reaction).to_be_visible()
    expect(reaction).to_have_attribute("title", a_name)
    reaction.click()  # bob adds his
    expect(
        messages(alice).last.get_by_role("button", name=f"🎉 2: {a_name}, {b_name}")
    ).to_be_visible()

    # Delete, with confirmation: a tombstone everywhere, without text or reactions.
    asked = accept_dialogs(bob)
    messages(bob).last.get_by_role("button", name="Delete").click()
    assert asked == ["Delete this message for everyone?"]
    for page in (alice, bob):
        expect(messages(page).last).to_contain_text("This message was deleted.")
        expect(messages(page).last).not_to_contain_text("the plan is ready")
        expect(messages(page).last.get_by_role("button", name="🎉 2")).to_have_count(0)


def test_typing_shows_and_clears_when_the_message_arrives(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, _ = two_users_in_a_room(new_page)
    bob.get_by_label("Message", exact=True).press_sequentially("hello ther")
    expect(alice.get_by_text(f"{b_name} is typing…")).to_be_visible()
    expect(bob.get_by_text(f"{b_name} is typing…")).to_be_hidden()
    bob.get_by_label("Message", exact=True).press("Enter")
    expect(messages(alice).last).to_contain_text("hello ther")
    expect(alice.get_by_text(f"{b_name} is typing…")).to_be_hidden()


def test_search_jumps_to_a_message_in_context(new_page: Callable[..., Page]) -> None:
    alice, bob, a_name, b_name, room_id = two_users_in_a_room(new_page)
    send(alice, "The launch date is Friday")
    for n in range(60):
        send(bob, f"filler {n}")
    # 60 messages to two browsers through the local cloud: slow when the machine is loaded.
    expect(messages(alice).last).to_contain_text("filler 59", timeout=30_000)
    expect(messages(bob).last).to_contain_text("filler 59", timeout=30_000)
    alice.reload()  # only the newest page is held now: the match is further back
    alice.get_by_role("list", name="Rooms", exact=True).get_by_role("button").first.click()
    expect(messages(alice).last).to_contain_text("filler 59", timeout=15_000)
    expect(messages(alice).first).not_to_contain_text("The launch date")
    alice.get_by_label("Search this room").fill("launch FRIDAY")
    alice.get_by_role("button", name="Search", exact=True).click()
    results = alice.get_by_role("region", name="Search results")
    expect(results.get_by_role("status")).to_have_text("1 result.", timeout=15_000)
    results.get_by_role("button", name="The launch date is Friday").click()
    found = alice.locator("#messages .message.found")
    expect(found).to_contain_text("The launch date is Friday", timeout=15_000)
    expect(found).to_be_focused()
    alice.get_by_label("Search this room").fill("nothing like this")
    alice.get_by_role("button", name="Search", exact=True).click()
    expect(results.get_by_role("status")).to_have_text("No messages match.")
