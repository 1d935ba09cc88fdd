"""The `/login` card: the device code, a button to the sign-in page, and when the code stops working."""

from __future__ import annotations

from datetime import datetime

from bot import messages
from cards.common import Card, card, format_datetime, open_url, subtle, text_block, title_block
from cards.text import plain


def device_code_card(user_code: str, verification_uri: str, expires_at: datetime) -> Card:
    """An Adaptive Card 1.5 showing `user_code` big, the sign-in page as a button, and the code's expiry."""
    body = [
        title_block(messages.LOGIN_CARD_TITLE),
        text_block(messages.LOGIN_CARD_STEPS),
        text_block(plain(user_code, 64), size="ExtraLarge", weight="Bolder", fontType="Monospace"),
        subtle(plain(verification_uri, 500)),
        text_block(messages.LOGIN_CARD_EXPIRES.format(expires=format_datetime(expires_at)), isSubtle=True),
    ]
    is_link = verification_uri.startswith(("https://", "http://"))
    return card(body, [open_url(messages.LOGIN_CARD_OPEN, verification_uri)] if is_link else [])
