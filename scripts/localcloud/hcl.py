"""A small evaluator for the Terraform expressions the local cloud needs to read.

python-hcl2 (8.x) parses `.tf` files into dicts but leaves every value in its source form:
a quoted string keeps its quotes (`'"rest"'`), an expression is wrapped in `${...}`
(`'${var.stage_name}'`), a string template keeps its interpolations
(`'"${local.name}-users"'`), and a bare keyword stays bare (`'number'`). This module turns
those back into values: literals, templates, references (`var.`, `local.`, resource
attributes through a resolver), the operators, conditionals, `for` expressions, splats and
the Terraform functions in localcloud.hcl_functions. Parsing is localcloud.hcl_syntax.

Anything it cannot know without a real plan (an API's id, a data source) raises `Unresolved`,
and the caller decides what to do with that value. An expression Terraform would refuse (a
`for` over a number, a non-bool `if`, an unknown variable) raises `HclEvalError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from localcloud.hcl_functions import FUNCTIONS, HclEvalError, set_order, tostring, type_name
from localcloud.hcl_syntax import HclSyntaxError, Parser, is_quoted, scan_string, unquote_key

__all__ = [
    "Evaluator",
    "HclEvalError",
    "HclSyntaxError",
    "Unresolved",
    "evaluate",
    "evaluate_literal",
    "located",
    "unquote_key",
]


class Unresolved(Exception):
    """The value depends on something only `terraform apply` knows (an id, a data source)."""


def located(error: Exception, where: str) -> Exception:
    """The same kind of error with `where` (file:line and what) in front of its message; an
    error that already says where it happened is returned as it is."""
    if getattr(error, "where", None):
        return error
    copy = type(error)(f"{where}: {error}")
    copy.where = where  # type: ignore[attr-defined]
    return copy


# -- evaluation ---------------------------------------------------------------------------------

Resolver = Callable[[list[str]], Any]


def _element(value: Any, key: Any, where: str, missing: type[Exception]) -> Any:
    """value[key] or value.key as Terraform looks it up; `missing` is raised when there is no
    such element (Unresolved for what a resolver returned, HclEvalError for a known value)."""
    if isinstance(value, dict) and isinstance(key, int | float) and not isinstance(key, bool):
        key = tostring(key)  # a number indexes a map by its string form
    elif isinstance(value, list) and isinstance(key, str | float) and not isinstance(key, bool):
        numeric = key.isdigit() if isinstance(key, str) else key.is_integer()
        key = int(key) if numeric else key
    usable = isinstance(key, str) if isinstance(value, dict) else type(key) is int
    if isinstance(value, dict | list) and usable and (isinstance(value, dict) or key >= 0):
        try:
            return value[key]
        except (KeyError, IndexError):
            pass
    raise missing(f"{where}: no element {key!r} in a {type_name(value)}")


def _pairs(collection: Any) -> list[tuple[Any, Any]]:
    """What a for expression iterates: (key, value) pairs in Terraform's order."""
    if isinstance(collection, dict):  # a map or object: its keys in lexical order
        return [(k, collection[k]) for k in sorted(collection)]
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, frozenset):  # a set: each element is its own key
        return [(v, v) for v in set_order(collection)]
    raise HclEvalError(
        f"a for expression cannot iterate over a {type_name(collection)} ({collection!r}); "
        "it needs a list, set, map or object"
    )


