"""The help card: every command with its form and one-line description."""

from __future__ import annotations

from collections.abc import Sequence

from cards.common import Card, Element, card, subtle, text_block, title_block
from cards.text import plain


def help_card(entries: Sequence[tuple[str, str, bool]]) -> Card:
    """One row per (usage, description, admin_only) entry; admin commands are marked."""
    body: list[Element] = [title_block("Commands")]
    for usage, description, admin_only in entries:
        line = plain(description, 200)
        if admin_only:
            line = f"{line} (admin only)" if line else "(admin only)"
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    text_block(plain(usage, 120), fontType="Monospace", weight="Bolder"),
                    subtle(line or "—"),
                ],
            }
        )
    if not entries:
        body.append(text_block("No commands are registered."))
    return card(body)
