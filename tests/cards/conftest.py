"""The official Adaptive Card 1.5 schema check shared by the card tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator

from tests.cards.factories import MAX_CARD_BYTES, card_size

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "adaptive-card-1.5.json"


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="session")
def card_validator() -> Draft6Validator:
    schema = load_schema()
    # The schema says which draft it is written in; use exactly that validator.
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema, format_checker=Draft6Validator.FORMAT_CHECKER)


@pytest.fixture
def assert_valid_card(card_validator: Draft6Validator) -> Callable[[dict[str, Any]], None]:
    """Checks a card against the official schema, Teams' size advice and our envelope."""

    def check(card: dict[str, Any]) -> None:
        errors = sorted(card_validator.iter_errors(card), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5])
        assert card["type"] == "AdaptiveCard"
        assert card["version"] == "1.5"
        assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
        assert card_size(card) < MAX_CARD_BYTES

    return check
