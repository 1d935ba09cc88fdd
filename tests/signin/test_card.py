"""The device-code card: valid Adaptive Card 1.5, code, link button and expiry; outside text escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator

from cards.signin import device_code_card

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "adaptive-card-1.5.json"
EXPIRES = datetime(2026, 11, 22, 8, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def validator() -> Draft6Validator:
    return Draft6Validator(json.loads(SCHEMA.read_text()), format_checker=Draft6Validator.FORMAT_CHECKER)


def texts(card: dict[str, Any]) -> list[str]:
    return [block["text"] for block in card["body"]]


def test_card_shows_code_link_and_expiry(validator: Draft6Validator) -> None:
    card = device_code_card("F7KQ2MX9P", "https://microsoft.com/devicelogin", EXPIRES)
    assert not list(validator.iter_errors(card))
    assert card["version"] == "1.5"
    assert "F7KQ2MX9P" in texts(card)
    assert any("2026-11-22 08:15 UTC" in text for text in texts(card))
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open sign-in page", "url": "https://microsoft.com/devicelogin"}
    ]


def test_outside_text_is_escaped_and_odd_links_get_no_button(validator: Draft6Validator) -> None:
    card = device_code_card("**<at>x</at>**", "javascript:alert(1)", EXPIRES)
    assert not list(validator.iter_errors(card))
    assert "**<at>x</at>**" not in texts(card)
    assert r"\*\*\<at\>x\</at\>\*\*" in texts(card)
    assert "actions" not in card
