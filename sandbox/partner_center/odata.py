"""The small OData subset Partner Center's referral list understands: `$filter` and `$orderby`.

Grammar of `$filter` (keywords are case-sensitive, as in OData):

    filter     := and_expr EOF
    and_expr   := primary ("and" primary)*
    primary    := "(" and_expr ")" | comparison
    comparison := path "/any(" NAME ":" and_expr ")"   -- lambda over a list, e.g. team/any(t:t/email eq 'x')
                | path ("eq" | "gt") literal
    path       := NAME ("/" NAME)*
    literal    := 'string' | GUID | DATETIME | NUMBER | true | false | null

Documented real-data quirks are accepted: unquoted GUIDs (`engagementId eq 1352e03d-…`) and datetimes with or
without quotes and with 7 fractional digits. `gt` is only allowed on `createdDateTime` / `updatedDateTime` (it is
undocumented; the simulator supports it so the poller can filter incrementally). Anything else, including `or`,
`ne` and functions, raises `ODataError`, which the app turns into a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DATE_FIELDS = frozenset({"createdDateTime", "updatedDateTime"})
ORDERABLE_FIELDS = ("createdDateTime", "updatedDateTime")


class ODataError(ValueError):
    """The query option cannot be understood; `option` names which one."""

    def __init__(self, message: str, option: str = "$filter") -> None:
        super().__init__(message)
        self.option = option


# ---------------------------------------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![\w-])
  | (?P<number>-?\d+(?:\.\d+)?)(?![\w-])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()/:,])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string | datetime | guid | number | name | punct | eof
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split a `$filter` into tokens; an unknown character is an error with its position."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ODataError(f"Syntax error at position {pos} in $filter: unexpected {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


# ---------------------------------------------------------------------------------------------- AST

Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # string | guid | datetime | number | bool | null
    ticks: int | None = None  # datetimes: 100-ns ticks, the precision Partner Center timestamps carry


@dataclass(frozen=True)
class Comparison:
    path: tuple[str, ...]
    op: str  # eq | gt
    literal: Literal


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    path: tuple[str, ...]
    variable: str
    body: Node


Node = Comparison | And | Any_


# ---------------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.lambda_vars: list[str] = []

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.current
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text is not None else kind
            found = repr(token.text) if token.kind != "eof" else "end of filter"
            raise ODataError(f"Syntax error at position {token.pos} in $filter: expected {wanted}, found {found}")
        return self.advance()

    def parse(self) -> Node:
        node = self.and_expr()
        if self.current.kind != "eof":
            token = self.current
            if token.kind == "name" and token.text in ("or", "ne", "lt", "ge", "le", "not"):
                raise ODataError(f"Operator '{token.text}' is not supported in $filter")
            raise ODataError(f"Syntax error at position {token.pos} in $filter: unexpected {token.text!r}")
        return node

    def and_expr(self) -> Node:
        parts = [self.primary()]
        while self.current.kind == "name" and self.current.text == "and":
            self.advance()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def primary(self) -> Node:
        if self.current.kind == "punct" and self.current.text == "(":
            self.advance()
            node = self.and_expr()
            self.expect("punct", ")")
            return node
        return self.comparison()

    def path(self) -> tuple[str, ...]:
        parts = [self.expect("name").text]
        while self.current.kind == "punct" and self.current.text == "/":
            self.advance()
            name = self.expect("name")
            if name.text == "any" and self.current.kind == "punct" and self.current.text == "(":
                self.index -= 1  # leave `any` for the lambda rule
                break
            parts.append(name.text)
        return tuple(parts)

    def comparison(self) -> Node:
        start = self.current
        path = self.path()
        if self.current.kind == "name" and self.current.text == "any":
            return self.any_lambda(path)
        op = self.expect("name")
        if op.text not in ("eq", "gt"):
            raise ODataError(f"Operator '{op.text}' is not supported in $filter")
        literal = self.literal()
        if op.text == "gt":
            field = path[-1]
            if len(path) != 1 or field not in DATE_FIELDS or literal.kind != "datetime":
                raise ODataError(
                    f"'gt' is only supported on createdDateTime or updatedDateTime with a datetime value "
                    f"(position {start.pos})"
                )
        return Comparison(self._strip_lambda_var(path), op.text, literal)

    def _strip_lambda_var(self, path: tuple[str, ...]) -> tuple[str, ...]:
        if self.lambda_vars and path[0] == self.lambda_vars[-1]:
            return path[1:]
        return path

    def any_lambda(self, path: tuple[str, ...]) -> Node:
        self.expect("name", "any")
        self.expect("punct", "(")
        variable = self.expect("name").text
        self.expect("punct", ":")
        self.lambda_vars.append(variable)
        body = self.and_expr()
        self.lambda_vars.pop()
        self.expect("punct", ")")
        return Any_(self._strip_lambda_var(path), variable, body)

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            value = token.text[1:-1].replace("''", "'")
            if _looks_like_datetime(value):
                return _datetime_literal(value)
            if _GUID_FULL.fullmatch(value):  # ids compare case-insensitively, quoted or not
                return Literal(value.lower(), "guid")
            return Literal(value, "string")
        if token.kind == "datetime":
            return _datetime_literal(token.text)
        if token.kind == "guid":
            return Literal(token.text.lower(), "guid")
        if token.kind == "number":
            return Literal(float(token.text), "number")
        if token.kind == "name" and token.text in ("true", "false"):
            return Literal(token.text == "true", "bool")
        if token.kind == "name" and token.text == "null":
            return Literal(None, "null")
        found = repr(token.text) if token.kind != "eof" else "end of filter"
        raise ODataError(f"Syntax error at position {token.pos} in $filter: expected a value, found {found}")


_GUID_FULL = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DATETIME_FULL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")


def _looks_like_datetime(value: str) -> bool:
    return _DATETIME_FULL.fullmatch(value) is not None


def parse_datetime(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (any number of fractional digits); naive ones are taken as UTC."""
    text = value.strip()
    match = re.fullmatch(r"(.*?\d{2}:\d{2}:\d{2})\.(\d+)(.*)", text)
    if match:  # Python keeps microseconds: cut 7-digit fractions to 6
        text = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ODataError(f"Invalid datetime value {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_FRACTION = re.compile(r"(.*?\d{2}:\d{2}:\d{2})\.(\d+)(.*)")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_ticks(value: str) -> int:
    """100-ns ticks since 1970, keeping all 7 fractional digits (a datetime would drop the 7th)."""
    text, fraction = value.strip(), 0
    match = _FRACTION.fullmatch(text)
    if match:
        text = match.group(1) + match.group(3)
        fraction = int(match.group(2)[:7].ljust(7, "0"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ODataError(f"Invalid datetime value {value!r}") from exc
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return (parsed - _UNIX_EPOCH) // timedelta(seconds=1) * 10_000_000 + fraction


def _datetime_literal(text: str) -> Literal:
    return Literal(parse_datetime(text), "datetime", datetime_ticks(text))


def parse_filter(text: str) -> Node:
    """Parse a `$filter` value into an AST; raises ODataError on anything unsupported."""
    if not text.strip():
        raise ODataError("$filter is empty")
    return _Parser(text).parse()


def uses_gt(node: Node) -> bool:
    if isinstance(node, Comparison):
        return node.op == "gt"
    if isinstance(node, And):
        return any(uses_gt(part) for part in node.parts)
    return uses_gt(node.body)


# ---------------------------------------------------------------------------------------------- evaluation

_MISSING = object()


def resolve(document: Any, path: tuple[str, ...]) -> Any:
    """Follow a property path; keys match exactly, else case-insensitively (PascalCase consent keys)."""
    current = document
    for name in path:
        if not isinstance(current, Mapping):
            return _MISSING
        if name in current:
            current = current[name]
            continue
        lowered = name.lower()
        for key, value in current.items():
            if isinstance(key, str) and key.lower() == lowered:
                current = value
                break
        else:
            return _MISSING
    return current


def _as_ticks(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime_ticks(value)
    except ODataError:
        return None


def _compare(node: Comparison, document: Any) -> bool:
    value = resolve(document, node.path)
    if value is _MISSING:
        return False
    literal = node.literal
    if literal.kind == "datetime":
        ticks = _as_ticks(value)
        if ticks is None or literal.ticks is None:
            return False
        return ticks > literal.ticks if node.op == "gt" else ticks == literal.ticks
    if literal.kind == "guid":
        return isinstance(value, str) and value.lower() == literal.value
    if literal.kind == "string":
        return isinstance(value, str) and value == literal.value
    if literal.kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and value == literal.value
    if literal.kind == "bool":
        return value is literal.value
    return value is None


def evaluate(node: Node, document: Any) -> bool:
    """Does `document` satisfy the filter?"""
    if isinstance(node, Comparison):
        return _compare(node, document)
    if isinstance(node, And):
        return all(evaluate(part, document) for part in node.parts)
    items = resolve(document, node.path)
    if isinstance(items, Mapping):  # `team` sometimes arrives as a bare object
        items = [items]
    if not isinstance(items, list):
        return False
    return any(evaluate(node.body, item) for item in items)


def compile_filter(text: str | None) -> Predicate:
    """A predicate for the `$filter` text (None or absent means everything matches)."""
    if text is None:
        return lambda _doc: True
    node = parse_filter(text)
    return lambda doc: evaluate(node, doc)


# ---------------------------------------------------------------------------------------------- $orderby


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool


def parse_orderby(text: str | None) -> list[OrderBy]:
    """`createdDateTime desc, updatedDateTime` → keys; only the two datetime fields are orderable."""
    if text is None or not text.strip():
        return []
    keys: list[OrderBy] = []
    for clause in text.split(","):
        words = clause.split()
        if not words or len(words) > 2:
            raise ODataError(f"Invalid $orderby clause {clause.strip()!r}", "$orderby")
        field = words[0]
        direction = words[1].lower() if len(words) == 2 else "asc"
        if field not in ORDERABLE_FIELDS:
            raise ODataError(f"$orderby supports only {', '.join(ORDERABLE_FIELDS)}; got {field!r}", "$orderby")
        if direction not in ("asc", "desc"):
            raise ODataError(f"$orderby direction must be asc or desc; got {words[1]!r}", "$orderby")
        keys.append(OrderBy(field, direction == "desc"))
    return keys


def sort_key_value(document: Mapping[str, Any], field: str) -> int:
    """A referral's datetime (as ticks) for sorting; missing or unparseable values sort as the earliest."""
    ticks = _as_ticks(document.get(field))
    return -(2**63) if ticks is None else ticks
