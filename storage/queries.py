"""Read queries behind the chat commands; each takes a session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal
from sqlalchemy.orm import defer, load_only
from sqlmodel import Session, col, select

from storage.models import DomainScan, Lead, Referral, SignIn, SyncRun

OPEN_STATUSES = ("New", "Active")
KIND_PRIORITY = ("co-sell", "ms-lead", "marketplace", "other")


# Counting every match costs more than the rest of a list command once there are tens of thousands (an
# index walk per request); past this many the list says "1,000+".
COUNT_CAP = 1000
LISTED_COLUMNS = ("id", "kind", "status", "substatus", "customer_name", "name", "deal_value", "currency", "expires_at")


def list_referrals(
    session: Session, *, kind: str | None, statuses: Sequence[str], page: int, page_size: int
) -> tuple[list[Referral], int, bool]:
    """One page of referrals, newest first; how many match, counted up to `COUNT_CAP` (or through this
    page, if further); and whether there are more than that count."""
    where: list[Any] = [col(Referral.status).in_(statuses)]
    if kind:
        where.append(col(Referral.kind) == kind)
    limit = max(COUNT_CAP, page * page_size) + 1
    matching = select(literal(1)).select_from(Referral).where(*where).limit(limit).subquery()
    counted = int(session.exec(select(func.count()).select_from(matching)).one())
    rows = session.exec(
        select(Referral)
        .options(load_only(*(getattr(Referral, name) for name in LISTED_COLUMNS)))
        .where(*where)
        .order_by(col(Referral.created_at).desc(), col(Referral.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    more = counted == limit
    return list(rows), counted - 1 if more else counted, more


def get_referral(session: Session, referral_id: str) -> Referral | None:
    return session.get(Referral, referral_id)


def get_lead(session: Session, lead_id: int | None) -> Lead | None:
    return session.get(Lead, lead_id) if lead_id is not None else None


def lead_by_domain(session: Session, domain: str) -> Lead | None:
    return session.exec(select(Lead).where(Lead.domain == domain)).first()


def lead_details(session: Session, lead: Lead, *, limit: int = 50) -> tuple[DomainScan | None, list[Referral]]:
    """The lead's scan and its linked referrals (newest first)."""
    scan = session.get(DomainScan, lead.domain)
    referrals = session.exec(
        select(Referral)
        .options(defer(Referral.raw))  # type: ignore[arg-type]
        .where(Referral.lead_id == lead.id)
        .order_by(col(Referral.created_at).desc())
        .limit(limit)
    ).all()
    return scan, list(referrals)


def top_leads(session: Session, *, limit: int = 10) -> list[tuple[Lead, str | None]]:
    """The best-scored leads, each with the most notable kind among its referrals."""
    leads = list(session.exec(select(Lead).order_by(col(Lead.score).desc(), col(Lead.domain)).limit(limit)).all())
    if not leads:
        return []
    pairs = session.exec(
        select(Referral.lead_id, Referral.kind).where(col(Referral.lead_id).in_([lead.id for lead in leads])).distinct()
    ).all()
    kinds: dict[int, set[str]] = {}
    for lead_id, kind in pairs:
        if lead_id is not None:
            kinds.setdefault(lead_id, set()).add(kind)
    return [(lead, next((k for k in KIND_PRIORITY if k in kinds.get(lead.id or -1, set())), None)) for lead in leads]


def last_sync_run(session: Session) -> SyncRun | None:
    return session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(1)).first()


def sign_in_state(session: Session) -> SignIn | None:
    return session.get(SignIn, 1)
