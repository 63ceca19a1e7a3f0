"""The Terraform built-in functions the local cloud's evaluator (localcloud.hcl) knows.

Values are plain Python: strings, numbers, bools, None, lists (Terraform's lists and tuples),
dicts (maps and objects) and frozensets (sets, from `toset`). Terraform iterates a set of
strings in lexical order, so everything here that turns a set into a sequence sorts it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any


class HclEvalError(ValueError):
    """An expression Terraform would refuse too: a `for` over a number, a non-bool `if`
    condition, an unknown variable, a duplicate key, an element a set cannot hold."""


def tostring(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise HclEvalError(f"tostring() of a {type_name(value)}: only strings, numbers and bools")


def set_order(values: Iterable[Any]) -> list[Any]:
    """A set's elements in Terraform's order: strings lexically, numbers by value."""
    return sorted(values, key=lambda v: (type(v).__name__, v))


def toset(values: Any) -> frozenset[Any]:
    if isinstance(values, dict) or not isinstance(values, list | frozenset):
        raise HclEvalError(f"toset() needs a list or set, got {type_name(values)}")
    try:
        return frozenset(values)
    except TypeError as e:
        raise HclEvalError("toset(): a set here holds strings, numbers or bools only") from e


def type_name(value: Any) -> str:
    """Terraform's name for a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, frozenset):
        return "set"
    if isinstance(value, list):
        return "list"
    return "map" if isinstance(value, dict) else type(value).__name__


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return set_order(value)
    raise TypeError(f"cannot encode {type_name(value)}")


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for m in maps:
        if m is not None:
            merged.update(m)
    return merged


def _tonumber(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _sequence(value: Any) -> list[Any]:
    return set_order(value) if isinstance(value, frozenset) else list(value)


def _map(value: Any, function: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HclEvalError(f"{function}() needs a map, got {type_name(value)}")
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": tostring,
    "tonumber": _tonumber,
    "tobool": lambda v: v if isinstance(v, bool) else str(v) == "true",
    "toset": toset,
    "tolist": _sequence,
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":"), default=_plain),
    "jsondecode": json.loads,
    "merge": _merge,
    "keys": lambda m: sorted(_map(m, "keys")),
    "values": lambda m: [_map(m, "values")[k] for k in sorted(m)],
    "contains": lambda coll, v: v in coll,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "concat": lambda *lists: [x for item in lists for x in _sequence(item)],
    "length": len,
    "join": lambda sep, items: str(sep).join(tostring(i) for i in _sequence(items)),
    "lookup": lambda m, k, *default: m[k] if k in m or not default else default[0],
    "coalesce": lambda *xs: next(x for x in xs if x not in (None, "")),
    "max": max,
    "min": min,
    "format": lambda fmt, *args: re.sub(r"%[sd]", "{}", str(fmt)).format(*args),
    "replace": lambda s, old, new: str(s).replace(old, new),
}
