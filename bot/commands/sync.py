"""`sync`: run the pipeline now (or join the run in progress) and post its summary when it ends."""

from __future__ import annotations

from bot import messages
from bot.router import CommandRequest, Reply, Router
from cards.common import format_datetime
from cards.sync import sync_summary_card


def register(router: Router) -> None:
    @router.command("sync")
    async def sync(req: CommandRequest) -> None:
        """Sync referrals from Partner Center now and report."""
        service = req.services.sync
        finished, joined = service.begin("manual")
        if joined and service.started_at is not None:
            ack = messages.SYNC_JOINED.format(started=format_datetime(service.started_at))
        else:
            ack = messages.SYNC_STARTED
        await req.conversation.send(Reply(text=ack))
        await req.conversation.typing()

        async def summary() -> Reply:
            return Reply(card=sync_summary_card(await finished))

        req.conversation.follow_up(summary)