class Evaluator:
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.scope: dict[str, Any] = {}  # the variables of the enclosing for expressions

    def value(self, raw: Any) -> Any:
        """Evaluate one value as python-hcl2 serialized it."""
        if isinstance(raw, dict):
            return {unquote_key(k): self.value(v) for k, v in raw.items() if not k.startswith("__")}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if not isinstance(raw, str):
            return raw
        if is_quoted(raw):
            parts, end = scan_string(raw, 1)
            if end != len(raw):
                raise HclSyntaxError(f"unexpected text after string in {raw!r}")
            return self.node(("template", parts))
        text = raw[2:-1] if raw.startswith("${") and raw.endswith("}") else raw
        return self.node(Parser(text).parse())

    def node(self, node: Any) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "template":
            parts = node[1]
            if len(parts) == 1 and not isinstance(parts[0], str):
                return self.node(parts[0])
            return "".join(p if isinstance(p, str) else tostring(self.node(p)) for p in parts)
        if kind == "cond":
            return self.node(node[2]) if self.node(node[1]) else self.node(node[3])
        if kind == "not":
            return not self.node(node[1])
        if kind == "neg":
            return -self.node(node[1])
        if kind == "tuple":
            return [self.node(item) for item in node[1]]
        if kind == "object":
            return {tostring(self.node(k)): self.node(v) for k, v in node[1]}
        if kind in ("ref", "attr", "index"):
            return self.reference(node)
        handlers: dict[str, Callable[..., Any]] = {
            "binop": self.binop,
            "call": self.call,
            "for": self.for_,
            "splat": self.splat,
        }
        if kind in handlers:
            return handlers[kind](*node[1:])
        raise HclSyntaxError(f"unknown node {kind}")

    def binop(self, op: str, left: Any, right: Any) -> Any:
        if op == "&&":
            return bool(self.node(left)) and bool(self.node(right))
        if op == "||":
            return bool(self.node(left)) or bool(self.node(right))
        a, b = self.node(left), self.node(right)
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda x, y: x == y,
            "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            ">": lambda x, y: x > y,
            "<=": lambda x, y: x <= y,
            ">=": lambda x, y: x >= y,
            "+": lambda x, y: x + y,
            "-": lambda x, y: x - y,
            "*": lambda x, y: x * y,
            "/": lambda x, y: x / y,
            "%": lambda x, y: x % y,
        }
        return operations[op](a, b)

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "try":
            for arg in args:
                try:
                    return self.node(arg)
                except (Unresolved, HclEvalError, KeyError, IndexError, TypeError):
                    continue
            raise Unresolved("try(): no argument could be evaluated")
        function = FUNCTIONS.get(name)
        if function is None:
            raise Unresolved(f"function {name}() is not known to the local cloud")
        return function(*[self.node(a) for a in args])

    def reference(self, node: Any) -> Any:
        # Collect the longest static path (a.b.c) and apply any dynamic indexes after it.
        chain: list[Any] = []
        while node[0] in ("attr", "index"):
            chain.append(node)
            node = node[1]
        if node[0] != "ref":  # (expr).a, f(x)[0], a.*.b[0]: every step is on a known value
            value = self.node(node)
            return self.steps(value, list(reversed(chain)), ["(expression)"], HclEvalError)
        path = [node[1]]
        rest: list[Any] = []
        for link in reversed(chain):
            if link[0] == "attr" and not rest:
                path.append(link[2])
            else:
                rest.append(link)
        if path[0] in self.scope:
            value = self.scope[path[0]]
            links = [("attr", None, name) for name in path[1:]] + rest
            return self.steps(value, links, path[:1], HclEvalError)
        if len(path) == 1:
            defined = f" (the for expression defines {', '.join(sorted(self.scope))})"
            raise HclEvalError(f"unknown variable {path[0]!r}{defined if self.scope else ''}")
        return self.steps(self.resolve(path), rest, path, Unresolved)

    def steps(self, value: Any, links: list[Any], path: list[str], missing: type[Exception]) -> Any:
        for link in links:
            key = link[2] if link[0] == "attr" else self.node(link[2])
            value = _element(value, key, ".".join(path), missing)
            path = [*path, str(key)]
        return value

    def splat(self, source: Any, steps: list[Any]) -> list[Any]:
        """`coll[*].a` / `coll.*.a`: the steps applied to each element. Per the HCL spec null
        splats to [] and any other value that is not a list or set to a one-element list."""
        value = self.node(source)
        if value is None:
            return []
        items = set_order(value) if isinstance(value, frozenset) else value
        links = [("attr", None, s[1]) if s[0] == "attr" else ("index", None, s[1]) for s in steps]
        return [
            self.steps(item, links, ["(splat)"], HclEvalError)
            for item in (items if isinstance(items, list) else [items])
        ]

    def for_(
        self,
        names: list[str],
        collection_node: Any,
        key_node: Any,
        value_node: Any,
        group: bool,
        condition_node: Any,
    ) -> Any:
        pairs = _pairs(self.node(collection_node))
        items: list[Any] = []
        objects: dict[str, Any] = {}
        outer = self.scope
        try:
            for key, value in pairs:
                self.scope = {**outer, names[-1]: value}
                if len(names) == 2:
                    self.scope[names[0]] = key
                if condition_node is not None and not self.condition(condition_node):
                    continue
                if key_node is None:
                    items.append(self.node(value_node))
                    continue
                name = self.node(key_node)
                if name is None or not isinstance(name, str | int | float):
                    raise HclEvalError(f"a for expression's key must be a string, got {name!r}")
                name = tostring(name)
                if group:
                    objects.setdefault(name, []).append(self.node(value_node))
                elif name in objects:
                    raise HclEvalError(
                        f"duplicate key {name!r} in a for expression (write ... after the "
                        "value to group the values of equal keys into lists)"
                    )
                else:
                    objects[name] = self.node(value_node)
        finally:
            self.scope = outer
        return items if key_node is None else objects

    def condition(self, node: Any) -> bool:
        keep = self.node(node)
        if not isinstance(keep, bool):
            raise HclEvalError(
                "the if condition of a for expression must be true or false, "
                f"got a {type_name(keep)} ({keep!r})"
            )
        return keep


def evaluate(raw: Any, resolve: Resolver) -> Any:
    return Evaluator(resolve).value(raw)


def evaluate_literal(raw: Any) -> Any:
    """A value that may not reference anything (a variable default, a tfvars entry)."""

    def no_references(path: list[str]) -> Any:
        raise Unresolved(f"{'.'.join(path)} is not allowed here")

    return evaluate(raw, no_references)


def describe(path: list[str] | tuple[str, ...]) -> str:
    return ".".join(path)


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a map, got {type(value).__name__}")
    return value
