"""Notification dispatcher (placeholder: consumes nothing yet)."""

from __future__ import annotations

from bot.services import Services


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def stop(self) -> None:
        return None


def start_dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services)
