from __future__ import annotations

import pytest

from poller.classify import classify, classify_fields
from poller.mapping import map_referral
from tests.poller.helpers import examples

PARTNER = "c3a9e0d4-1b2f-4e5a-9c8d-7f6e5d4c3b2a"


@pytest.mark.parametrize(
    ("rtype", "qualification", "invited_by", "kind"),
    [
        # co-sell: Shared, whatever else
        ("Shared", "SalesQualified", PARTNER, "co-sell"),
        ("Shared", "None", "msft", "co-sell"),
        ("Shared", None, None, "co-sell"),
        # co-sell: Independent + SalesQualified/None invited by a partner org
        ("Independent", "SalesQualified", PARTNER, "co-sell"),
        ("Independent", "None", PARTNER, "co-sell"),
        # marketplace: Independent + Direct + msft or nobody
        ("Independent", "Direct", "msft", "marketplace"),
        ("Independent", "Direct", "MSFT", "marketplace"),
        ("Independent", "Direct", None, "marketplace"),
        ("Independent", "Direct", "", "marketplace"),
        # ms-lead: Independent + Sales/MarketingQualified + msft
        ("Independent", "SalesQualified", "msft", "ms-lead"),
        ("Independent", "MarketingQualified", "Msft", "ms-lead"),
        # other
        ("Independent", "Direct", PARTNER, "other"),
        ("Independent", "MarketingQualified", PARTNER, "other"),
        ("Independent", "MarketingQualified", None, "other"),
        ("Independent", "SalesQualified", None, "other"),
        ("Independent", "None", "msft", "other"),
        ("Independent", "SomethingNew", "msft", "other"),
        ("Mystery", "SalesQualified", PARTNER, "other"),
        (None, None, None, "other"),
    ],
)
def test_three_key_rule(rtype: str | None, qualification: str | None, invited_by: str | None, kind: str) -> None:
    assert classify_fields(rtype, qualification, invited_by) == kind


def test_documented_examples() -> None:
    kinds = [classify(map_referral(raw)) for raw in examples()]
    assert kinds == ["co-sell", "marketplace", "ms-lead", "co-sell", "ms-lead"]


def test_missing_invite_context() -> None:
    raw = examples()[1]
    raw["inviteContext"] = None
    assert classify(map_referral(raw)) == "marketplace"
    raw["qualification"] = "SalesQualified"
    assert classify(map_referral(raw)) == "other"
