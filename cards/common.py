"""Pieces every card uses: the card envelope, text blocks, facts, actions, badges and value formatting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cards.text import plain

Card = dict[str, Any]
Element = dict[str, Any]

SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
DASH = "—"

KIND_LABELS = {"co-sell": "Co-sell", "marketplace": "Marketplace", "ms-lead": "MS lead", "other": "Other"}
_KIND_COLORS = {"co-sell": "Accent", "marketplace": "Good", "ms-lead": "Warning", "other": "Default"}


def card(body: Sequence[Element], actions: Sequence[Element] = ()) -> Card:
    """The Adaptive Card 1.5 envelope around `body` (and card-level `actions` when there are any)."""
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA_URL,
        "version": VERSION,
        "body": list(body),
    }
    if actions:
        result["actions"] = list(actions)
    return result


def text_block(text: str, **props: Any) -> Element:
    """A wrapping TextBlock; `text` must already be safe (escaped, or our own wording)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def title_block(text: str) -> Element:
    return text_block(text, size="Medium", weight="Bolder")


def subtle(text: str, **props: Any) -> Element:
    return text_block(text, isSubtle=True, spacing="None", **props)


def fact_set(facts: Sequence[tuple[str, str]]) -> Element:
    """A FactSet from (title, value) pairs; values must already be safe. Empty values show as a dash."""
    return {"type": "FactSet", "facts": [{"title": title, "value": value or DASH} for title, value in facts]}


def execute(title: str, verb: str, data: dict[str, Any]) -> Element:
    """An Action.Execute (Universal Action) button: Teams sends an `adaptiveCard/action` invoke."""
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data}


def open_url(title: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def action_set(actions: Sequence[Element]) -> Element:
    return {"type": "ActionSet", "actions": list(actions)}


def kind_label(kind: str | None) -> str:
    """The badge text of a referral kind: Co-sell, Marketplace, MS lead or Other."""
    return KIND_LABELS.get((kind or "").lower(), "Other")


def badge(kind: str | None) -> Element:
    """The kind badge as a small coloured TextBlock."""
    color = _KIND_COLORS.get((kind or "").lower(), "Default")
    return text_block(kind_label(kind), size="Small", weight="Bolder", color=color)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (as storage keeps it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_datetime(moment: datetime | None) -> str:
    """`2026-11-22 07:50 UTC`, or a dash when missing."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else DASH


def format_date(moment: datetime | None) -> str:
    """`2026-11-22`, or a dash when missing."""
    return as_utc(moment).strftime("%Y-%m-%d") if moment else DASH


def format_money(value: float | None, currency: str | None) -> str:
    """`1,250,000 USD` or `1,250.50 EUR` (currency escaped); a dash when there is no value."""
    if value is None:
        return DASH
    amount = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    code = plain(currency, 8)
    return f"{amount} {code}" if code else amount


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def format_duration(delta: timedelta) -> str:
    """A short human duration: `45 s`, `3 min 5 s`, `2 h 10 min`, `3 days 4 h`."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{_plural(days, 'day')} {hours} h" if hours else _plural(days, "day")
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def time_left(expires_at: datetime | None, now: datetime) -> str:
    """`3 days 4 hours left`, `expires in 5 hours`, `expires in 12 minutes`, `expired` or `no expiry date`."""
    if expires_at is None:
        return "no expiry date"
    seconds = int((as_utc(expires_at) - as_utc(now)).total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        span = f"{_plural(days, 'day')} {_plural(hours, 'hour')}" if hours else _plural(days, "day")
        return f"{span} left"
    if hours:
        return f"expires in {_plural(hours, 'hour')}"
    if minutes:
        return f"expires in {_plural(minutes, 'minute')}"
    return "expires in less than a minute"


def relative(moment: datetime | None, now: datetime) -> str:
    """`in 7 min` / `12 min ago` next to a moment, for the status card."""
    if moment is None:
        return DASH
    delta = as_utc(moment) - as_utc(now)
    if delta.total_seconds() >= 0:
        return f"in {format_duration(delta)}"
    return f"{format_duration(-delta)} ago"


def moment_and_relative(moment: datetime | None, now: datetime) -> str:
    """`2026-11-22 08:00 UTC (in 7 min)`, or a dash when missing."""
    return f"{format_datetime(moment)} ({relative(moment, now)})" if moment else DASH


def error_card(title: str, message: str, *, hint: str | None = None) -> Card:
    """A short card saying what went wrong; every text is shown as plain text."""
    body = [
        text_block(plain(title, 200), size="Medium", weight="Bolder", color="Attention"),
        text_block(plain(message, 2000)),
    ]
    if hint:
        body.append(text_block(plain(hint, 1000), isSubtle=True))
    return card(body)
