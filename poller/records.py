"""The typed view of one Partner Center referral that the pipeline works with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class InvalidReferral(ValueError):
    """A list item that is not a usable referral (no id, not an object, status not a string …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReferralRecord:
    """One referral, mapped defensively from the wire (`poller.mapping.map_referral`).

    Enum-like fields stay plain strings so that values we have never seen survive; `etag` is exactly what
    the server sent (quotes included) because it goes back verbatim in `If-Match`; `raw` is the payload to
    store: a dict, or the item's verbatim JSON as an `orjson.Fragment`.
    """

    id: str
    status: str
    direction: str
    substatus: str | None
    status_reason: str | None
    referral_type: str | None
    qualification: str | None
    engagement_id: str | None
    name: str | None
    invited_by_org_id: str | None
    invited_by_org_name: str | None
    invite_notes: str | None
    customer_name: str | None
    customer_emails: tuple[str | None, ...]
    country: str | None
    deal_value: float | None
    currency: str | None
    notes: str | None
    etag: str
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    consent: dict[str, bool | None]
    raw: Any
