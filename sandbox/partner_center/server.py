"""Run an aiohttp app on a TCP port without blocking, so one process can host several fake services."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class RunningService:
    """A started app: its base URL and how to stop it."""

    name: str
    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(
    app: web.Application, *, host: str = "127.0.0.1", port: int = 8101, name: str = "partner-center"
) -> RunningService:
    """Start `app` on host:port (port 0 picks a free one) and return at once."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = port
    for address in runner.addresses:  # the real port when 0 was asked for
        bound_port = address[1]
    return RunningService(name, f"http://{host}:{bound_port}", runner)
