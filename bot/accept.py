"""Accept from a referral card: move the referral to Active/Accepted in Partner Center, show who did it.

- Only a referral still `New` is patched: JSON Patch with `If-Match` = the stored eTag and
  `Prefer: return=representation`. On 412 the referral is read again once; if it is still `New` the patch is
  retried with the fresh eTag, otherwise (accepted or closed elsewhere) nothing is sent and the card says so.
- Success stores the returned state plus who accepted and when, queues an `update` outbox event (every posted
  copy of the card is edited for everyone) and edits the pressed message at once.
- A slow Partner Center (over `SLOW_SECONDS`) gets the presser an "Accepting…" card; the rest happens in the
  background and ends with the card edits.
- Errors (sign-in, Partner Center down) change nothing locally; the card explains. Every press is audited, with
  its outcome: also a forged or unknown referral id (`invalid`) and an unexpected failure (`failed`).
- The pressed card never stays on "Accepting…": a background accept that fails edits it back to the referral as
  stored, with a note; if that edit fails too, the posted copy is marked stale for the dispatcher to edit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import messages
from bot.adapter import spawn
from bot.router import Caller
from bot.services import Services
from core.errors import (
    DeliveryError,
    NotSignedIn,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRejected,
)
from poller.mapping import map_referral
from poller.records import InvalidReferral
from storage import notify_repo as repo
from storage.models import Referral

log = logging.getLogger(__name__)

ACCEPT_OPS: list[dict[str, Any]] = [
    {"op": "replace", "path": "/status", "value": "Active"},
    {"op": "replace", "path": "/substatus", "value": "Accepted"},
]
# The reference leaves open whether a stale If-Match gets 409 or 412 (section 5): both mean "re-read".
STALE_ETAG = (409, 412)
FORBIDDEN = 403  # signed in, but the account may not do this: a new sign-in of the same account changes nothing
SLOW_SECONDS = 3.0
EDIT_ATTEMPTS = 4  # edits of the pressed card after a slow accept, before it is left to the dispatcher
EDIT_BACKOFF = 0.5  # seconds, doubling
EDIT_WAIT_CAP = 5.0
_locks: dict[str, asyncio.Lock] = {}

Render = Callable[..., Awaitable[dict[str, Any]]]


@dataclass
class Outcome:
    """What came of one press: the audit outcome, the referral as it now is, and a note for the card."""

    outcome: str  # accepted | already_accepted | closed | conflict | error (audits also: invalid | failed)
    referral: Referral
    note: str | None = None
    detail: str | None = None


async def accept_referral(
    services: Services,
    referral: Referral,
    caller: Caller,
    conversation: Any,
    render: Render,
) -> dict[str, Any]:
    """Answer an Accept press with the card the presser should see next."""
    work = asyncio.ensure_future(_accept(services, referral.id, caller))
    done, _ = await asyncio.wait({work}, timeout=SLOW_SECONDS)
    if not done:
        log.info("Partner Center is slow; accepting in the background", extra={"referral_id": referral.id})
        spawn(_finish_later(services, referral.id, work, caller, conversation, render))
        return await render(referral, accepting=True)
    try:
        result = work.result()
    except Exception:
        log.exception("accept failed", extra={"referral_id": referral.id})
        return await _failed_card(services, referral.id, render)
    card = await render(result.referral, note=result.note)
    if result.outcome == "accepted":
        await _edit_pressed(conversation, card)
    return card


async def audit_invalid(services: Services, referral_id: Any, caller: Caller, reason: str) -> None:
    """Audit a press that named no referral we know (a forged or stale button): nothing else happens."""
    shown = referral_id if isinstance(referral_id, str) else ("" if referral_id is None else repr(referral_id))
    await _audit(services, shown, caller, "invalid", reason)
    log.warning("accept with an invalid referral id", extra={"user": caller.aad_object_id, "detail": reason[:200]})


async def _failed_card(services: Services, referral_id: str, render: Render) -> dict[str, Any]:
    """The referral as stored now, saying the accept did not finish."""
    current = await services.db(repo.get_referral, referral_id)
    if current is None:
        raise LookupError(referral_id)
    return await render(current, note=messages.ACCEPT_FAILED)


async def _finish_later(
    services: Services,
    referral_id: str,
    work: asyncio.Future[Outcome],
    caller: Caller,
    conversation: Any,
    render: Render,
) -> None:
    """After a slow accept: edit the pressed message (the presser sees "Accepting…" until then), whatever the
    outcome. A failed accept shows the referral as stored with a note; if even that edit cannot be made, the
    posted card is left to the dispatcher (marked stale), which edits it with retries."""
    card: dict[str, Any] | None
    try:
        result = await work
        card = await render(result.referral, note=result.note)
    except Exception:
        log.exception("background accept failed", extra={"referral_id": referral_id})
        try:
            card = await _failed_card(services, referral_id, render)
        except Exception:
            log.exception("could not render the card after a failed accept", extra={"referral_id": referral_id})
            card = None
    reply_to_id = getattr(conversation, "reply_to_id", None)
    if not reply_to_id:
        return
    if card is not None and await _edit_later(services, caller, reply_to_id, card):
        return
    await _leave_to_dispatcher(services, referral_id, caller, reply_to_id)


async def _edit_later(services: Services, caller: Caller, reply_to_id: str, card: dict[str, Any]) -> bool:
    """Edit the pressed message from outside the turn, retrying what the Bot Connector says may be retried."""
    reference = await services.db(repo.reference_of, _base_id(caller.conversation_id))
    if reference is None:
        return False
    for attempt in range(EDIT_ATTEMPTS):
        try:
            await services.proactive.update(reference, caller.conversation_id, reply_to_id, card)
            return True
        except DeliveryError as exc:
            log.warning("could not edit the pressed card after a slow accept", extra={"error": str(exc)[:200]})
            if not exc.retryable or attempt + 1 == EDIT_ATTEMPTS:
                return False
            await asyncio.sleep(min(EDIT_WAIT_CAP, exc.retry_after or EDIT_BACKOFF * 2**attempt))
    return False


async def _leave_to_dispatcher(services: Services, referral_id: str, caller: Caller, reply_to_id: str) -> None:
    """Mark the posted copy as out of date so the dispatcher edits it (it retries until it can)."""
    try:
        queued = await services.db(
            repo.mark_card_stale, referral_id, _base_id(caller.conversation_id), reply_to_id, now=services.now()
        )
    except Exception:
        log.exception("could not queue the card edit after a slow accept", extra={"referral_id": referral_id})
        return
    if queued:
        services.wake_dispatcher()
    else:
        log.error("the pressed card may still say Accepting… (not a posted card)", extra={"referral_id": referral_id})


def _base_id(conversation_id: str) -> str:
    return conversation_id.split(";messageid=")[0]


async def _edit_pressed(conversation: Any, card: dict[str, Any]) -> None:
    """Edit the message holding the pressed card for everyone, right away (the dispatcher edits the rest)."""
    reply_to_id = getattr(conversation, "reply_to_id", None)
    if not reply_to_id:
        return
    try:
        await conversation.update_card(reply_to_id, card)
    except Exception:  # the dispatcher's edit follows anyway
        log.warning("could not edit the pressed card", exc_info=True)


async def _accept(services: Services, referral_id: str, caller: Caller) -> Outcome:
    try:
        async with _locks.setdefault(referral_id, asyncio.Lock()):
            result = await _accept_locked(services, referral_id, caller)
    except Exception as exc:  # a bug or a database failure: audited too, then the caller shows it
        await _audit(services, referral_id, caller, "failed", f"{type(exc).__name__}: {exc}")
        raise
    await _audit(services, referral_id, caller, result.outcome, result.detail)
    log.info(
        "accept pressed", extra={"referral_id": referral_id, "outcome": result.outcome, "user": caller.aad_object_id}
    )
    if result.outcome != "error":
        services.wake_dispatcher()
    return result


async def _audit(services: Services, referral_id: str, caller: Caller, outcome: str, detail: str | None) -> None:
    await services.db(
        repo.audit_accept,
        referral_id,
        user_name=caller.name,
        user_aad_object_id=caller.aad_object_id,
        outcome=outcome,
        detail=detail,
        now=services.now(),
    )


async def _accept_locked(services: Services, referral_id: str, caller: Caller) -> Outcome:
    referral = await services.db(repo.get_referral, referral_id)
    if referral is None:
        raise LookupError(referral_id)  # the caller found it a moment ago; it is never deleted
    if referral.status != "New":
        return _not_acceptable(referral, detail=f"stored status {referral.status}/{referral.substatus}")
    client = services.partner_center
    try:
        try:
            body = await client.patch_referral(referral.id, ACCEPT_OPS, if_match=referral.etag or None)
        except UpstreamRejected as exc:
            if exc.status not in STALE_ETAG:
                raise
            body = await client.get_referral(referral.id)
            if exc.maybe_applied and _accepted(body):  # our PATCH went through; only its answer was lost
                log.info("accept applied before a retry's %s", exc.status, extra={"referral_id": referral.id})
            else:
                fresh = await _store(services, referral.id, body)
                if fresh.status != "New":
                    return _not_acceptable(fresh, detail=f"{exc.status}; changed in Partner Center meanwhile")
                try:
                    body = await client.patch_referral(fresh.id, ACCEPT_OPS, if_match=fresh.etag or None)
                except UpstreamRejected as again:
                    if again.status not in STALE_ETAG:
                        raise
                    return Outcome("conflict", fresh, messages.ACCEPT_CONFLICT, f"{again.status} twice")
        if body is None:
            body = await client.get_referral(referral.id)
        accepted = await _store(services, referral.id, body, accepted_by=(caller.name, caller.aad_object_id))
    except NotSignedIn as exc:
        return Outcome("error", referral, messages.ACCEPT_NOT_SIGNED_IN, f"NotSignedIn: {exc}")
    except UpstreamAuthError as exc:
        note = messages.ACCEPT_FORBIDDEN if exc.status == FORBIDDEN else messages.ACCEPT_AUTH_FAILED
        return Outcome("error", referral, note, _describe(exc))
    except UpstreamError as exc:
        return Outcome("error", referral, messages.ACCEPT_UNAVAILABLE, _describe(exc))
    return Outcome("accepted", accepted, None, f"now {accepted.status}/{accepted.substatus}")


def _accepted(body: dict[str, Any]) -> bool:
    return body.get("status") == "Active" and body.get("substatus") == "Accepted"


def _not_acceptable(referral: Referral, *, detail: str) -> Outcome:
    if referral.status == "Closed":
        note = messages.ACCEPT_CLOSED.format(substatus=referral.substatus or "closed")
        return Outcome("closed", referral, note, detail)
    if referral.status == "Active":
        note = (
            messages.ACCEPT_ALREADY_BY.format(name=referral.accepted_by_name)
            if referral.accepted_by_name
            else messages.ACCEPT_ALREADY
        )
        return Outcome("already_accepted", referral, note, detail)
    return Outcome("closed", referral, messages.ACCEPT_NOT_POSSIBLE.format(status=referral.status), detail)


def _describe(exc: UpstreamError) -> str:
    return f"{type(exc).__name__} {exc.status or ''}: {exc}".strip()


async def _store(
    services: Services,
    referral_id: str,
    raw: dict[str, Any],
    *,
    accepted_by: tuple[str | None, str | None] | None = None,
) -> Referral:
    """Store Partner Center's view of the referral (and queue the card edit); returns the stored row."""
    payload = {k: v for k, v in raw.items() if not k.startswith("@odata")}
    try:
        record = map_referral(payload)
    except InvalidReferral as exc:
        raise UpstreamError(f"Partner Center sent an unusable referral: {exc.reason}") from exc
    fields = {
        "status": record.status,
        "substatus": record.substatus,
        "status_reason": record.status_reason,
        "etag": record.etag,
        "updated_at": record.updated_at,
        "accepted_at": record.accepted_at,
        "closed_at": record.closed_at,
        "raw": payload,
    }
    if record.expires_at is not None:
        fields["expires_at"] = record.expires_at
    stored = await services.db(
        repo.store_referral_state, referral_id, fields, now=services.now(), accepted_by=accepted_by
    )
    if stored is None:
        raise LookupError(referral_id)
    return stored
