"""Every command family registers itself here; help and the manifest read the resulting registry."""

from __future__ import annotations

from bot.commands import channels, help, referrals, signin, status, sync
from bot.router import Router
from core.settings import Settings


def build_router(settings: Settings) -> Router:
    router = Router(is_admin=settings.is_admin)
    for family in (help, sync, referrals, status, channels, signin):
        family.register(router)
    return router
