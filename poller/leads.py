"""Lead-link: one lead per customer domain; referrals point at it; scores follow the scan and co-sell."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from poller.score import score_lead
from storage import sync_repo
from storage.models import DomainScan


@dataclass(frozen=True, slots=True)
class LeadCandidate:
    """A referral being stored that has a customer domain."""

    referral_id: str
    domain: str
    company: str | None


@dataclass(slots=True)
class LeadLinks:
    lead_ids: dict[str, int]  # domain → lead id, for every candidate domain
    created: set[str]  # domains whose lead was created now


def ensure_leads(session: Session, candidates: Collection[LeadCandidate], *, now: datetime) -> LeadLinks:
    """The lead of every candidate's domain, creating missing ones (company = customer name,
    `source="partner_center"`, `external_id` = the first referral seen for that domain)."""
    domains = {c.domain for c in candidates}
    if not domains:
        return LeadLinks({}, set())
    lead_ids = sync_repo.lead_ids_by_domain(session, domains)
    new: dict[str, tuple[str | None, str]] = {}
    for c in candidates:
        if c.domain not in lead_ids and c.domain not in new:
            new[c.domain] = (c.company, c.referral_id)
    created = sync_repo.create_leads(session, new, now=now) if new else set()
    if new:
        lead_ids.update(sync_repo.lead_ids_by_domain(session, new.keys()))
    return LeadLinks(lead_ids, created)


def refresh_scores(
    session: Session,
    domains: Collection[str],
    *,
    co_sell_boost: int,
    now: datetime,
    scans: Mapping[str, DomainScan] | None = None,
) -> int:
    """Recompute segment/score/reasons of the leads on these domains; returns how many."""
    if not domains:
        return 0
    leads = sync_repo.leads_for_scoring(session, domains)
    if scans is None:
        scans = sync_repo.scans_by_domain(session, domains)
    co_sell = sync_repo.leads_with_co_sell(session, [lead_id for lead_id, _ in leads])
    updates: list[dict[str, Any]] = []
    for lead_id, domain in leads:
        scan = scans.get(domain)
        result = score_lead(
            scan.provider if scan is not None else None,
            mx_hosts=scan.mx_hosts if scan is not None else None,
            has_co_sell=lead_id in co_sell,
            co_sell_boost=co_sell_boost,
        )
        updates.append(
            {"id": lead_id, "segment": result.segment, "score": result.score,
             "score_reasons": result.reasons, "updated_at": now}
        )
    sync_repo.update_lead_scores(session, updates)
    return len(updates)
