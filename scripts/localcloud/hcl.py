"""A small evaluator for the Terraform expressions the local cloud needs to read.

python-hcl2 (8.x) parses `.tf` files into dicts but leaves every value in its source form:
a quoted string keeps its quotes (`'"rest"'`), an expression is wrapped in `${...}`
(`'${var.stage_name}'`), a string template keeps its interpolations
(`'"${local.name}-users"'`), and a bare keyword stays bare (`'number'`). This module turns
those back into values: literals, templates, references (`var.`, `local.`, resource
attributes through a resolver), the operators, conditionals and the handful of functions
Terraform code in this repository uses. Anything it cannot know without a real plan (an API's
id, a data source) raises `Unresolved`, and the caller decides what to do with that value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class Unresolved(Exception):
    """The value depends on something only `terraform apply` knows (an id, a data source)."""


class HclSyntaxError(ValueError):
    """An expression this evaluator cannot parse."""


# -- source-form helpers ------------------------------------------------------------------------


def is_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"'


def unquote_key(key: str) -> str:
    """Map keys and block labels come quoted (`'"$connect"'`) or bare (`createRoom`)."""
    return decode_literal(key[1:-1]) if is_quoted(key) else key


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def decode_literal(text: str) -> str:
    """Resolve HCL escapes in a string with no interpolations."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                digits = text[i + 2 : i + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


# -- tokenizer ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|[{}\[\]().,=:?!<>+\-*/%])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, ident, op, string, end
    value: Any


def _scan_string(text: str, start: int) -> tuple[list[Any], int]:
    """Scan a quoted template starting after its opening quote; return its parts and the index
    after the closing quote. Parts are literal strings or parsed expression nodes."""
    parts: list[Any] = []
    buf: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            if buf:
                parts.append(decode_literal("".join(buf)))
            return parts, i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            buf.append(text[i + 1 : i + 3])
            i += 3
            continue
        if text.startswith("%{", i):
            raise HclSyntaxError("template directives (%{...}) are not supported")
        if text.startswith("${", i):
            if buf:
                parts.append(decode_literal("".join(buf)))
                buf = []
            end = _matching_brace(text, i + 1)
            parts.append(Parser(text[i + 2 : end]).parse())
            i = end + 1
            continue
        buf.append(ch)
        i += 1
    raise HclSyntaxError("unterminated string")


def _matching_brace(text: str, open_index: int) -> int:
    """Index of the `}` that closes the `{` at open_index, skipping nested strings."""
    depth = 0
    i = open_index
    while i < len(text):
        ch = text[i]
        if ch == '"':
            _, i = _scan_string(text, i + 1)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise HclSyntaxError("unbalanced braces")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i] == '"':
            parts, i = _scan_string(text, i + 1)
            tokens.append(Token("string", parts))
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise HclSyntaxError(f"unexpected character {text[i]!r} in {text!r}")
        i = match.end()
        kind = match.lastgroup or ""
        if kind == "ws":
            continue
        value: Any = match.group()
        if kind == "number":
            value = float(value) if any(c in value for c in ".eE") else int(value)
        tokens.append(Token(kind, value))
    tokens.append(Token("end", None))
    return tokens


# -- parser: expression text -> nested tuples ---------------------------------------------------

