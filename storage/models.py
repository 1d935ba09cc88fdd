"""The tables. One row per Partner Center referral, lead, domain scan, sync run and notification fact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import JSONType, UTCDateTime, utcnow


def _dt(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json(default_factory: Any) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSONType, nullable=False))


class Referral(SQLModel, table=True):
    """A Partner Center referral as last seen, with its raw payload."""

    __tablename__ = "referral"
    __table_args__ = (
        # newest-first paging: (created_at, id) both descending, so the LIMIT walks the index with no sort
        Index("ix_referral_kind_status_created", "kind", "status", "created_at", "id"),
        Index("ix_referral_status_created", "status", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    engagement_id: str | None = Field(default=None, max_length=64)
    name: str | None = None
    kind: str = Field(max_length=16)
    direction: str = Field(max_length=16)
    status: str = Field(max_length=16)
    substatus: str | None = Field(default=None, max_length=16)
    status_reason: str | None = None
    referral_type: str | None = Field(default=None, max_length=32)
    qualification: str | None = Field(default=None, max_length=32)
    invited_by_org_id: str | None = Field(default=None, max_length=64)
    invited_by_org_name: str | None = None
    customer_name: str | None = None
    customer_domain: str | None = Field(default=None, max_length=255, index=True)
    country: str | None = Field(default=None, max_length=8)
    deal_value: float | None = None
    currency: str | None = Field(default=None, max_length=8)
    notes: str | None = None
    invite_notes: str | None = None
    etag: str = Field(default="", max_length=128)
    created_at: datetime | None = _dt()
    updated_at: datetime | None = _dt()
    expires_at: datetime | None = _dt()
    accepted_at: datetime | None = _dt()
    closed_at: datetime | None = _dt()
    raw: dict[str, Any] = _json(dict)
    lead_id: int | None = Field(default=None, foreign_key="lead.id", index=True)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_synced_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    accepted_by_name: str | None = None
    accepted_by_aad_id: str | None = Field(default=None, max_length=64)
    accepted_in_teams_at: datetime | None = _dt()
    reminder_sent_at: datetime | None = _dt()


class Lead(SQLModel, table=True):
    """A customer organisation, keyed by its registrable domain."""

    __tablename__ = "lead"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=255, unique=True)
    company: str | None = None
    source: str = Field(default="partner_center", max_length=32)
    external_id: str | None = Field(default=None, max_length=64)
    segment: str = Field(default="Unknown", max_length=16)
    score: int = Field(default=0, index=True)
    score_reasons: list[str] = _json(list)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class DomainScan(SQLModel, table=True):
    """What DNS says about a customer domain's mail (MX, SPF, DMARC) and who hosts it."""

    __tablename__ = "domain_scan"

    domain: str = Field(primary_key=True, max_length=255)
    provider: str = Field(default="none", max_length=16)
    mx_hosts: list[str] = _json(list)
    spf: str | None = None
    dmarc: str | None = None
    error: str | None = None
    scanned_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SyncRun(SQLModel, table=True):
    """One run of the pipeline: when, how, what it counted and how it ended."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(default="schedule", max_length=16)
    mode: str = Field(default="full", max_length=16)
    status: str = Field(default="running", max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    finished_at: datetime | None = _dt()
    pages: int = 0
    requests: int = 0
    retries: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    leads_created: int = 0
    leads_linked: int = 0
    scanned: int = 0
    skipped: dict[str, int] = _json(dict)
    error: str | None = None
    note: str | None = None


class SyncState(SQLModel, table=True):
    """The incremental-sync bookkeeping; a single row (id 1)."""

    __tablename__ = "sync_state"

    id: int = Field(default=1, primary_key=True)
    watermark: datetime | None = _dt()
    last_full_sweep_at: datetime | None = _dt()


class NotificationOutbox(SQLModel, table=True):
    """Work for the dispatcher, written in the same transaction as the referral change it announces."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_outbox_pending", "done_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(foreign_key="referral.id", index=True, max_length=64)
    event: str = Field(default="post", max_length=16)  # post | update | reminder
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    done_at: datetime | None = _dt()


class PostedCard(SQLModel, table=True):
    """A referral card we posted into a channel, so it can be edited instead of posted again."""

    __tablename__ = "posted_card"
    __table_args__ = (UniqueConstraint("referral_id", "conversation_id", name="uq_posted_card"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(foreign_key="referral.id", index=True, max_length=64)
    conversation_id: str = Field(max_length=255)
    activity_id: str = Field(max_length=255)
    card_hash: str = Field(default="", max_length=64)
    posted_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    reminder_sent_at: datetime | None = _dt()


class ConversationRef(SQLModel, table=True):
    """A stored Bot Framework conversation reference (personal chat, group chat or channel)."""

    __tablename__ = "conversation_ref"

    conversation_id: str = Field(primary_key=True, max_length=255)
    conversation_type: str = Field(default="personal", max_length=16)
    tenant_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=255)
    team_name: str | None = None
    channel_name: str | None = None
    user_aad_object_id: str | None = Field(default=None, max_length=64, index=True)
    service_url: str = ""
    reference: dict[str, Any] = _json(dict)
    is_sales_channel: bool = Field(default=False, index=True)
    installed: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AcceptAudit(SQLModel, table=True):
    """Every press of Accept, whatever came of it."""

    __tablename__ = "accept_audit"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(index=True, max_length=64)
    user_name: str | None = None
    user_aad_object_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=32)
    detail: str | None = None
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SignIn(SQLModel, table=True):
    """The Partner Center sign-in: an encrypted MSAL token cache plus its health; a single row (id 1)."""

    __tablename__ = "sign_in"

    id: int = Field(default=1, primary_key=True)
    encrypted_cache: str | None = None
    username: str | None = None
    home_account_id: str | None = None
    state: str = Field(default="signed_out", max_length=16)  # signed_in | needs_login | unreadable | signed_out
    failure_reason: str | None = None
    has_refresh_token: bool = False
    signed_in_at: datetime | None = _dt()
    last_refresh_at: datetime | None = _dt()
    access_token_expires_at: datetime | None = _dt()
    admins_notified_at: datetime | None = _dt()


class SignInNotice(SQLModel, table=True):
    """An admin already told that the Partner Center sign-in was lost; cleared when a sign-in works again."""

    __tablename__ = "sign_in_notice"

    aad_object_id: str = Field(primary_key=True, max_length=255)  # lower-cased
    notified_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
