"""Wire JSON → `ReferralRecord`, tolerant of every quirk the reference lists (section 6 of the API notes).

Tolerated: unknown enum strings (kept), nulls anywhere, extra fields, quoted eTags (kept verbatim),
7-digit fractional seconds and `Z`, dealValue as a number or a numeric string, `customerProfile.team` as a
list or a bare object, PascalCase consent keys, missing optional sections. Not tolerated (raises
`InvalidReferral`): a non-object item, a missing/blank/over-long id or one with a NUL, a status that is not a
string. Text longer than its column is cut to fit and loses NUL characters; `raw` always keeps the full payload.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from poller.records import InvalidReferral, ReferralRecord

ID_MAX = 64
_EMPTY: dict[str, Any] = {}


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from `2025-03-03T15:12:45.1234567Z`-style text; None when absent or unusable.

    Fractions longer than 6 digits are cut to microseconds (what `datetime` can hold); `Z` and offsets work.
    """
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 28 and value[19] == "." and value[27] == "Z":  # the usual 2025-03-03T15:12:45.1234567Z
        try:
            return datetime.fromisoformat(value[:26]).replace(tzinfo=UTC)
        except ValueError:
            pass
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        digits = text[dot + 1 : end]
        text = text[: dot + 1] + (digits[:6].ljust(6, "0") if digits else "0") + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:59:59-05:00 is past datetime.max in UTC
        return None


def _text(value: Any, limit: int | None = None) -> str | None:
    """Text for a column: cut to `limit`, without NUL characters (PostgreSQL text cannot hold them)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = value if type(value) is str else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text if limit is None else text[:limit]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a double
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _emails(team: Any) -> tuple[str | None, ...]:
    members = [team] if isinstance(team, dict) else team if isinstance(team, list) else []
    return tuple(_text(member.get("email")) if isinstance(member, dict) else None for member in members)


def _consent(value: Any) -> dict[str, bool | None]:
    """Consent flags with camelCase keys whatever casing the server used."""
    result: dict[str, bool | None] = {}
    for key, flag in _obj(value).items():
        if isinstance(key, str) and key:
            result[key[0].lower() + key[1:]] = flag if isinstance(flag, bool) else None
    return result


def map_referral(raw: Any, *, stored_as: Any = None) -> ReferralRecord:
    """Map one item of the list's `value` array; raises `InvalidReferral` when it cannot be stored.

    `stored_as` is what to keep as the raw payload when it is not `raw` itself (`poller.wire` passes the
    item's verbatim JSON text and, in `raw`, only the fields read here)."""
    if not isinstance(raw, dict):
        raise InvalidReferral(f"item is a {type(raw).__name__}, not an object")
    referral_id = raw.get("id")
    if not isinstance(referral_id, str) or not referral_id.strip():
        raise InvalidReferral("no id")
    if len(referral_id) > ID_MAX:
        raise InvalidReferral(f"id longer than {ID_MAX} characters")
    if "\x00" in referral_id:
        raise InvalidReferral("id contains a NUL character")
    status = _text(raw.get("status")) if isinstance(raw.get("status"), str) else None
    if not status:
        raise InvalidReferral(f"status is {raw.get('status')!r}, not a string")
    customer = _obj(raw.get("customerProfile"))
    details = _obj(raw.get("details"))
    invite = _obj(raw.get("inviteContext"))
    invited_by = _obj(invite.get("invitedBy"))
    etag = raw.get("eTag")
    return ReferralRecord(
        id=referral_id,
        status=status[:16],
        # The list is always asked for `direction eq 'Incoming'`, so a missing direction means incoming.
        direction=_text(raw.get("direction"), 16) or "Incoming",
        substatus=_text(raw.get("substatus"), 16),
        status_reason=_text(raw.get("statusReason")),
        referral_type=_text(raw.get("type"), 32),
        qualification=_text(raw.get("qualification"), 32),
        engagement_id=_text(raw.get("engagementId"), 64),
        name=_text(raw.get("name")),
        invited_by_org_id=_text(invited_by.get("organizationId"), 64),
        invited_by_org_name=_text(invited_by.get("organizationName")),
        invite_notes=_text(invite.get("notes")),
        customer_name=_text(customer.get("name")),
        customer_emails=_emails(customer.get("team")),
        country=_text(_obj(customer.get("address")).get("country"), 8),
        deal_value=_number(details.get("dealValue")),
        currency=_text(details.get("currency"), 8),
        notes=_text(details.get("notes")),
        etag=(_text(etag) or "")[:128],
        created_at=parse_datetime(raw.get("createdDateTime")),
        updated_at=parse_datetime(raw.get("updatedDateTime")),
        expires_at=parse_datetime(raw.get("expirationDateTime")),
        accepted_at=parse_datetime(raw.get("acceptedDateTime")),
        closed_at=parse_datetime(raw.get("closedDateTime")),
        consent=_consent(raw.get("consent")),
        raw=raw if stored_as is None else stored_as,
    )
