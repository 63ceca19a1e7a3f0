"""The token record's rules (chat.accounts: refusal, without_token, everywhere) over any
sequence of logins, logouts and logouts everywhere, as pure functions: a token logged out stays
refused, the map of logged-out tokens never outgrows its bound, and a logout ends no other
token unless the full map moved the version on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chat.accounts import everywhere, refusal, without_token
from chat.models import TokenState
from chat.tokens import Credential

LIMIT = 3
LIFETIME = 50

# ("login",), ("logout", which token), ("everywhere",), ("wait", seconds)
STEPS = st.lists(
    st.one_of(
        st.just(("login", 0)),
        st.tuples(st.just("logout"), st.integers(0, 30)),
        st.just(("everywhere", 0)),
        st.tuples(st.just("wait"), st.integers(1, 30)),
    ),
    max_size=40,
)


@given(steps=STEPS, cognito=st.booleans())
def test_logged_out_tokens_stay_refused_and_the_map_stays_bounded(
    steps: list[tuple[str, int]], cognito: bool
) -> None:
    now = 1_000
    record = TokenState()
    tokens: list[Credential] = []
    ended: set[str] = set()  # logged out alone, or everywhere, or by a full map
    for kind, value in steps:
        live = [t for t in tokens if t.expires_at > now and refusal(t, record) is None]
        if kind == "login":
            if cognito and now <= record.signed_out_at:
                now = record.signed_out_at + 1  # the login waits for the next second
            version = None if cognito else record.version
            tokens.append(Credential("alice", f"t{len(tokens)}", now, now + LIFETIME, version))
        elif kind == "logout" and live:
            token = live[value % len(live)]
            before = record
            record = without_token(record, token, now, LIMIT)
            ended.add(token.token_id)
            if record.version != before.version:  # the map was full: everyone is out
                ended.update(t.token_id for t in tokens)
        elif kind == "everywhere":
            record = everywhere(record, now)
            ended.update(t.token_id for t in tokens)
        elif kind == "wait":
            now += value
        assert len(record.revoked) <= LIMIT
        for token in tokens:
            if token.expires_at <= now:
                continue  # expired: refused by its signature check whatever the record says
            assert (refusal(token, record) is not None) == (token.token_id in ended), token
