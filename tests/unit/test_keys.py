"""Key strings are written in chat.keys and nowhere else: the shipped package, the local cloud
and the benchmarks build and parse keys through it (tests may spell keys out, to pin them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chat import keys

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("lambda/chat", "scripts/localcloud", "bench")
KEYS_MODULE = ROOT / "lambda/chat/keys.py"
PREFIXES = ("USER#", "TICKET#", "ROOM#", "MEMBER#", "REQUEST#", "CONN#")
KEY_STRING = re.compile("|".join(re.escape(p) for p in PREFIXES))


def inline_keys(source: str) -> list[tuple[int, str]]:
    """(line, string) for every string literal or f-string part that spells a key prefix or the
    META sort key. Docstrings may describe the layout and are not counted."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (KEY_STRING.search(node.value) or node.value == keys.META)
        ):
            found.append((node.lineno, node.value))
    return sorted(found)


def test_the_scan_finds_inline_keys() -> None:
    source = '''
"""ROOM#<id>/META: a docstring may describe the layout."""
pk = f"ROOM#{room_id}"
sk = "META"
prefix = "CONN#"
fine = {"pk": keys.room_pk(room_id), "sk": keys.META}
'''
    assert inline_keys(source) == [(3, "ROOM#"), (4, "META"), (5, "CONN#")]


def _sources() -> list[Path]:
    return [p for d in SCANNED for p in sorted((ROOT / d).rglob("*.py")) if p != KEYS_MODULE]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_key_string_is_written_outside_chat_keys(path: Path) -> None:
    found = inline_keys(path.read_text(encoding="utf-8"))
    assert found == [], f"{path.relative_to(ROOT)} builds keys inline; use chat.keys: {found}"


def test_the_keys_module_spells_every_prefix_once() -> None:
    text = KEYS_MODULE.read_text(encoding="utf-8")
    code = [value for _, value in inline_keys(text)]
    assert sorted(code) == sorted([*PREFIXES, "META"])


def test_no_prefix_starts_another() -> None:
    for a in PREFIXES:
        for b in PREFIXES:
            assert a == b or not b.startswith(a)


def test_the_key_formats_of_the_deployed_tables() -> None:
    assert keys.user("Alice") == {"pk": "USER#alice"}
    assert keys.ticket("ab12") == {"pk": "TICKET#ab12"}
    assert keys.room("r1") == {"pk": "ROOM#r1", "sk": "META"}
    assert keys.member("r1", "Bob") == {"pk": "ROOM#r1", "sk": "MEMBER#bob"}
    assert keys.request("r1", "Bob") == {"pk": "ROOM#r1", "sk": "REQUEST#bob"}
    assert keys.connection("c1") == {"pk": "CONN#c1", "sk": "META"}
    assert keys.room_connection("r1", "c1") == {"pk": "ROOM#r1", "sk": "CONN#c1"}
    assert keys.user_connection("Bob", "c1") == {"pk": "USER#bob", "sk": "CONN#c1"}


def test_a_key_of_another_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'USER#bob' is not a ROOM#<...> key"):
        keys.parse_room_pk("USER#bob")
