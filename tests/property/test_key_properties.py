"""Every key builder in chat.keys has a parser that gives back what went in, for any id, and no
parser accepts another entity's key. (Case folding is only the same both ways for the ASCII
that usernames are made of: "ß".upper().lower() is "ss".)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat import keys
from chat.models import user_key
from chat.validation import USERNAME_RE
from tests.property.strategies import TEXT

# (builder, parser, what the parser gives back for the builder's input)
ROUND_TRIPS: dict[str, tuple[Callable[[str], str], Callable[[str], str], Callable[[str], str]]] = {
    "user": (keys.user_pk, keys.parse_user_pk, user_key),
    "ticket": (keys.ticket_pk, keys.parse_ticket_pk, str),
    "room": (keys.room_pk, keys.parse_room_pk, str),
    "member": (keys.member_sk, keys.parse_member_sk, user_key),
    "request": (keys.request_sk, keys.parse_request_sk, user_key),
    "connection": (keys.connection_pk, keys.parse_connection_pk, str),
}


@pytest.mark.parametrize("entity", ROUND_TRIPS)
@given(value=TEXT)
def test_parse_undoes_build(entity: str, value: str) -> None:
    build, parse, expected = ROUND_TRIPS[entity]
    assert parse(build(value)) == expected(value)


@pytest.mark.parametrize("entity", ROUND_TRIPS)
@given(value=TEXT)
def test_no_parser_accepts_another_entitys_key(entity: str, value: str) -> None:
    build = ROUND_TRIPS[entity][0]
    for other, (_, parse, _) in ROUND_TRIPS.items():
        if other != entity:
            with pytest.raises(ValueError, match="is not a"):
                parse(build(value))


@given(username=st.from_regex(USERNAME_RE, fullmatch=True))
def test_a_valid_username_has_one_key_whatever_its_case(username: str) -> None:
    assert (
        keys.user_pk(username) == keys.user_pk(username.upper()) == keys.user_pk(username.lower())
    )
    assert keys.member_sk(username) == keys.member_sk(username.swapcase())
