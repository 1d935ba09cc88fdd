"""`status`: is everything healthy? Last and next sync, sign-in, sales channels."""

from __future__ import annotations

from sqlmodel import Session

from bot.router import CommandRequest, Reply, Router
from cards.status import StatusView, status_card
from storage import queries
from storage.conversations import sales_channels
from storage.models import ConversationRef, SignIn, SyncRun


def _snapshot(session: Session) -> tuple[SyncRun | None, SignIn | None, list[ConversationRef]]:
    return queries.last_sync_run(session), queries.sign_in_state(session), sales_channels(session)


def register(router: Router) -> None:
    @router.command("status")
    async def status(req: CommandRequest) -> Reply:
        """Show the last and next sync, sign-in health and sales channels."""
        services = req.services
        last_run, sign_in, channels = await services.db(_snapshot)
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
