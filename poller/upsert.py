"""One page of referrals → the database, in ONE transaction.

Per page: map/classify/domain/filter every item, read the page's stored rows with one `IN` query, insert the
new ones (executemany), update those whose eTag or updatedDateTime changed, link leads, write the outbox
rows (`post` for a new incoming co-sell referral, `update` for a changed referral that has posted cards)
and rescore the touched leads. The caller commits; nothing of a failed page is kept.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from poller.classify import classify
from poller.domains import customer_domain
from poller.filtering import INVALID_PAYLOAD, is_incoming, skip_reason
from poller.leads import LeadCandidate, ensure_leads, refresh_scores
from poller.mapping import map_referral
from poller.records import InvalidReferral, ReferralRecord
from poller.wire import describe, read_item
from storage import sync_repo

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Prepared:
    record: ReferralRecord
    kind: str
    domain: str | None


@dataclass(slots=True)
class PageOutcome:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    leads_created: int = 0
    leads_linked: int = 0
    no_domain: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    max_updated: datetime | None = None  # newest updatedDateTime among the page's referrals
    scan_due: set[str] = field(default_factory=set)  # lead domains never scanned or scanned too long ago


def prepare(items: list[Any], outcome: PageOutcome) -> list[Prepared]:
    """Map, classify and find the domain of each item; invalid ones are counted and dropped."""
    prepared: list[Prepared] = []
    newest = outcome.max_updated
    for item in items:
        try:
            fields, stored_as = read_item(item)
            record = map_referral(fields, stored_as=stored_as)
            kind, domain = classify(record), customer_domain(record.customer_emails)
        except InvalidReferral:
            outcome.skipped[INVALID_PAYLOAD] += 1
            continue
        except Exception:  # a shape nobody foresaw: skip that one referral, keep the page, say so loudly
            log.exception("could not read list item %s; skipped", describe(item))
            outcome.skipped[INVALID_PAYLOAD] += 1
            continue
        if record.updated_at is not None and (newest is None or record.updated_at > newest):
            newest = record.updated_at
        prepared.append(Prepared(record, kind, domain))
    outcome.max_updated = newest
    return prepared


def _row(p: Prepared, now: datetime) -> dict[str, Any]:
    r = p.record
    return {
        "id": r.id,
        "engagement_id": r.engagement_id,
        "name": r.name,
        "kind": p.kind,
        "direction": r.direction,
        "status": r.status,
        "substatus": r.substatus,
        "status_reason": r.status_reason,
        "referral_type": r.referral_type,
        "qualification": r.qualification,
        "invited_by_org_id": r.invited_by_org_id,
        "invited_by_org_name": r.invited_by_org_name,
        "customer_name": r.customer_name,
        "customer_domain": p.domain,
        "country": r.country,
        "deal_value": r.deal_value,
        "currency": r.currency,
        "notes": r.notes,
        "invite_notes": r.invite_notes,
        "etag": r.etag,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "expires_at": r.expires_at,
        "accepted_at": r.accepted_at,
        "closed_at": r.closed_at,
        "raw": r.raw,
        "last_synced_at": now,
    }


def _sort(
    by_id: dict[str, Prepared], stored: dict[str, sync_repo.StoredReferral], outcome: PageOutcome
) -> tuple[list[Prepared], list[Prepared]]:
    """(new, changed); skipped and unchanged ones are only counted."""
    new: list[Prepared] = []
    changed: list[Prepared] = []
    for referral_id, p in by_id.items():
        old = stored.get(referral_id)
        reason = skip_reason(p.record, already_stored=old is not None)
        if reason is not None:
            outcome.skipped[reason] += 1
        elif old is None:
            new.append(p)
        elif old.etag != p.record.etag or old.updated_at != p.record.updated_at:
            changed.append(p)
        else:
            outcome.unchanged += 1
    return new, changed


def _needs_link(p: Prepared, stored: dict[str, sync_repo.StoredReferral]) -> bool:
    if p.domain is None:
        return False
    old = stored.get(p.record.id)
    return old is None or old.lead_id is None or old.customer_domain != p.domain


def _write_outbox(session: Session, new: list[Prepared], changed: list[Prepared], *, now: datetime) -> int:
    """`post` for each new incoming co-sell referral; `update` for each changed one that has cards."""
    posts = [p.record.id for p in new if p.kind == "co-sell" and is_incoming(p.record)]
    written = sync_repo.add_outbox(session, posts, "post", now=now)
    changed_ids = [p.record.id for p in changed]
    with_cards = sync_repo.referrals_with_cards(session, changed_ids) if changed_ids else set()
    if with_cards:
        pending = sync_repo.pending_outbox(session, with_cards, "update")
        updates = [rid for rid in changed_ids if rid in with_cards and rid not in pending]
        written += sync_repo.add_outbox(session, updates, "update", now=now)
    return written


@dataclass(slots=True)
class PreparedPage:
    """A page mapped, classified and with its domains found: all that needs no database, so that it can be
    done for the next page while the current one is being written."""

    by_id: dict[str, Prepared]
    outcome: PageOutcome


def prepare_page(items: list[Any]) -> PreparedPage:
    outcome = PageOutcome(fetched=len(items))
    # A page may repeat an id (paging races); the last copy wins.
    return PreparedPage({p.record.id: p for p in prepare(items, outcome)}, outcome)


def apply_page(
    session: Session,
    items: list[Any],
    *,
    now: datetime,
    co_sell_boost: int,
    rescan_after: timedelta,
) -> PageOutcome:
    """Prepare and store one page (see the module docstring); the caller's transaction commits it."""
    return store_page(session, prepare_page(items), now=now, co_sell_boost=co_sell_boost, rescan_after=rescan_after)


