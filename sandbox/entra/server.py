"""Serving an aiohttp app from a background thread with its own event loop.

MSAL's calls block (it uses `requests`). Code that calls MSAL on an event loop which also serves the fake
Entra would deadlock; `poller.signin` runs MSAL in worker threads, so both set-ups work, but scripts that call
MSAL directly (or want the fake outside any loop) can serve it from here.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web


class BackgroundServer:
    """Serves `app` on `host`:`port` (0 = any free port) from a daemon thread; `url` once started."""

    def __init__(
        self,
        app: web.Application,
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._app = app
        self._ssl = ssl_context
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> str:
        """Start serving; returns the base URL (`https://127.0.0.1:<port>` with an SSL context)."""
        self._thread = threading.Thread(target=self._run, name="background-aiohttp", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"background server failed to start: {self._error}") from self._error
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._cleanup())
        loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if self._ssl else 'http'}://{self._host}:{port}"

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class RunningEntra:
    """The fake Entra started by `serve`: its base URL (the `AZURE_AUTHORITY_HOST`) and how to stop it."""

    name: str
    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(
    app: web.Application,
    *,
    ssl_context: ssl.SSLContext,
    host: str = "127.0.0.1",
    port: int = 8102,
    name: str = "entra",
) -> RunningEntra:
    """Start `app` over HTTPS on the running loop (port 0 picks a free one) and return at once."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return RunningEntra(name, f"https://{host}:{bound}", runner)
