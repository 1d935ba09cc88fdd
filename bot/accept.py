"""Accept from a card (placeholder)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.router import Caller
from bot.services import Services
from storage.models import Referral


async def accept_referral(
    services: Services,
    referral: Referral,
    caller: Caller,
    conversation: Any,
    render: Callable[..., Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    return await render(referral, note="Accept is not available yet.")
