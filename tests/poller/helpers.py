"""Test helpers for the poller: sample referrals and builders."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def examples() -> list[dict[str, Any]]:
    """The five documented example referrals (a fresh deep copy each time)."""
    data: list[dict[str, Any]] = json.loads((DATA / "referrals.json").read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def example(index: int) -> dict[str, Any]:
    return examples()[index]


def make_referral(
    *,
    id: str | None = None,
    email: str | None = "buyer@contoso-test.com",
    type: str = "Shared",
    qualification: str = "SalesQualified",
    invited_by: str | None = "c3a9e0d4-1b2f-4e5a-9c8d-7f6e5d4c3b2a",
    status: str = "New",
    substatus: str = "Pending",
    direction: str = "Incoming",
    customer: str = "Contoso Test",
    updated: str = "2025-05-01T10:00:00.0000000Z",
) -> dict[str, Any]:
    """A referral shaped like example 0, with the fields tests care about set."""
    referral = example(0)
    referral["id"] = id or str(uuid.uuid4())
    referral["type"] = type
    referral["qualification"] = qualification
    referral["status"] = status
    referral["substatus"] = substatus
    referral["direction"] = direction
    referral["createdDateTime"] = updated
    referral["updatedDateTime"] = updated
    referral["eTag"] = f'"{uuid.uuid4()}"'
    referral["customerProfile"]["name"] = customer
    referral["customerProfile"]["team"] = [{"firstName": "A", "lastName": "B", "email": email}]
    if invited_by is None:
        referral["inviteContext"] = None
    else:
        referral["inviteContext"]["invitedBy"] = {"organizationId": invited_by, "organizationName": "X"}
    return referral
