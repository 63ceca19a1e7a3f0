"""The local cloud's HCL evaluator (scripts/localcloud/hcl.py): `for` expressions and splats
as Terraform evaluates them, and clear errors for what Terraform refuses too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.hcl import HclEvalError, HclSyntaxError, Unresolved, evaluate

ROUTES = {
    "$connect": {"function": "connections", "reply": False},
    "ping": {"function": "rooms", "reply": True},
    "createRoom": {"function": "rooms", "reply": True},
    "sendMessage": {"function": "send_message", "reply": False},
}


def resolver(path: list[str]) -> Any:
    values: dict[tuple[str, ...], Any] = {
        ("local", "routes"): ROUTES,
        ("var", "n"): 3,
        ("var", "names"): ["b", "a", "b"],
    }
    if tuple(path) in values:
        return values[tuple(path)]
    raise Unresolved(".".join(path))


def ev(expression: str) -> Any:
    return evaluate("${" + expression + "}", resolver)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[for x in [1, 2, 3] : x * 2]", [2, 4, 6]),
        ("[for x in [1, 2, 3] : x if x > 1]", [2, 3]),
        ('[for i, x in ["p", "q"] : "${i}=${x}"]', ["0=p", "1=q"]),
        # A map is iterated in lexical order of its keys, as Terraform does.
        ("[for k, v in {b = 1, a = 2} : k]", ["a", "b"]),
        ("[for v in {b = 1, a = 2} : v]", [2, 1]),
        ("{for k, v in {b = 1, a = 2} : v => k}", {"2": "a", "1": "b"}),
        ("{for k, v in {b = 1, a = 2, c = 1} : v => k...}", {"2": ["a"], "1": ["b", "c"]}),
        # A set: each element is its own key, strings in lexical order.
        ("[for k, v in toset(var.names) : [k, v]]", [["a", "a"], ["b", "b"]]),
        ("toset([for x in var.names : upper(x)])", frozenset({"A", "B"})),
        # values() is in key order too: $connect, createRoom, ping, sendMessage.
        (
            "[for r in values(local.routes) : r.function]",
            ["connections", "rooms", "rooms", "send_message"],
        ),
        (
            "{for k, r in local.routes : k => r.function if r.reply}",
            {"createRoom": "rooms", "ping": "rooms"},
        ),
        ("[for x in [[1, 2], [3]] : [for y in x : y + var.n]]", [[4, 5], [6]]),
        ("[for x in [] : x]", []),
        ('{for x in ["a"] : x => { for y in [1] : y => x }}', {"a": {"1": "a"}}),
        ("[{a = 1}, {a = 2}][*].a", [1, 2]),
        ("[{a = {b = 1}}, {a = {b = 2}}][*].a.b", [1, 2]),
        ("[{a = {b = 1}}, {a = {b = 2}}].*.a.b", [1, 2]),
        ("[[1, 2], [3]][*][0]", [1, 3]),
        ("[{a = 5}, {a = 6}].*.a[1]", 6),  # the legacy splat stops before an index
        ("null[*].a", []),  # per the HCL spec: null splats to an empty list
        ("{a = 1}[*].a", [1]),  # and any other single value to a one-element list
        ("toset(var.names)[*]", ["a", "b"]),
        ("length([for x in local.routes : x])", 4),
        ('jsonencode(toset(["b", "a"]))', '["a","b"]'),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ('contains(toset(["a"]), "a")', True),
    ],
)
def test_for_expressions_and_splats_evaluate_as_in_terraform(
    expression: str, expected: object
) -> None:
    assert ev(expression) == expected


def test_a_for_reads_references_and_python_hcl2_source_form() -> None:
    raw = "${{for key, route in local.routes : key => route if route.reply}}"
    assert evaluate(raw, resolver) == {k: v for k, v in ROUTES.items() if v["reply"]}
    assert evaluate('"${join(",", [for x in var.names : x])}"', resolver) == "b,a,b"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[for x in 3 : x]", r"cannot iterate over a number \(3\)"),
        ('[for x in "abc" : x]', "cannot iterate over a string"),
        ("[for x in null : x]", "cannot iterate over a null"),
        ('[for x in [1] : x if "yes"]', "if condition .* must be true or false, got a string"),
        ("[for x in [1] : x if 1]", "got a number"),
        ("[for x in [1] : y]", r"unknown variable 'y' \(the for expression defines x\)"),
        ("[for k, v in {a = 1} : z + v]", "unknown variable 'z' .*defines k, v"),
        ("{for x in [1, 1] : x => x}", "duplicate key '1'.*write \\.\\.\\."),
        ("{for x in [null] : x => 1}", "key must be a string"),
        ("[for x in [{a = 1}] : x.b]", "no element 'b'"),
        ("[{a = 1}][*].b", "no element 'b'"),
        ("toset([[1]])", "strings, numbers or bools"),
    ],
)
def test_what_terraform_refuses_is_a_clear_error(expression: str, message: str) -> None:
    with pytest.raises(HclEvalError, match=message):
        ev(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "[for x [1] : x]",
        "[for x in [1] x]",
        "{for k, v in {} : k}",
        "[for 1 in [1] : 1]",
        "a[*].b[*].c",
    ],
)
def test_malformed_for_and_splat_are_syntax_errors(expression: str) -> None:
    with pytest.raises(HclSyntaxError):
        ev(expression)


def test_a_for_over_what_only_apply_knows_stays_unresolved() -> None:
    with pytest.raises(Unresolved):
        ev("[for x in aws_lambda_function.function : x.arn]")


def test_the_for_variables_do_not_leak_out_of_the_expression() -> None:
    with pytest.raises(HclEvalError, match="unknown variable 'x'"):
        ev("concat([for x in [1] : x], [x])")


def test_an_object_key_named_for_is_still_an_object() -> None:
    assert ev("{for = 1}") == {"for": 1}


scalars = st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.booleans())


@given(st.lists(scalars, max_size=6))
def test_an_identity_for_is_the_list_and_a_splat_maps_like_a_for(items: list[Any]) -> None:
    literal = json.dumps(items)
    assert ev(f"[for x in {literal} : x]") == items
    objects = json.dumps([{"v": i} for i in items]).replace(":", " =")
    assert ev(f"{objects}[*].v") == ev(f"[for o in {objects} : o.v]") == items


@given(st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), st.integers(0, 3), max_size=6))
def test_a_map_for_visits_keys_in_lexical_order_and_filters(mapping: dict[str, int]) -> None:
    literal = "{" + ", ".join(f'"{k}" = {v}' for k, v in mapping.items()) + "}"
    assert ev(f"[for k, v in {literal} : k]") == sorted(mapping)
    kept = ev(f"{{for k, v in {literal} : k => v if v > 1}}")
    assert kept == {k: v for k, v in mapping.items() if v > 1}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('{"1" = "one"}[1]', "one"),  # a number indexes a map by its string form
        ('["a", "b"]["1"]', "b"),  # and a numeric string indexes a list
        ('["a", "b"][1.0]', "b"),
        ('[for x in [["a", "b"]] : x[1]]', ["b"]),
    ],
)
def test_indexes_convert_as_in_terraform(expression: str, expected: object) -> None:
    assert ev(expression) == expected


@pytest.mark.parametrize("expression", ["[1, 2][true]", '["a"][-1]', '["a"]["x"]', "{a = 1}[[1]]"])
def test_an_index_terraform_refuses_is_an_error(expression: str) -> None:
    with pytest.raises(HclEvalError, match="no element"):
        ev(f"[for _ in [1] : {expression}]")
