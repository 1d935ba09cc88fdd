"""The bot's behaviour per activity, free of botbuilder: remember conversations, greet, route commands and cards."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot import messages
from bot.actions import CardActions
from bot.adapter import ConversationInfo, TurnConversation
from bot.router import Caller, Reply, Router
from bot.services import Services
from storage.conversations import forget_conversation, remember_conversation

log = logging.getLogger(__name__)


def _fields(info: ConversationInfo) -> dict[str, Any]:
    """The dataclass as a flat dict (`dataclasses.asdict` would deep-copy the stored reference every turn)."""
    return {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}


class Turns:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.actions = CardActions(services)

    async def remember(self, info: ConversationInfo) -> None:
        sales_channel_id = self.services.settings.sales_channel_id
        try:
            await self.services.db(remember_conversation, _fields(info), sales_channel_id=sales_channel_id)
        except IntegrityError:  # Teams sends installationUpdate and conversationUpdate at once: the other won
            await self.services.db(remember_conversation, _fields(info), sales_channel_id=sales_channel_id)

    async def installed(self, info: ConversationInfo, conversation: TurnConversation) -> None:
        sales_channel_id = self.services.settings.sales_channel_id
        # Installed in the team through another channel (usually General): is SALES_CHANNEL_ID one of its?
        if (
            sales_channel_id
            and info.team_id
            and sales_channel_id not in info.channel_ids
            and sales_channel_id in await conversation.team_channel_ids(info.team_id)
        ):
            info = dataclasses.replace(info, channel_ids=(*info.channel_ids, sales_channel_id))
        await self.remember(info)
        log.info("bot installed", extra={"conversation_type": info.conversation_type, "team": info.team_name})
        if info.conversation_type == "personal":
            greeting = messages.WELCOME_PERSONAL
        elif self.services.settings.sales_channel_id:
            greeting = messages.WELCOME_TEAM_CONFIGURED
        else:
            greeting = messages.WELCOME_TEAM
        await conversation.send(Reply(text=greeting))

    async def uninstalled(self, info: ConversationInfo) -> None:
        removed = await self.services.db(forget_conversation, info.conversation_id, team_id=info.team_id)
        log.info("bot uninstalled", extra={"conversation_id": info.conversation_id, "references_removed": removed})

    async def message(self, text: str, caller: Caller, conversation: TurnConversation) -> None:
        await self.router.dispatch(text, caller, conversation, self.services)

    async def card_action(
        self, action: dict[str, Any], caller: Caller, conversation: TurnConversation
    ) -> dict[str, Any]:
        return await self.actions.handle(action, caller, conversation)
