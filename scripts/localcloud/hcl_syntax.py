"""HCL expression text -> nodes: the tokenizer and parser behind localcloud.hcl.

Nodes are nested tuples: ("lit", v), ("template", parts), ("ref", name), ("attr", node, name),
("index", node, node), ("splat", node, steps), ("call", name, args), ("binop", op, a, b),
("not", node), ("neg", node), ("cond", c, a, b), ("tuple", items), ("object", pairs) and
("for", names, collection, key, value, group, condition) (key is None for a list `for`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


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


def scan_string(text: str, start: int) -> tuple[list[Any], int]:
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
            _, i = scan_string(text, i + 1)
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
            parts, i = scan_string(text, i + 1)
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

    def is_op(self, op: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "op" and token.value == op

    def is_keyword(self, word: str) -> bool:
        return self.peek().kind == "ident" and self.peek().value == word

    def attribute_name(self) -> str:
        token = self.take()
        if token.kind not in ("ident", "number"):
            raise HclSyntaxError(f"bad attribute access in {self.text!r}")
        return str(token.value)

    def postfix(self, node: Any) -> Any:
        while True:
            if self.accept("."):
                if self.accept("*"):  # attribute-only splat: a.*.b takes the .b that follow
                    node = ("splat", node, self.splat_steps(attributes_only=True))
                    continue
                node = ("attr", node, self.attribute_name())
            elif self.accept("["):
                if self.accept("*"):  # full splat: a[*].b[0] takes every step that follows
                    self.expect("]")
                    return ("splat", node, self.splat_steps(attributes_only=False))
                index = self.expression()
                self.expect("]")
                node = ("index", node, index)
            else:
                return node

    def splat_steps(self, attributes_only: bool) -> list[Any]:
        """The traversals a splat applies to each element: ("attr", name) or ("index", node)."""
        steps: list[Any] = []
        while True:
            if self.is_op(".") and not self.is_op("*", 1):
                self.take()
                steps.append(("attr", self.attribute_name()))
            elif not attributes_only and self.is_op("["):
                self.take()
                if self.is_op("*"):
                    raise HclSyntaxError(f"a splat inside a splat is not supported: {self.text!r}")
                steps.append(("index", self.expression()))
                self.expect("]")
            elif self.is_op(".") or (not attributes_only and self.is_op("[")):
                raise HclSyntaxError(f"a splat inside a splat is not supported: {self.text!r}")
            else:
                return steps

    def for_(self, closer: str) -> Any:
        """`[for k, v in coll : value if cond]` or `{for k, v in coll : key => value... if cond}`,
        after the opening bracket; the node is ("for", names, coll, key, value, group, cond)."""
        self.take()  # for
        names = [self.identifier()]
        if self.accept(","):
            names.append(self.identifier())
        if not self.is_keyword("in"):
            raise HclSyntaxError(f"expected 'in' after the for variables in {self.text!r}")
        self.take()
        collection = self.expression()
        self.expect(":")
        key, value = None, self.expression()
        if closer == "}":
            self.expect("=>")
            key, value = value, self.expression()
        group = closer == "}" and self.accept("...")
        condition = None
        if self.is_keyword("if"):
            self.take()
            condition = self.expression()
        self.expect(closer)
        return ("for", names, collection, key, value, group, condition)

    def identifier(self) -> str:
        token = self.take()
        if token.kind != "ident":
            raise HclSyntaxError(f"expected a variable name in {self.text!r}")
        return str(token.value)

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
        if self.is_keyword("for") and self.peek(1).kind == "ident":
            return self.for_("]")
        items: list[Any] = []
        while not self.accept("]"):
            items.append(self.expression())
            if not self.accept(","):
                self.expect("]")
                break
        return ("tuple", items)

    def object_(self) -> Any:
        if self.is_keyword("for") and self.peek(1).kind == "ident":
            return self.for_("}")
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
