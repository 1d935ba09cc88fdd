"""`notify here`: an admin picks the channel that gets new co-sell referral cards."""

from __future__ import annotations

import logging

from bot import messages
from bot.router import CHANNEL, CommandRequest, Reply, Router
from storage.conversations import make_sales_channel

log = logging.getLogger(__name__)


def register(router: Router) -> None:
    @router.command(
        "notify here", admin=True, scopes=frozenset({CHANNEL}), scope_hint=messages.NOTIFY_HERE_ONLY_CHANNEL
    )
    async def notify_here(req: CommandRequest) -> Reply:
        """Post new co-sell referral cards in this channel."""
        channel_id = req.caller.channel_id or req.caller.conversation_id.split(";messageid=")[0]
        changed = await req.services.db(make_sales_channel, channel_id)
        log.info("sales channel set", extra={"channel_id": channel_id, "by": req.caller.aad_object_id})
        if changed:
            req.services.wake_dispatcher()
        return Reply(text=messages.NOTIFY_HERE_DONE if changed else messages.NOTIFY_HERE_ALREADY)
