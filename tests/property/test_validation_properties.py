"""Every validator, on arbitrary JSON: a value that obeys the text rules, or a ChatError with a
message. Never another exception."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat import validation
from chat.errors import ChatError, InvalidInputError, TooLargeError
from tests.property.strategies import FIELD_VALUES, NEAR_VALID, TEXT, objects_with

VALIDATORS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "username": validation.username,
    "password": validation.password,
    "name": validation.room_name,
    "roomId": validation.room_id,
    "text": validation.message_text,
    "clientMessageId": validation.client_message_id,
    "requestId": validation.request_id,
}


def _outcome(check: Callable[[dict[str, Any]], Any], payload: dict[str, Any]) -> Any:
    try:
        return check(payload)
    except (InvalidInputError, TooLargeError) as e:
        assert e.message and "Traceback" not in e.message
        return e


@pytest.mark.parametrize("field", list(VALIDATORS))
@given(value=FIELD_VALUES)
def test_each_validator_accepts_or_explains_never_crashes(field: str, value: Any) -> None:
    result = _outcome(VALIDATORS[field], {field: value})
    if isinstance(result, str):
        result.encode("utf-8")  # no lone surrogate ever gets through


@given(value=st.one_of(TEXT, NEAR_VALID))
def test_accepted_names_are_nfkc_and_free_of_hidden_characters(value: str) -> None:
    for check in (validation.username, validation.room_name):
        field = "username" if check is validation.username else "name"
        result = _outcome(check, {field: value})
        if isinstance(result, str):
            assert unicodedata.normalize("NFKC", result) == result
            assert not any(unicodedata.category(c).startswith("C") for c in result)
            assert any(validation.is_visible(c) for c in result)


@given(value=st.one_of(TEXT, NEAR_VALID))
def test_usernames_match_their_pattern_in_full(value: str) -> None:
    result = _outcome(validation.username, {"username": value})
    if isinstance(result, str):
        assert validation.USERNAME_RE.fullmatch(result)
        assert result.isascii() and "\n" not in result


@given(value=st.one_of(TEXT, NEAR_VALID))
def test_accepted_message_text_has_something_visible_and_no_controls(value: str) -> None:
    result = _outcome(validation.message_text, {"text": value})
    if isinstance(result, str):
        assert any(validation.is_visible(c) for c in result)
        for c in result:
            assert c in "\n\t" or unicodedata.category(c) != "Cc"
            assert not 0x202A <= ord(c) <= 0x202E and not 0x2066 <= ord(c) <= 0x2069


@given(params=objects_with(["limit", "before", "after"]))
def test_history_queries_accept_or_explain(params: dict[str, Any]) -> None:
    try:
        limit, before, after = validation.history_query(params)
    except InvalidInputError:
        return
    assert 1 <= limit <= validation.HISTORY_LIMIT_MAX
    assert not (before and after)


@given(body=st.one_of(TEXT, st.binary().map(lambda b: b.decode("latin-1"))))
def test_parse_json_object_returns_a_dict_or_invalid_input(body: str) -> None:
    try:
        assert isinstance(validation.parse_json_object(body), dict)
    except ChatError as e:
        assert e.code == "invalid_input"


@given(depth=st.integers(min_value=1, max_value=50_000), opener=st.sampled_from(["[", '{"a":']))
def test_deeply_nested_bodies_are_invalid_input_or_parsed(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = '{"x":' + opener * depth + "1" + closer * depth + "}"
    try:
        validation.parse_json_object(body, max_bytes=10**6)
    except ChatError as e:
        assert e.code == "invalid_input"