def store_page(
    session: Session,
    page: PreparedPage,
    *,
    now: datetime,
    co_sell_boost: int,
    rescan_after: timedelta,
) -> PageOutcome:
    """Store one prepared page; the caller's transaction commits it."""
    outcome, by_id = page.outcome, page.by_id
    sync_repo.lock_sync_writes(session)
    stored = sync_repo.stored_referrals(session, by_id.keys())
    new, changed = _sort(by_id, stored, outcome)
    outcome.no_domain = sum(1 for p in new if p.domain is None)

    # Leads first (created already scored), so that new rows are inserted already linked.
    touched = {p.domain for p in [*new, *changed] if p.domain}
    scans = sync_repo.scans_by_domain(session, touched) if touched else {}
    to_link = [p for p in [*new, *changed] if _needs_link(p, stored)]
    links = ensure_leads(
        session,
        [LeadCandidate(p.record.id, p.domain, p.record.customer_name) for p in to_link if p.domain],
        now=now,
        scans=scans,
        co_sell_domains={p.domain for p in to_link if p.domain and p.kind == "co-sell"},
        co_sell_boost=co_sell_boost,
    )
    outcome.leads_created, outcome.leads_linked = len(links.created), len(to_link)

    new_rows = []
    for p in new:
        row = _row(p, now)
        row["lead_id"] = links.lead_ids.get(p.domain) if p.domain else None
        row["first_seen_at"] = now
        new_rows.append(row)
    changed_rows = []
    for p in changed:
        row = _row(p, now)
        old_lead = stored[p.record.id].lead_id
        row["lead_id"] = links.lead_ids.get(p.domain, old_lead) if p.domain else old_lead
        changed_rows.append(row)
    sync_repo.insert_referrals(session, new_rows)
    sync_repo.update_referrals(session, changed_rows)
    outcome.inserted, outcome.updated = len(new_rows), len(changed_rows)

    # The outbox, in the same transaction as the change it announces.
    outcome.notified = _write_outbox(session, new, changed, now=now)

    # Leads created above are scored already. An older lead's score moves only when it gains a co-sell
    # referral (a new one: known without a query) or when a changed referral may have moved away from it.
    gained = {p.domain for p in new if p.domain and p.kind == "co-sell"} - links.created
    if gained:
        refresh_scores(
            session, gained, co_sell_boost=co_sell_boost, now=now, scans=scans, lead_ids=links.lead_ids, co_sell=True
        )
    moved = {d for p in changed for d in (p.domain, stored[p.record.id].customer_domain) if d} - links.created
    if moved:
        refresh_scores(session, moved, co_sell_boost=co_sell_boost, now=now)
    cutoff = now - rescan_after
    outcome.scan_due = {d for d in touched if d not in scans or scans[d].scanned_at < cutoff}
    return outcome
