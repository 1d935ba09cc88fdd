"""The synthetic data: determinism, documented shape, and every kind and quirk present."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.partner_center import CONSUMER_DOMAINS, KINDS, generate_referrals, make_referral
from sandbox.partner_center.odata import parse_datetime
from tests.sandbox.conftest import SEED

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEVEN_DIGITS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")
DOCUMENTED_KEYS = set(SEED[0])


def classify(referral: dict[str, Any]) -> str:
    """INTRO's three-key rule, written independently of the generator (plus our own kind names)."""
    invited = (referral.get("inviteContext") or {}).get("invitedBy") or {}
    org = invited.get("organizationId")
    kind, qualification = referral.get("type"), referral.get("qualification")
    if kind == "Independent" and qualification == "Direct" and org in ("msft", None):
        return "marketplace"
    if kind == "Independent" and qualification in ("SalesQualified", "MarketingQualified") and org == "msft":
        return "ms-lead"
    if qualification in ("SalesQualified", "None") and org not in ("msft", None):
        return "co-sell" if kind == "Shared" else "co-sell-independent"
    return "other"


def emails(referral: dict[str, Any]) -> list[Any]:
    team = referral["customerProfile"]["team"]
    return [member.get("email") for member in (team if isinstance(team, list) else [team])]


@pytest.fixture(scope="module")
def data() -> list[dict[str, Any]]:
    return generate_referrals(500, seed=11, now=NOW)


def test_same_seed_same_data_and_other_seed_differs() -> None:
    assert generate_referrals(60, seed=5, now=NOW) == generate_referrals(60, seed=5, now=NOW)
    assert generate_referrals(60, seed=5, now=NOW) != generate_referrals(60, seed=6, now=NOW)


def test_shape_matches_the_documented_examples(data: list[dict[str, Any]]) -> None:
    for referral in data:
        assert DOCUMENTED_KEYS - {"id"} <= set(referral)
        assert set(SEED[0]["customerProfile"]) <= set(referral["customerProfile"])
        assert set(SEED[0]["details"]["requirements"]) <= set(referral["details"]["requirements"])
        assert referral["eTag"].startswith('"') and referral["eTag"].endswith('"')
        for name in ("createdDateTime", "updatedDateTime"):
            assert SEVEN_DIGITS.fullmatch(referral[name]), referral[name]


def test_every_kind_and_both_directions(data: list[dict[str, Any]]) -> None:
    kinds = Counter(classify(r) for r in data)
    assert set(kinds) == set(KINDS)
    directions = {(classify(r), r["direction"]) for r in data}
    assert ("co-sell", "Outgoing") in directions
    assert ("co-sell", "Incoming") in directions
    outgoing = [r for r in data if r["direction"] == "Outgoing"]
    assert all(r["acceptedDateTime"] == r["createdDateTime"] for r in outgoing)


def test_every_status_combination_and_unknown_values(data: list[dict[str, Any]]) -> None:
    combos = {(r["status"], r["substatus"]) for r in data if isinstance(r["status"], str)}
    documented = {
        ("New", "Pending"),
        ("New", "Received"),
        ("Active", "Accepted"),
        ("Closed", "Won"),
        ("Closed", "Lost"),
        ("Closed", "Declined"),
        ("Closed", "Expired"),
    }
    assert documented <= combos
    assert any(sub == "Engaged" for _, sub in combos)
    assert any(status not in ("New", "Active", "Closed") for status, _ in combos)
    closed = [r for r in data if r["status"] == "Closed"]
    assert all(r["closedDateTime"] for r in closed)
    accepted = [r for r in data if (r["status"], r["substatus"]) == ("Active", "Accepted")]
    assert all(r["acceptedDateTime"] for r in accepted)


def test_every_quirk_is_present(data: list[dict[str, Any]]) -> None:
    all_emails = [e for r in data for e in emails(r)]
    strings = [e for e in all_emails if isinstance(e, str) and e]
    assert any(r["expirationDateTime"] is None for r in data if r["status"] == "New")
    assert "" in all_emails
    assert None in all_emails
    assert any(e.split("@")[1].lower() in CONSUMER_DOMAINS for e in strings)
    assert any(e != e.lower() for e in strings)
    assert any(e.startswith("it@mail.") for e in strings)
    assert any(not e.isascii() for e in strings)
    assert any(set(r) - DOCUMENTED_KEYS - {"id"} for r in data)
    assert any(isinstance(r["customerProfile"]["team"], dict) for r in data)
    assert any("ConsentToContact" in r["consent"] for r in data)
    assert any("id" not in r for r in data)
    assert any(not isinstance(r["status"], str) for r in data)
    malformed = [r for r in data if "id" not in r or not isinstance(r["status"], str)]
    assert len(malformed) < len(data) * 0.05


def test_customers_are_mostly_distinct_with_repeats(data: list[dict[str, Any]]) -> None:
    names = Counter(r["customerProfile"]["name"] for r in data)
    assert len(names) > len(data) * 0.6
    assert any(count > 1 for count in names.values())


def test_dates_spread_over_recent_days(data: list[dict[str, Any]]) -> None:
    created = [parse_datetime(r["createdDateTime"]) for r in data]
    updated = [parse_datetime(r["updatedDateTime"]) for r in data]
    assert all(NOW - timedelta(days=31) < c <= NOW for c in created)
    assert all(u >= c and u <= NOW for c, u in zip(created, updated, strict=True))
    assert len({c.date() for c in created}) > 20


def test_make_referral_new_incoming_co_sell() -> None:
    referral = make_referral("co-sell", now=NOW)
    assert classify(referral) == "co-sell"
    assert (referral["type"], referral["direction"]) == ("Shared", "Incoming")
    assert (referral["status"], referral["substatus"]) == ("New", "Pending")
    assert referral["createdDateTime"] == referral["updatedDateTime"]
    assert parse_datetime(referral["createdDateTime"]).replace(microsecond=0) == NOW
    assert parse_datetime(referral["expirationDateTime"]) - NOW >= timedelta(days=14)
    assert make_referral("co-sell")["id"] != make_referral("co-sell")["id"]
    assert make_referral("ms-lead", seed=1, now=NOW) == make_referral("ms-lead", seed=1, now=NOW)
    outgoing = make_referral("co-sell", direction="Outgoing", now=NOW)
    assert (outgoing["status"], outgoing["acceptedDateTime"]) == ("Active", outgoing["createdDateTime"])
    with pytest.raises(ValueError):
        make_referral("spam")
