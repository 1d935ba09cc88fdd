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


def _score_values(scan: DomainScan | None, *, has_co_sell: bool, co_sell_boost: int, now: datetime) -> dict[str, Any]:
    result = score_lead(
        scan.provider if scan is not None else None,
        mx_hosts=scan.mx_hosts if scan is not None else None,
        has_co_sell=has_co_sell,
        co_sell_boost=co_sell_boost,
    )
    return {"segment": result.segment, "score": result.score, "score_reasons": result.reasons, "updated_at": now}


def ensure_leads(
    session: Session,
    candidates: Collection[LeadCandidate],
    *,
    now: datetime,
    scans: Mapping[str, DomainScan],
    co_sell_domains: Collection[str],
    co_sell_boost: int,
) -> LeadLinks:
    """The lead of every candidate's domain, creating missing ones already scored (company = customer name,
    `source="partner_center"`, `external_id` = the first referral seen for that domain)."""
    domains = {c.domain for c in candidates}
    if not domains:
        return LeadLinks({}, set())
    lead_ids = sync_repo.lead_ids_by_domain(session, domains)
    rows: dict[str, dict[str, Any]] = {}
    for c in candidates:
        if c.domain in lead_ids or c.domain in rows:
            continue
        rows[c.domain] = {
            "domain": c.domain,
            "company": c.company,
            "source": "partner_center",
            "external_id": c.referral_id,
            "created_at": now,
            **_score_values(
                scans.get(c.domain), has_co_sell=c.domain in co_sell_domains, co_sell_boost=co_sell_boost, now=now
            ),
        }
    if rows:
        lead_ids.update(sync_repo.insert_leads(session, list(rows.values())))
    return LeadLinks(lead_ids, set(rows))


def refresh_scores(
    session: Session,
    domains: Collection[str],
    *,
    co_sell_boost: int,
    now: datetime,
    scans: Mapping[str, DomainScan] | None = None,
    lead_ids: Mapping[str, int] | None = None,
    co_sell: bool = False,
) -> int:
    """Recompute segment/score/reasons of the leads on these domains; returns how many. `co_sell=True`
    when the caller knows every one of them has a co-sell referral (saves the query)."""
    if not domains:
        return 0
    if lead_ids is None:
        leads = sync_repo.leads_for_scoring(session, domains)
    else:
        leads = [(lead_ids[d], d) for d in domains if d in lead_ids]
    if scans is None:
        scans = sync_repo.scans_by_domain(session, domains)
    with_co_sell = (
        {lead_id for lead_id, _ in leads}
        if co_sell
        else sync_repo.leads_with_co_sell(session, [lead_id for lead_id, _ in leads])
    )
    updates = [
        {
            "id": lead_id,
            **_score_values(
                scans.get(domain), has_co_sell=lead_id in with_co_sell, co_sell_boost=co_sell_boost, now=now
            ),
        }
        for lead_id, domain in leads
    ]
    sync_repo.update_lead_scores(session, updates)
    return len(updates)
