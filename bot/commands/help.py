"""`help`: generated from the registry, so it can never drift from what the bot understands."""

from __future__ import annotations

from bot.router import CommandRequest, Reply, Router
from cards.help import help_card


def register(router: Router) -> None:
    @router.command("help")
    async def show_help(req: CommandRequest) -> Reply:
        """Show every command with its form."""
        return Reply(card=help_card([(s.usage, s.description, s.admin) for s in router.visible_specs()]))
