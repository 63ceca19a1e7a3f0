"""An error frame names the frame's action, or null when it cannot be encoded (found by the
WebSocket fuzzing: a lone surrogate in `action` made the reply unsendable)."""

from __future__ import annotations

from chat import protocol
from chat.errors import UnknownActionError
from chat.notifier import encode_frame


def test_an_action_with_a_lone_surrogate_is_reported_as_null() -> None:
    frame = protocol.error(UnknownActionError("no such action"), "\ud800", "r1")
    assert frame["action"] is None
    encode_frame(frame)  # encodes as UTF-8


def test_a_readable_action_is_echoed() -> None:
    assert protocol.error(UnknownActionError("x"), "sendMessagé", None)["action"] == "sendMessagé"
    assert protocol.error(UnknownActionError("x"), "", None)["action"] == ""
