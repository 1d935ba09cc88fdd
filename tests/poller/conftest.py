"""Fixtures for the poller: the Partner Center simulator on loopback, a client talking to it, and fakes for
the parts that are not ours (token source, sleep)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.errors import NotSignedIn
from core.settings import Settings
from poller.client import PartnerCenterClient
from sandbox.partner_center.app import create_app
from sandbox.partner_center.faults import Faults
from sandbox.partner_center.keys import FAULTS_KEY, REQUEST_LOG_KEY, STORE_KEY
from sandbox.partner_center.store import ReferralStore

TOKEN = "test-token-5f1c9a7e"


class FakeTokens:
    """A TokenSource: gives `tokens` in order (the last one repeats); counts forced refreshes."""

    def __init__(self, *tokens: str, signed_in: bool = True) -> None:
        self.tokens = list(tokens or [TOKEN])
        self.calls: list[bool] = []
        self.refusals: list[str] = []
        self.signed_in = signed_in

    @property
    def refreshes(self) -> int:
        return sum(self.calls)

    async def get_token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        if not self.signed_in:
            raise NotSignedIn("nobody signed in (test)")
        if force_refresh and len(self.tokens) > 1:
            self.tokens.pop(0)
        return self.tokens[0]

    async def refused(self, reason: str) -> bool:
        self.refusals.append(reason)
        return False


@dataclass
class SleepRecorder:
    """Stands in for asyncio.sleep: records the delays and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@dataclass
class Simulator:
    app: web.Application
    server: TestServer

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def store(self) -> ReferralStore:
        return self.app[STORE_KEY]

    @property
    def faults(self) -> Faults:
        return self.app[FAULTS_KEY]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app[REQUEST_LOG_KEY]

    def add(self, referrals: Iterable[dict[str, Any]]) -> None:
        self.store.add_many(referrals)


StartSimulator = Callable[..., Any]


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """`await start_simulator(referrals, page_cap=…, token_validator=…)` → a running `Simulator`."""
    servers: list[TestServer] = []

    async def start(referrals: Iterable[dict[str, Any]] = (), **options: Any) -> Simulator:
        options.setdefault("token_validator", {TOKEN})
        app = create_app(ReferralStore(referrals), **options)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Simulator(app, server)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(http: httpx.AsyncClient, sleep: SleepRecorder) -> Callable[..., PartnerCenterClient]:
    def make(sim: Simulator, tokens: Any = None, **options: Any) -> PartnerCenterClient:
        options.setdefault("sleep", sleep)
        return PartnerCenterClient(http, tokens or FakeTokens(), base_url=sim.base_url, **options)

    return make


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"scan_enabled": False, "database_url": "sqlite://"}
    values.update(overrides)
    return Settings(**values)


class ThreadedSimulator:
    """The simulator on its own event loop in a thread, for code running in another process."""

    def __init__(self, referrals: Iterable[dict[str, Any]] = (), **options: Any) -> None:
        options.setdefault("token_validator", {TOKEN})
        self.app = create_app(ReferralStore(referrals), **options)
        self.base_url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        runner = web.AppRunner(self.app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> ThreadedSimulator:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
