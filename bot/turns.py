"""The bot's behaviour per activity, free of botbuilder: remember conversations, greet, route commands and cards."""

from __future__ import annotations

import dataclasses
import logging
import time
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


# Every activity refreshes its conversation's stored reference; one seen unchanged this recently is not
# written again (most turns: a database round trip saved). Another process's change (an uninstall seen by a
# replica) is picked up once the entry is this old.
REMEMBERED_FOR_SECONDS = 60.0
REMEMBERED_MAX = 10_000


class Turns:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.actions = CardActions(services)
        self._remembered: dict[str, tuple[dict[str, Any], float]] = {}

    async def remember(self, info: ConversationInfo, *, force: bool = False) -> None:
        """Store or refresh the conversation's reference (`force`: even if just seen unchanged: installs)."""
        fields = _fields(info)
        seen = self._remembered.get(info.conversation_id)
        if not force and seen is not None and seen[0] == fields and time.monotonic() - seen[1] < REMEMBERED_FOR_SECONDS:
            return
        sales_channel_id = self.services.settings.sales_channel_id
        try:
            await self.services.db(remember_conversation, dict(fields), sales_channel_id=sales_channel_id)
        except IntegrityError:  # Teams sends installationUpdate and conversationUpdate at once: the other won
            await self.services.db(remember_conversation, dict(fields), sales_channel_id=sales_channel_id)
        if len(self._remembered) >= REMEMBERED_MAX:
            self._remembered.clear()
        self._remembered[info.conversation_id] = (fields, time.monotonic())

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
        await self.remember(info, force=True)
        log.info("bot installed", extra={"conversation_type": info.conversation_type, "team": info.team_name})
        if info.conversation_type == "personal":
            greeting = messages.WELCOME_PERSONAL
        elif self.services.settings.sales_channel_id:
            greeting = messages.WELCOME_TEAM_CONFIGURED
        else:
            greeting = messages.WELCOME_TEAM
        await conversation.send(Reply(text=greeting))

    async def uninstalled(self, info: ConversationInfo) -> None:
        self._remembered.clear()  # a team's removal forgets its channels too
        removed = await self.services.db(forget_conversation, info.conversation_id, team_id=info.team_id)
        log.info("bot uninstalled", extra={"conversation_id": info.conversation_id, "references_removed": removed})

    async def message(self, text: str, caller: Caller, conversation: TurnConversation) -> None:
        await self.router.dispatch(text, caller, conversation, self.services)

    async def card_action(
        self, action: dict[str, Any], caller: Caller, conversation: TurnConversation
    ) -> dict[str, Any]:
        return await self.actions.handle(action, caller, conversation)
