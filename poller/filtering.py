"""Which fetched referrals are stored, and why the others are skipped.

Skip reasons (counted in `SyncRun.skipped`):
- `invalid_payload`: the item could not be mapped (`InvalidReferral`).
- `direction_outgoing`: a referral we sent, not one we received.
- `status_closed`: not New/Active, or substatus Declined/Lost/Expired/Error, when first seen.

A referral already stored is always updated, whatever its new status, so the lifecycle New → Active →
Closed reaches the database and the cards. `no_domain` is counted separately and is not a skip: such a
referral is stored (and announced if co-sell) but not linked to a lead or scanned.
"""

from __future__ import annotations

from poller.records import ReferralRecord

INVALID_PAYLOAD = "invalid_payload"
DIRECTION_OUTGOING = "direction_outgoing"
STATUS_CLOSED = "status_closed"
NO_DOMAIN = "no_domain"

OPEN_STATUSES = frozenset({"new", "active"})
CLOSED_SUBSTATUSES = frozenset({"declined", "lost", "expired", "error"})


def is_open(record: ReferralRecord) -> bool:
    if record.status.lower() not in OPEN_STATUSES:
        return False
    return (record.substatus or "").lower() not in CLOSED_SUBSTATUSES


def is_incoming(record: ReferralRecord) -> bool:
    return record.direction.lower() != "outgoing"


def skip_reason(record: ReferralRecord, *, already_stored: bool) -> str | None:
    """None when the record is to be stored; otherwise the reason it is skipped."""
    if already_stored:
        return None
    if not is_incoming(record):
        return DIRECTION_OUTGOING
    if not is_open(record):
        return STATUS_CLOSED
    return None
