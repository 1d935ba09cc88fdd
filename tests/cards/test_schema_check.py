"""The schema check itself must be able to fail, or the other card tests prove nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft6Validator

from cards.common import error_card
from tests.cards.factories import make_referral

Check = Callable[[dict[str, Any]], None]


def test_a_known_good_card_passes(assert_valid_card: Check) -> None:
    assert_valid_card(error_card("Oops", "Something broke", hint="Try again"))


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda c: c["body"].append({"type": "TextBlock"}), id="textblock-without-text"),
        pytest.param(lambda c: c["body"].append({"type": "Sparkle", "text": "x"}), id="unknown-element"),
        pytest.param(lambda c: c["body"].append({"type": "TextBlock", "text": "x", "colour": "Red"}), id="typo-prop"),
        pytest.param(lambda c: c.update(actions=[{"type": "Action.OpenUrl", "title": "x"}]), id="openurl-no-url"),
        pytest.param(lambda c: c["body"].append({"type": "FactSet", "facts": [{"title": "a"}]}), id="fact-no-value"),
        pytest.param(lambda c: c.update(type="HeroCard"), id="not-an-adaptive-card"),
    ],
)
def test_invalid_cards_are_rejected(card_validator: Draft6Validator, breakage: Callable[[Any], None]) -> None:
    card = copy.deepcopy(error_card("Oops", "Something broke"))
    assert card_validator.is_valid(card)
    breakage(card)
    assert not card_validator.is_valid(card)


def test_size_limit_is_checked(assert_valid_card: Check) -> None:
    from cards.referral import referral_card
    from tests.cards.factories import NOW, PORTAL

    card = referral_card(make_referral(), lead=None, portal_url=PORTAL, now=NOW)
    card["body"].append({"type": "TextBlock", "text": "x" * 90_000})
    with pytest.raises(AssertionError):
        assert_valid_card(card)