_BINARY = [
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("+", "-"),
    ("*", "/", "%"),
]


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def parse(self) -> Any:
        node = self.expression()
        if self.peek().kind != "end":
            raise HclSyntaxError(f"unexpected {self.peek().value!r} in {self.text!r}")
        return node

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, op: str) -> bool:
        token = self.peek()
        if token.kind == "op" and token.value == op:
            self.pos += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise HclSyntaxError(f"expected {op!r} in {self.text!r}")

    def expression(self) -> Any:
        condition = self.binary(0)
        if self.accept("?"):
            then = self.expression()
            self.expect(":")
            otherwise = self.expression()
            return ("cond", condition, then, otherwise)
        return condition

    def binary(self, level: int) -> Any:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().value in _BINARY[level]:
            op = self.take().value
            left = ("binop", op, left, self.binary(level + 1))
        return left

    def unary(self) -> Any:
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while True:
            if self.accept("."):
                token = self.take()
                if token.kind not in ("ident", "number"):
                    raise HclSyntaxError(f"bad attribute access in {self.text!r}")
                node = ("attr", node, str(token.value))
            elif self.accept("["):
                if self.accept("*"):
                    raise HclSyntaxError("splat expressions are not supported")
                index = self.expression()
                self.expect("]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> Any:
        token = self.take()
        if token.kind == "number":
            return ("lit", token.value)
        if token.kind == "string":
            return ("template", token.value)
        if token.kind == "ident":
            if token.value in ("true", "false"):
                return ("lit", token.value == "true")
            if token.value == "null":
                return ("lit", None)
            if self.accept("("):
                return ("call", token.value, self.arguments())
            return ("ref", token.value)
        if token.kind == "op" and token.value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "op" and token.value == "[":
            return self.tuple_()
        if token.kind == "op" and token.value == "{":
            return self.object_()
        raise HclSyntaxError(f"unexpected {token.value!r} in {self.text!r}")

    def arguments(self) -> list[Any]:
        args: list[Any] = []
        while not self.accept(")"):
            args.append(self.expression())
            self.accept("...")
            if not self.accept(","):
                self.expect(")")
                break
        return args

    def tuple_(self) -> Any:
        if self.peek().kind == "ident" and self.peek().value == "for":
            raise HclSyntaxError("for expressions are not supported")
        items: list[Any] = []
        while not self.accept("]"):
            items.append(self.expression())
            if not self.accept(","):
                self.expect("]")
                break
        return ("tuple", items)

    def object_(self) -> Any:
        if self.peek().kind == "ident" and self.peek().value == "for":
            raise HclSyntaxError("for expressions are not supported")
        pairs: list[tuple[Any, Any]] = []
        while not self.accept("}"):
            key_token = self.peek()
            if key_token.kind == "ident" and self.peek(1).value in ("=", ":"):
                self.take()
                key: Any = ("lit", key_token.value)
            else:
                key = self.expression()
            if not (self.accept("=") or self.accept(":")):
                raise HclSyntaxError(f"expected '=' in object in {self.text!r}")
            pairs.append((key, self.expression()))
            self.accept(",")
        return ("object", pairs)


# -- evaluation ---------------------------------------------------------------------------------

Resolver = Callable[[list[str]], Any]


def _tostring(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise Unresolved(f"tostring() of {type(value).__name__}")


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for m in maps:
        if m is not None:
            merged.update(m)
    return merged


def _tonumber(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": _tostring,
    "tonumber": _tonumber,
    "tobool": lambda v: v if isinstance(v, bool) else str(v) == "true",
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "jsondecode": json.loads,
    "merge": _merge,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "concat": lambda *lists: [x for item in lists for x in item],
    "length": len,
    "join": lambda sep, items: str(sep).join(_tostring(i) for i in items),
    "lookup": lambda m, k, *default: m[k] if k in m or not default else default[0],
    "coalesce": lambda *xs: next(x for x in xs if x not in (None, "")),
    "max": max,
    "min": min,
    "format": lambda fmt, *args: re.sub(r"%[sd]", "{}", str(fmt)).format(*args),
    "replace": lambda s, old, new: str(s).replace(old, new),
}


class Evaluator:
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve

    def value(self, raw: Any) -> Any:
        """Evaluate one value as python-hcl2 serialized it."""
        if isinstance(raw, dict):
            return {unquote_key(k): self.value(v) for k, v in raw.items() if not k.startswith("__")}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if not isinstance(raw, str):
            return raw
        if is_quoted(raw):
            parts, end = _scan_string(raw, 1)
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
            return "".join(p if isinstance(p, str) else _tostring(self.node(p)) for p in parts)
        if kind == "cond":
            return self.node(node[2]) if self.node(node[1]) else self.node(node[3])
        if kind == "binop":
            return self.binop(node[1], node[2], node[3])
        if kind == "not":
            return not self.node(node[1])
        if kind == "neg":
            return -self.node(node[1])
        if kind == "tuple":
            return [self.node(item) for item in node[1]]
        if kind == "object":
            return {_tostring(self.node(k)): self.node(v) for k, v in node[1]}
        if kind == "call":
            return self.call(node[1], node[2])
        if kind in ("ref", "attr", "index"):
            return self.reference(node)
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
                except (Unresolved, KeyError, IndexError, TypeError):
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
        path = [node[1]]
        rest: list[Any] = []
        for link in reversed(chain):
            if link[0] == "attr" and not rest:
                path.append(link[2])
            else:
                rest.append(link)
        value = self.resolve(path)
        for link in rest:
            key = link[2] if link[0] == "attr" else self.node(link[2])
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError) as e:
                raise Unresolved(f"{'.'.join(path)}: no element {key!r}") from e
        return value


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
