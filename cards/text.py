"""Make outside text safe to show in a card: plain text in Teams' markdown, of sensible length."""

from __future__ import annotations

import re

# What the Adaptive Cards markdown subset (bold, italic, links, lists) and Teams could read as syntax anywhere
# in a line: emphasis, link and image brackets, code, strike, `<at>` tags and `{{DATE()}}` functions. A
# backslash escape is shown literally by some Teams clients (older mobile ones), so nothing else is escaped:
# `contoso.co.uk`, `Co-sell (EMEA)` and `1.5M!` stay as they are.
_SPECIALS = re.compile(r"([\\`*_{}\[\]<>~])")
# Only at the start of a line do these begin a heading, a list or a quote (the text is one line).
_LINE_START = re.compile(r"^(?:([#+\-])|(\d+)(?=[.)]))")
_WHITESPACE = re.compile(r"\s+")
ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with an ellipsis when something was cut."""
    if limit < 1:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def plain(text: str | None, limit: int | None = 300) -> str:
    """`text` as plain text for a TextBlock or Fact: one line, truncated, escaped where markdown could form.

    Truncation happens before escaping so an escape sequence is never cut in half. `limit=None` keeps
    the whole text.
    """
    if not text:
        return ""
    flat = _WHITESPACE.sub(" ", str(text)).strip()
    if limit is not None:
        flat = truncate(flat, limit)
    escaped = _SPECIALS.sub(r"\\\1", flat)
    return _LINE_START.sub(_escape_line_start, escaped, count=1)


def _escape_line_start(match: re.Match[str]) -> str:
    marker, number = match.groups()
    return "\\" + marker if marker else number + "\\"
