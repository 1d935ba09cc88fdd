"""Make outside text safe to show in a card: plain text in Teams' markdown, of sensible length."""

from __future__ import annotations

import re

# Everything Teams' markdown (and the Adaptive Cards subset) could read as syntax, `<at>` mentions included.
_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
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
    """`text` as plain text for a TextBlock or Fact: one line, truncated, every markdown special escaped.

    Truncation happens before escaping so an escape sequence is never cut in half. `limit=None` keeps
    the whole text.
    """
    if not text:
        return ""
    flat = _WHITESPACE.sub(" ", str(text)).strip()
    if limit is not None:
        flat = truncate(flat, limit)
    return _SPECIALS.sub(r"\\\1", flat)
