from __future__ import annotations

from datetime import UTC, datetime

import pytest

from poller.mapping import map_referral, parse_datetime
from poller.records import InvalidReferral
from tests.poller.helpers import example, examples


def test_all_documented_examples_map() -> None:
    records = [map_referral(raw) for raw in examples()]
    assert [r.id for r in records] == [raw["id"] for raw in examples()]
    assert [r.status for r in records] == ["New", "New", "Closed", "Active", "New"]


def test_quoted_etag_is_kept_verbatim() -> None:
    record = map_referral(example(0))
    assert record.etag == '"9a00c1d2-0000-0100-0000-67c5c8ad0000"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-03T15:12:45.1234567Z", datetime(2025, 3, 3, 15, 12, 45, 123456, tzinfo=UTC)),
        ("2025-03-03T15:12:45Z", datetime(2025, 3, 3, 15, 12, 45, tzinfo=UTC)),
        ("2025-03-03T15:12:45.5Z", datetime(2025, 3, 3, 15, 12, 45, 500000, tzinfo=UTC)),
        ("2025-03-03T17:12:45.1234567+02:00", datetime(2025, 3, 3, 15, 12, 45, 123456, tzinfo=UTC)),
        ("2025-03-03T15:12:45", datetime(2025, 3, 3, 15, 12, 45, tzinfo=UTC)),
        ("9999-12-31T23:59:59-05:00", None),  # past datetime.max once in UTC
        ("0001-01-01T00:00:00+05:00", None),  # before datetime.min once in UTC
        ("not a date", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_parse_datetime(text: object, expected: datetime | None) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_seven_digit_timestamps_become_aware_utc() -> None:
    record = map_referral(example(0))
    assert record.created_at == datetime(2025, 3, 3, 15, 12, 45, 123456, tzinfo=UTC)
    assert record.expires_at is not None and record.expires_at.utcoffset() is not None
    assert record.closed_at is None


def test_deal_value_number_or_numeric_string() -> None:
    raw = example(0)
    raw["details"]["dealValue"] = "10000"
    assert map_referral(raw).deal_value == 10000.0
    raw["details"]["dealValue"] = 2500.5
    assert map_referral(raw).deal_value == 2500.5
    raw["details"]["dealValue"] = "lots"
    assert map_referral(raw).deal_value is None
    raw["details"]["dealValue"] = True
    assert map_referral(raw).deal_value is None


def test_team_as_bare_object_and_null_emails() -> None:
    raw = example(0)
    raw["customerProfile"]["team"] = {"firstName": "Solo", "email": "solo@fabrikam.co.uk"}
    assert map_referral(raw).customer_emails == ("solo@fabrikam.co.uk",)
    assert map_referral(example(4)).customer_emails == ("", None)


def test_pascal_case_consent_keys() -> None:
    raw = example(0)
    raw["consent"] = {"ConsentToToShareInfoWithOthers": False, "ConsentToContact": True}
    assert map_referral(raw).consent == {"consentToToShareInfoWithOthers": False, "consentToContact": True}


def test_unknown_enums_extra_fields_and_missing_sections() -> None:
    raw = example(1)
    raw["substatus"] = "Engaged"
    raw["salesStage"] = "100"
    raw["somethingNew"] = {"nested": [1, 2]}
    for section in ("customerProfile", "details", "inviteContext", "consent", "direction"):
        raw.pop(section)
    record = map_referral(raw)
    assert record.substatus == "Engaged"
    assert record.customer_emails == ()
    assert record.deal_value is None and record.invited_by_org_id is None
    assert record.direction == "Incoming"
    assert record.raw["somethingNew"] == {"nested": [1, 2]}


def test_nulls_everywhere() -> None:
    raw = {key: None for key in example(0)}
    raw.update(id="r-1", status="New")
    record = map_referral(raw)
    assert record.etag == "" and record.customer_name is None and record.created_at is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a string", "not an object"),
        ([1, 2], "not an object"),
        ({"status": "New"}, "no id"),
        ({"id": "", "status": "New"}, "no id"),
        ({"id": 42, "status": "New"}, "no id"),
        ({"id": "x" * 65, "status": "New"}, "longer than"),
        ({"id": "r-1"}, "status"),
        ({"id": "r-1", "status": 3}, "status"),
        ({"id": "r-1", "status": "\x00"}, "status"),
        ({"id": "r\x001", "status": "New"}, "NUL"),
    ],
)
def test_malformed_referrals_raise_invalid_referral(raw: object, reason: str) -> None:
    with pytest.raises(InvalidReferral) as info:
        map_referral(raw)
    assert reason in info.value.reason


def test_nul_characters_are_dropped_from_text_but_kept_in_raw() -> None:
    raw = example(0) | {"name": "Con\x00toso", "eTag": "\x00e1"}
    record = map_referral(raw)
    assert record.name == "Contoso" and record.etag == "e1"
    assert record.raw["name"] == "Con\x00toso"
