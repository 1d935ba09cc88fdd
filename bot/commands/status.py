"""`status`: is everything healthy? Last and next sync, sign-in, sales channels."""

from __future__ import annotations

from sqlmodel import Session

from bot.router import CommandRequest, Reply, Router
from cards.status import StatusView, status_card
from core.settings import Settings
from poller.signin import unreadable_reason
from storage import queries
from storage.conversations import sales_channels
from storage.models import ConversationRef, SignIn, SyncRun


def _snapshot(session: Session, settings: Settings) -> tuple[SyncRun | None, SignIn | None, list[ConversationRef]]:
    sign_in = shown_sign_in(settings, queries.sign_in_state(session))
    return queries.last_sync_run(session), sign_in, sales_channels(session)


def shown_sign_in(settings: Settings, row: SignIn | None) -> SignIn | None:
    """The stored sign-in as `status` shows it, judged with the current TOKEN_CACHE_KEY.

    A cache that key can't decrypt is no sign-in, whatever the row says (no sync may have tried it yet): it
    shows as needing a login, with why. One that became readable again shows as signed in.
    """
    if row is None or row.state not in ("signed_in", "unreadable") or not row.encrypted_cache:
        return row
    reason = unreadable_reason(settings, row.encrypted_cache)
    if reason is None:
        return row.model_copy(update={"state": "signed_in", "failure_reason": None})
    lost = {
        "state": "needs_login",
        "failure_reason": reason,
        "has_refresh_token": False,
        "access_token_expires_at": None,
    }
    return row.model_copy(update=lost)


def register(router: Router) -> None:
    @router.command("status")
    async def status(req: CommandRequest) -> Reply:
        """Show the last and next sync, sign-in health and sales channels."""
        services = req.services
        last_run, sign_in, channels = await services.db(_snapshot, services.settings)
        view = StatusView(
            last_run=last_run,
            next_run_at=services.next_sync_at(),
            poller_enabled=services.settings.poller_enabled,
            sign_in=sign_in,
            static_token=bool(services.settings.partner_center_access_token),
            sales_channels=channels,
            now=services.now(),
        )
        return Reply(card=status_card(view))
