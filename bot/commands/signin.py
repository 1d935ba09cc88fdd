"""`/login` and `/logout` (placeholder until device-code sign-in lands)."""

from __future__ import annotations

from bot import messages
from bot.router import PERSONAL, CommandRequest, Reply, Router


def register(router: Router) -> None:
    @router.command("/login", admin=True, scopes=frozenset({PERSONAL}), scope_hint=messages.LOGIN_PERSONAL_ONLY)
    async def login(req: CommandRequest) -> Reply:
        """Sign in to Partner Center with a device code."""
        return Reply(text=messages.SIGNIN_NOT_AVAILABLE)

    @router.command("/logout", admin=True, scopes=frozenset({PERSONAL}), scope_hint=messages.LOGOUT_PERSONAL_ONLY)
    async def logout(req: CommandRequest) -> Reply:
        """Forget the stored Partner Center sign-in."""
        return Reply(text=messages.SIGNIN_NOT_AVAILABLE)
