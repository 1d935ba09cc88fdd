"""Storage for the notification dispatcher and Accept: the outbox, posted cards, reminders and the accept audit.

Every function takes a Session and runs inside the caller's transaction (`Services.db` commits it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import AcceptAudit, ConversationRef, Lead, NotificationOutbox, PostedCard, Referral

MAX_ERROR = 500


@dataclass(frozen=True)
class Job:
    """One claimed outbox row."""

    id: int
    referral_id: str
    event: str
    attempts: int


@dataclass(frozen=True)
class Channel:
    """A sales channel to post into: its id and stored conversation reference."""

    conversation_id: str
    reference: dict[str, Any]


@dataclass(frozen=True)
class Posted:
    id: int
    referral_id: str
    conversation_id: str
    activity_id: str
    card_hash: str


# -- the outbox ---------------------------------------------------------------------------------------


def claim_due(
    session: Session, *, now: datetime, lease: timedelta, events: Sequence[str], limit: int = 100
) -> list[Job]:
    """Take up to `limit` due rows (oldest due first; returned in id order) and lease them, in one atomic statement.

    `UPDATE … WHERE id IN (due rows) RETURNING …`: a row is only ever handed to one claimer. On SQLite the
    statement takes the write lock before it reads, so a second claimer waits and then finds the rows leased; on
    PostgreSQL the inner select locks its rows and skips those another claimer holds. A claimed row that is never
    finished (the process died) becomes due again when the lease ends, so nothing is lost.
    """
    if not events or limit <= 0:
        return []
    due = (
        select(NotificationOutbox.id)
        .where(
            col(NotificationOutbox.done_at).is_(None),
            col(NotificationOutbox.next_attempt_at) <= now,
            col(NotificationOutbox.event).in_(list(events)),
        )
        .order_by(col(NotificationOutbox.next_attempt_at), col(NotificationOutbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        update(NotificationOutbox)
        .where(col(NotificationOutbox.id).in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease)
        .returning(
            col(NotificationOutbox.id),
            col(NotificationOutbox.referral_id),
            col(NotificationOutbox.event),
            col(NotificationOutbox.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(claim).all()
    return sorted((Job(row[0], row[1], row[2], row[3]) for row in rows), key=lambda job: job.id)


def finish_job(
    session: Session,
    job_id: int,
    *,
    now: datetime,
    card_hash: Callable[[Referral, Lead | None], str] | None = None,
) -> bool:
    """Mark a row done. With `card_hash`: if any posted copy (in a channel we still know) no longer matches the
    referral as stored now, queue an `update` in the same transaction and return True.

    This closes the gap between our last read and a sync that changed the referral meanwhile (the sync adds no
    second `update` row while ours is still pending).
    """
    row = session.get(NotificationOutbox, job_id)
    if row is None:
        return False
    row.done_at = now
    if card_hash is None:
        return False
    referral, lead = referral_and_lead(session, row.referral_id)
    if referral is None:
        return False
    query = (
        select(PostedCard.card_hash)
        .join(ConversationRef, col(ConversationRef.conversation_id) == col(PostedCard.conversation_id))
        .where(PostedCard.referral_id == referral.id)
    )
    shown = set(session.exec(query).all())
    if shown and shown != {card_hash(referral, lead)}:
        enqueue(session, referral.id, "update", now=now)
        return True
    return False


def retry_job(session: Session, job_id: int, *, at: datetime, error: str, count_attempt: bool = True) -> None:
    """Keep the row pending: try again at `at`, remembering why it failed."""
    row = session.get(NotificationOutbox, job_id)
    if row is not None:
        row.attempts += 1 if count_attempt else 0
        row.next_attempt_at = at
        row.last_error = error[:MAX_ERROR]


def enqueue(session: Session, referral_id: str, event: str, *, now: datetime) -> None:
    """Add an outbox row unless one of the same event is already waiting (not claimed) for this referral."""
    waiting = session.exec(
        select(NotificationOutbox.id).where(
            NotificationOutbox.referral_id == referral_id,
            NotificationOutbox.event == event,
            col(NotificationOutbox.done_at).is_(None),
            col(NotificationOutbox.next_attempt_at) <= now,
        )
    ).first()
    if waiting is None:
        session.add(NotificationOutbox(referral_id=referral_id, event=event, next_attempt_at=now, created_at=now))


def outbox_rows(session: Session) -> list[NotificationOutbox]:
    return list(session.exec(select(NotificationOutbox).order_by(col(NotificationOutbox.id))).all())


# -- channels and posted cards ------------------------------------------------------------------------


def sales_channels(session: Session) -> list[Channel]:
    query = (
        select(ConversationRef)
        .where(col(ConversationRef.is_sales_channel), col(ConversationRef.installed))
        .order_by(col(ConversationRef.conversation_id))
    )
    return [Channel(row.conversation_id, dict(row.reference)) for row in session.exec(query).all()]


def reference_of(session: Session, conversation_id: str) -> dict[str, Any] | None:
    row = session.get(ConversationRef, conversation_id)
    return dict(row.reference) if row is not None else None


def referral_and_lead(session: Session, referral_id: str) -> tuple[Referral | None, Lead | None]:
    referral = session.get(Referral, referral_id)
    if referral is None:
        return None, None
    lead = session.get(Lead, referral.lead_id) if referral.lead_id is not None else None
    return referral, lead


def posted_cards(session: Session, referral_id: str) -> list[Posted]:
    query = select(PostedCard).where(PostedCard.referral_id == referral_id).order_by(col(PostedCard.id))
    return [_posted(row) for row in session.exec(query).all()]


def _posted(row: PostedCard) -> Posted:
    assert row.id is not None
    return Posted(row.id, row.referral_id, row.conversation_id, row.activity_id, row.card_hash)


def record_posted(
    session: Session, referral_id: str, conversation_id: str, activity_id: str, card_hash: str, *, now: datetime
) -> bool:
    """Remember a card we just posted; False if one was already recorded for this referral and channel."""
    try:
        with session.begin_nested():
            session.add(
                PostedCard(
                    referral_id=referral_id,
                    conversation_id=conversation_id,
                    activity_id=activity_id,
                    card_hash=card_hash,
                    posted_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def set_card_hash(session: Session, posted_id: int, card_hash: str) -> None:
    session.execute(update(PostedCard).where(col(PostedCard.id) == posted_id).values(card_hash=card_hash))


def mark_card_stale(
    session: Session, referral_id: str, conversation_id: str, activity_id: str, *, now: datetime
) -> bool:
    """Make the dispatcher edit this posted copy (its shown content is unknown); False when it is not one we posted."""
    marked = session.execute(
        update(PostedCard)
        .where(
            col(PostedCard.referral_id) == referral_id,
            col(PostedCard.conversation_id) == conversation_id,
            col(PostedCard.activity_id) == activity_id,
        )
        .values(card_hash="")
    )
    if not getattr(marked, "rowcount", 0):
        return False
    enqueue(session, referral_id, "update", now=now)
    return True


# -- reminders ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderDue:
    posted: Posted
    expires_at: datetime


def reminders_due(session: Session, *, now: datetime, within: timedelta, limit: int = 100) -> list[ReminderDue]:
    """Posted cards of co-sell referrals still New that expire within `within` and got no reminder yet."""
    query = (
        select(PostedCard, Referral)
        .join(Referral, col(Referral.id) == col(PostedCard.referral_id))
        .where(
            Referral.kind == "co-sell",
            Referral.status == "New",
            col(Referral.expires_at).is_not(None),
            col(Referral.expires_at) > now,
            col(Referral.expires_at) <= now + within,
            col(PostedCard.reminder_sent_at).is_(None),
        )
        .order_by(col(Referral.expires_at))
        .limit(limit)
    )
    due: list[ReminderDue] = []
    for card, referral in session.exec(query).all():
        assert referral.expires_at is not None
        due.append(ReminderDue(_posted(card), referral.expires_at))
    return due


@dataclass(frozen=True)
class Countdown:
    """A posted card whose time left is still counting down: the referral as stored, its lead and channel."""

    posted: Posted
    referral: Referral
    lead: Lead | None
    reference: dict[str, Any]


def countdown_cards(
    session: Session, *, now: datetime, expired_for: timedelta, posted_id: int | None = None, limit: int = 500
) -> list[Countdown]:
    """Posted cards (in channels we are still in) of referrals still New with an expiry date, soonest first;
    with `posted_id` only that one.

    Cards that expired less than `expired_for` ago are included, so they are edited once more to say "expired".
    """
    query = (
        select(PostedCard, Referral, ConversationRef)
        .join(Referral, col(Referral.id) == col(PostedCard.referral_id))
        .join(ConversationRef, col(ConversationRef.conversation_id) == col(PostedCard.conversation_id))
        .where(
            Referral.status == "New",
            col(Referral.expires_at).is_not(None),
            col(Referral.expires_at) > now - expired_for,
            col(ConversationRef.installed),
        )
        .order_by(col(Referral.expires_at), col(PostedCard.id))
        .limit(limit)
    )
    if posted_id is not None:
        query = query.where(col(PostedCard.id) == posted_id)
    found: list[Countdown] = []
    for card, referral, conversation in session.exec(query).all():
        lead = session.get(Lead, referral.lead_id) if referral.lead_id is not None else None
        found.append(Countdown(_posted(card), referral, lead, dict(conversation.reference)))
    return found


def mark_reminded(session: Session, posted_id: int, *, now: datetime) -> None:
    card = session.get(PostedCard, posted_id)
    if card is None:
        return
    card.reminder_sent_at = now
    referral = session.get(Referral, card.referral_id)
    if referral is not None and referral.reminder_sent_at is None:
        referral.reminder_sent_at = now


# -- accept -------------------------------------------------------------------------------------------


def get_referral(session: Session, referral_id: str) -> Referral | None:
    return session.get(Referral, referral_id)


def store_referral_state(
    session: Session,
    referral_id: str,
    fields: dict[str, Any],
    *,
    now: datetime,
    accepted_by: tuple[str | None, str | None] | None = None,
) -> Referral | None:
    """Write what Partner Center now says about a referral (and who accepted it), and queue the card edit."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        return None
    for key, value in fields.items():
        setattr(referral, key, value)
    if accepted_by is not None:
        referral.accepted_by_name, referral.accepted_by_aad_id = accepted_by
        referral.accepted_in_teams_at = now
    referral.last_synced_at = now
    session.add(referral)
    enqueue(session, referral_id, "update", now=now)
    return referral


def audit_accept(
    session: Session,
    referral_id: str,
    *,
    user_name: str | None,
    user_aad_object_id: str | None,
    outcome: str,
    detail: str | None,
    now: datetime,
) -> None:
    session.add(
        AcceptAudit(
            referral_id=referral_id[:64],
            user_name=user_name,
            user_aad_object_id=user_aad_object_id[:64] if user_aad_object_id else None,
            outcome=outcome,
            detail=detail[:MAX_ERROR] if detail else None,
            at=now,
        )
    )


def accept_audits(session: Session, referral_id: str | None = None) -> list[AcceptAudit]:
    query = select(AcceptAudit).order_by(col(AcceptAudit.id))
    if referral_id is not None:
        query = query.where(AcceptAudit.referral_id == referral_id)
    return list(session.exec(query).all())
