"""The referral card (one referral with Accept / Open Lead / Partner Center buttons) and the list card."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from cards.common import (
    DASH,
    Card,
    Element,
    badge,
    card,
    execute,
    fact_set,
    format_datetime,
    format_money,
    kind_label,
    open_url,
    subtle,
    text_block,
    time_left,
    title_block,
)
from cards.text import plain
from storage.models import Lead, Referral
from storage.queries import ListedReferral

NO_DOMAIN = "No customer domain found"
NOTES_LIMIT = 600
ROW_TEXT_LIMIT = 80


def _status(referral: Referral | ListedReferral) -> str:
    status = plain(referral.status, 32)
    return f"{status} / {plain(referral.substatus, 32)}" if referral.substatus else status


def _expiry(referral: Referral, now: datetime) -> str:
    left = time_left(referral.expires_at, now)
    if referral.expires_at is None:
        return left
    return f"{left} ({format_datetime(referral.expires_at)})"


def _accepted_line(referral: Referral) -> Element | None:
    if not referral.accepted_by_name:
        return None
    when = referral.accepted_in_teams_at or referral.accepted_at
    text = f"Accepted by {plain(referral.accepted_by_name, 120)}"
    if when:
        text += f" on {format_datetime(when)}"
    return text_block(text, color="Good", weight="Bolder")


def partner_center_url(portal_url: str, referral_id: str) -> str:
    """The referral's page in Partner Center."""
    return portal_url.rstrip("/") + "/" + quote(referral_id, safe="")


def referral_card(
    referral: Referral,
    *,
    lead: Lead | None,
    portal_url: str,
    now: datetime,
    accepting: bool = False,
    note: str | None = None,
) -> Card:
    """Everything a seller needs to decide on a referral, with the buttons that apply to its state."""
    body: list[Element] = []
    if note:
        body.append(text_block(plain(note, 500), color="Warning", weight="Bolder"))
    body.append(badge(referral.kind))
    body.append(title_block(plain(referral.name, 200) or f"Referral {plain(referral.id, 64)}"))
    facts = [
        ("Customer", plain(referral.customer_name, 200)),
        ("Domain", plain(referral.customer_domain, 255) if referral.customer_domain else NO_DOMAIN),
        ("Deal value", format_money(referral.deal_value, referral.currency)),
        ("Country", plain(referral.country, 8)),
        ("Status", _status(referral)),
        ("Created", format_datetime(referral.created_at)),
        ("Expires", _expiry(referral, now)),
    ]
    if lead is not None:
        facts.append(("Lead", f"score {lead.score} · {plain(lead.segment, 32)}"))
    facts.append(("ID", plain(referral.id, 64)))
    body.append(fact_set(facts))
    if not referral.customer_domain:
        body.append(subtle(f"{NO_DOMAIN}: this referral is not linked to a lead.", color="Warning"))
    if referral.notes:
        body.append(text_block(plain(referral.notes, NOTES_LIMIT), isSubtle=True, size="Small"))
    accepted = _accepted_line(referral)
    if accepted:
        body.append(accepted)
    if accepting:
        body.append(text_block("Accepting…", color="Accent", weight="Bolder"))

    actions: list[Element] = []
    if referral.status == "New" and not accepting:
        actions.append(execute("Accept", "accept", {"referralId": referral.id}))
    if referral.customer_domain:
        actions.append(execute("Open Lead", "openLead", {"referralId": referral.id}))
    actions.append(open_url("Open in Partner Center", partner_center_url(portal_url, referral.id)))
    return card(body, actions)


def short_id(referral_id: str) -> str:
    return referral_id if len(referral_id) <= 10 else referral_id[:8] + "…"


def _row(referral: Referral | ListedReferral, now: datetime) -> Element:
    """One compact, clickable line of the list: badge, customer, value, status, short id."""
    customer = plain(referral.customer_name, ROW_TEXT_LIMIT) or plain(referral.name, ROW_TEXT_LIMIT) or DASH
    detail = " · ".join(
        [
            format_money(referral.deal_value, referral.currency),
            _status(referral),
            time_left(referral.expires_at, now),
            plain(short_id(referral.id), 16),
        ]
    )
    return {
        "type": "Container",
        "separator": True,
        "selectAction": execute("Details", "showReferral", {"referralId": referral.id}),
        "items": [
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "auto", "items": [badge(referral.kind)]},
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [text_block(customer, weight="Bolder"), subtle(detail, size="Small")],
                    },
                ],
            }
        ],
    }


def list_title(kind: str, status: str | None, total: int, more: bool = False) -> str:
    """`Co-sell referrals — open (12)`, or `(1,000+)` when there are more than counted; kind `all` reads
    `All referrals — …`."""
    what = "All" if kind == "all" else kind_label(kind)
    state = plain(status.lower(), 16) if status else "open"
    return f"{what} referrals — {state} ({total:,}{'+' if more else ''})"


def referral_list_card(
    referrals: Sequence[Referral | ListedReferral],
    *,
    kind: str,
    status: str | None,
    page: int,
    total: int,
    page_size: int,
    now: datetime,
    more: bool = False,
) -> Card:
    """One page of referrals; each row opens the referral card, and Previous/Next turn the page. `more`:
    there are more than `total` (which was counted only so far)."""
    page_size = max(1, page_size)
    pages = max(1, math.ceil(total / page_size))
    body: list[Element] = [title_block(list_title(kind, status, total, more))]
    if not referrals:
        body.append(text_block("No referrals match."))
    else:
        of = f"{pages:,}+" if more else f"{pages:,}"
        body.append(subtle(f"Page {page} of {of}. Select a row for its details.", size="Small"))
        body.extend(_row(referral, now) for referral in referrals[:page_size])

    actions: list[Element] = []
    if page > 1:
        target = min(page - 1, pages)
        actions.append(execute("Previous", "referralsPage", {"kind": kind, "status": status, "page": target}))
    if page < pages or more:
        actions.append(execute("Next", "referralsPage", {"kind": kind, "status": status, "page": page + 1}))
    return card(body, actions)
