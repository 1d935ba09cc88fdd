"""Stored conversation references: where the bot can talk proactively, and which channels are sales channels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import ConversationRef
from storage.types import utcnow


def remember_conversation(session: Session, fields: dict[str, Any], *, sales_channel_id: str = "") -> bool:
    """Insert or refresh a reference (service URL and all); True when something was written.

    When `sales_channel_id` is one of `fields["channel_ids"]` (the bot was installed in, or hears from, the team
    that holds it), that channel is stored as a sales channel with this activity's service URL.
    """
    channel_ids = fields.pop("channel_ids", ())
    changed = _upsert(session, fields)
    if sales_channel_id and sales_channel_id in channel_ids:
        reference = dict(fields["reference"])
        reference["conversation"] = {**reference.get("conversation", {}), "id": sales_channel_id}
        changed |= _upsert(
            session,
            {
                **fields,
                "conversation_id": sales_channel_id,
                "reference": reference,
                "is_sales_channel": True,
                "channel_name": fields.get("channel_name") if fields["conversation_id"] == sales_channel_id else None,
            },
        )
    return changed


def _upsert(session: Session, fields: dict[str, Any]) -> bool:
    row = session.get(ConversationRef, fields["conversation_id"])
    if row is None:
        session.add(ConversationRef(**fields, updated_at=utcnow()))
        return True
    changed = False
    for key, value in fields.items():
        if key == "is_sales_channel" and not value:
            continue  # learning about a channel never demotes it
        if value is not None and getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    if not row.installed:
        row.installed, changed = True, True
    if changed:
        row.updated_at = utcnow()
    return changed


def forget_conversation(session: Session, conversation_id: str, *, team_id: str | None = None) -> int:
    """Drop the references of an uninstalled conversation (a whole team's, when `team_id` is given)."""
    query = select(ConversationRef).where(
        (ConversationRef.conversation_id == conversation_id)
        | ((ConversationRef.team_id == team_id) if team_id else False)
    )
    rows = session.exec(query).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def make_sales_channel(session: Session, conversation_id: str, fields: dict[str, Any] | None = None) -> bool:
    """Mark a channel as a sales channel; False when it already was one."""
    row = session.get(ConversationRef, conversation_id)
    if row is None:
        if fields is None:
            raise LookupError(conversation_id)
        session.add(ConversationRef(**{**fields, "conversation_id": conversation_id, "is_sales_channel": True}))
        return True
    if row.is_sales_channel:
        return False
    row.is_sales_channel = True
    row.updated_at = utcnow()
    return True


def sales_channels(session: Session) -> list[ConversationRef]:
    query = (
        select(ConversationRef)
        .where(col(ConversationRef.is_sales_channel))
        .order_by(col(ConversationRef.conversation_id))
    )
    return list(session.exec(query).all())


def personal_chat_of(session: Session, aad_object_id: str) -> ConversationRef | None:
    """The user's latest personal chat with the bot; object ids compare case-insensitively (as admins do)."""
    query = (
        select(ConversationRef)
        .where(
            func.lower(col(ConversationRef.user_aad_object_id)) == aad_object_id.lower(),
            ConversationRef.conversation_type == "personal",
        )
        .order_by(col(ConversationRef.updated_at).desc())
    )
    return session.exec(query).first()
