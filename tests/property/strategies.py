"""Hypothesis strategies for hostile input: arbitrary JSON with the characters that broke us."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Characters the probes found: lone surrogates, NUL and other controls, bidi overrides,
# zero-width and filler characters, non-ASCII digits, a final newline.
NASTY = st.sampled_from(
    [
        "\ud800",
        "\udfff",
        "\x00",
        "\x07",
        "\n",
        "\r",
        "\t",
        "\u202e",
        "\u2066",
        "\u200b",
        "\u200d",
        "\ufeff",
        "\u3164",
        "\u0301",
        "²",
        "١",
        "ａ",
        "😀",
        "é",
    ]
)
CHARACTERS = st.one_of(NASTY, st.characters(exclude_categories=()), st.sampled_from("0123456789"))
# st.text() would drop lone surrogates, the very characters that broke us: join lists instead.
TEXT = st.lists(CHARACTERS, max_size=40).map("".join)
# Values a plausible field could take, so validation gets past the first check now and then.
PLAUSIBLE = st.sampled_from(
    ["alice", "General", "correct horse battery", "hello there", "10", "", " "]
)


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A plausible value with hostile characters spliced in: gets past the length checks."""
    value = draw(PLAUSIBLE.filter(bool))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(value)))
        value = value[:at] + draw(NASTY) + value[at:]
    return value


NEAR_VALID = near_valid()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    PLAUSIBLE,
    NEAR_VALID,
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)

# What a field is given: mostly strings (where the text rules bite), sometimes any JSON.
FIELD_VALUES: st.SearchStrategy[Any] = st.one_of(NEAR_VALID, TEXT, PLAUSIBLE, JSON)


def objects_with(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are mostly the given field names, with arbitrary values."""
    keys = st.one_of(st.sampled_from(fields), TEXT)
    return st.dictionaries(keys, FIELD_VALUES, max_size=len(fields) + 2)
