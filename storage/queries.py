"""Read queries behind the chat commands; each takes a session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from storage.models import DomainScan, Lead, Referral, SignIn, SyncRun

OPEN_STATUSES = ("New", "Active")
KIND_PRIORITY = ("co-sell", "ms-lead", "marketplace", "other")


def list_referrals(
    session: Session, *, kind: str | None, statuses: Sequence[str], page: int, page_size: int
) -> tuple[list[Referral], int]:
    """One page of referrals, newest first, and how many match in all."""
    where: list[Any] = [col(Referral.status).in_(statuses)]
    if kind:
        where.append(col(Referral.kind) == kind)
    total = session.exec(select(func.count()).select_from(Referral).where(*where)).one()
    rows = session.exec(
        select(Referral)
        .options(defer(Referral.raw))  # type: ignore[arg-type]  # the list never shows the raw payload
        .where(*where)
        .order_by(col(Referral.created_at).desc(), col(Referral.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), int(total)


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
