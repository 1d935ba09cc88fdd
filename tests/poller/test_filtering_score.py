from __future__ import annotations

import pytest

from poller.filtering import DIRECTION_OUTGOING, STATUS_CLOSED, skip_reason
from poller.mapping import map_referral
from poller.score import score_lead
from tests.poller.helpers import examples, make_referral


@pytest.mark.parametrize(
    ("status", "substatus", "direction", "reason"),
    [
        ("New", "Pending", "Incoming", None),
        ("Active", "Accepted", "Incoming", None),
        ("New", "Received", "Incoming", None),
        ("Closed", "Won", "Incoming", STATUS_CLOSED),
        ("Active", "Lost", "Incoming", STATUS_CLOSED),
        ("New", "Expired", "Incoming", STATUS_CLOSED),
        ("New", "Error", "Incoming", STATUS_CLOSED),
        ("New", "Declined", "Incoming", STATUS_CLOSED),
        ("None", "None", "Incoming", STATUS_CLOSED),
        ("New", "Pending", "Outgoing", DIRECTION_OUTGOING),
    ],
)
def test_skip_reasons_when_first_seen(status: str, substatus: str, direction: str, reason: str | None) -> None:
    record = map_referral(make_referral(status=status, substatus=substatus, direction=direction))
    assert skip_reason(record, already_stored=False) == reason


def test_a_stored_referral_is_always_updated() -> None:
    record = map_referral(examples()[2])  # Closed/Lost
    assert skip_reason(record, already_stored=False) == STATUS_CLOSED
    assert skip_reason(record, already_stored=True) is None


def test_scores_and_reasons() -> None:
    existing = score_lead("m365", mx_hosts=["contoso.mail.protection.outlook.com"], has_co_sell=True)
    assert (existing.segment, existing.score) == ("Existing", 75)
    assert existing.reasons == [
        "Microsoft 365 mail (MX contoso.mail.protection.outlook.com) → Existing +60",
        "Co-sell referral +15",
    ]
    assert score_lead("google", has_co_sell=False).segment == "Migration"
    assert score_lead("google", has_co_sell=False).score == 50
    assert score_lead("other", has_co_sell=False, co_sell_boost=5).score == 20
    assert score_lead("none", has_co_sell=True, co_sell_boost=5).score == 25
    unscanned = score_lead(None, has_co_sell=False)
    assert (unscanned.segment, unscanned.score) == ("Unscanned", 10)
