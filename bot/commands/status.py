"""`status`: is everything healthy? Last and next sync, sign-in, sales channels."""

from __future__ import annotations

from bot.router import CommandRequest, Reply, Router
from cards.status import StatusView, status_card
from sqlmodel import Session
from storage import queries
from storage.conversations import sales_channels


def _snapshot(session: Session) -> tuple:  # type: ignore[type-arg]
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
