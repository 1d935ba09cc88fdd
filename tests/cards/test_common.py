from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cards.common import (
    error_card,
    format_date,
    format_datetime,
    format_duration,
    format_money,
    kind_label,
    relative,
    time_left,
)
from tests.cards.factories import NOW, all_text


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=3, hours=4, minutes=10), "3 days 4 hours left"),
        (timedelta(days=1, hours=1), "1 day 1 hour left"),
        (timedelta(days=2), "2 days left"),
        (timedelta(hours=5, minutes=59), "expires in 5 hours"),
        (timedelta(hours=1), "expires in 1 hour"),
        (timedelta(minutes=42), "expires in 42 minutes"),
        (timedelta(seconds=20), "expires in less than a minute"),
        (timedelta(0), "expired"),
        (-timedelta(days=4), "expired"),
    ],
)
def test_time_left_wording(delta: timedelta, expected: str) -> None:
    assert time_left(NOW + delta, NOW) == expected


def test_time_left_without_expiry_and_with_naive_storage_value() -> None:
    assert time_left(None, NOW) == "no expiry date"
    naive = datetime(2026, 11, 22, 12, 50)  # read back from SQLite as naive UTC
    assert time_left(naive, NOW) == "expires in 5 hours"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1250000.0, "USD", "1,250,000 USD"),
        (1250.5, "EUR", "1,250.50 EUR"),
        (0.0, "GBP", "0 GBP"),
        (980.0, None, "980"),
        (None, "USD", "—"),
        (5.0, "U_D", r"5 U\_D"),
    ],
)
def test_format_money(value: float | None, currency: str | None, expected: str) -> None:
    assert format_money(value, currency) == expected


def test_kind_labels() -> None:
    assert [kind_label(k) for k in ("co-sell", "marketplace", "ms-lead", "other", "weird", None)] == [
        "Co-sell",
        "Marketplace",
        "MS lead",
        "Other",
        "Other",
        "Other",
    ]


def test_dates_and_durations() -> None:
    moment = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert format_datetime(moment) == "2026-03-04 05:06 UTC"
    assert format_date(moment) == "2026-03-04"
    assert format_datetime(None) == "—"
    assert format_duration(timedelta(seconds=65)) == "1 min 5 s"
    assert format_duration(timedelta(hours=2)) == "2 h"
    assert format_duration(timedelta(days=1, hours=3)) == "1 day 3 h"
    assert format_duration(timedelta(seconds=-5)) == "0 s"
    assert relative(NOW + timedelta(minutes=7), NOW) == "in 7 min"
    assert relative(NOW - timedelta(minutes=12), NOW) == "12 min ago"


def test_error_card(assert_valid_card: Callable[[dict[str, Any]], None]) -> None:
    card = error_card("Accept failed", "Partner Center said **no** [x](http://evil)", hint="Try `sync`")
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == "Accept failed"
    assert r"\*\*no\*\* \[x\](http://evil)" in texts[1]
    assert texts[2] == r"Try \`sync\`"
    assert len(error_card("t", "m")["body"]) == 2
