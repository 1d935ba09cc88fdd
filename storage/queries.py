"""Read queries behind the chat commands; each takes a session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, literal
from sqlalchemy import select as core_select
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from storage.models import DomainScan, Lead, Referral, SignIn, SyncRun

OPEN_STATUSES = ("New", "Active")
KIND_PRIORITY = ("co-sell", "ms-lead", "marketplace", "other")


# Counting every match costs more than the rest of a list command once there are tens of thousands (an
# index walk per request); past this many the list says "1,000+".
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class ListedReferral:
    """One line of the referral list: only what the list card shows."""

    id: str
    kind: str
    status: str
    substatus: str | None
    customer_name: str | None
    name: str | None
    deal_value: float | None
    currency: str | None
    expires_at: datetime | None


_REFERRAL: Table = Referral.__table__  # type: ignore[attr-defined]
_LISTED = [_REFERRAL.c[f.name] for f in fields(ListedReferral)]


def _list_statements(with_kind: bool) -> tuple[Any, Any]:
    """(count up to :cap, one page) for the statuses in :statuses (and :kind). Built once: building a
    statement is a good part of what a query costs SQLAlchemy."""
    c = _REFERRAL.c
    where: list[Any] = [c.status.in_(bindparam("statuses", expanding=True))]
    if with_kind:
        where.append(c.kind == bindparam("kind"))
    matching = core_select(literal(1)).select_from(_REFERRAL).where(*where).limit(bindparam("cap")).subquery()
    count = core_select(func.count()).select_from(matching)
    page = (
        core_select(*_LISTED)
        .where(*where)
        .order_by(c.created_at.desc(), c.id.desc())
        .offset(bindparam("offset"))
        .limit(bindparam("size"))
    )
    return count, page


_LIST_BY_KIND = _list_statements(with_kind=True)
_LIST_ALL = _list_statements(with_kind=False)


def list_referrals(
    session: Session, *, kind: str | None, statuses: Sequence[str], page: int, page_size: int
) -> tuple[list[ListedReferral], int, bool]:
    """One page of referrals, newest first; how many match, counted up to `COUNT_CAP` (or through this
    page, if further); and whether there are more than that count."""
    count, rows = _LIST_BY_KIND if kind else _LIST_ALL
    cap = max(COUNT_CAP, page * page_size) + 1
    params: dict[str, Any] = {"statuses": list(statuses), "cap": cap, "offset": (page - 1) * page_size}
    if kind:
        params["kind"] = kind
    conn = session.connection()
    counted = int(conn.execute(count, params).scalar_one())
    listed = [ListedReferral(*row) for row in conn.execute(rows, {**params, "size": page_size})]
    more = counted == cap
    return listed, counted - 1 if more else counted, more


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
