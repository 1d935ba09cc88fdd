"""Fixtures: a Partner Center simulator on loopback and an aiohttp client session that talks to it."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.partner_center import (
    API_PREFIX,
    FAULTS_KEY,
    REQUEST_LOG_KEY,
    SEED_FILE,
    STORE_KEY,
    Faults,
    ReferralStore,
    create_app,
)

GOOD_TOKEN = "good-token"
SEED = json.loads(SEED_FILE.read_text(encoding="utf-8"))
CO_SELL_ID = "0b1f6f7e-4a7c-4d43-9a0e-2f4b8c6d1a01"  # New/Pending, Shared, incoming
MARKETPLACE_ID = "3c7a2b19-6e0d-4f5a-8b21-9d4e6f7a8b02"  # New/Pending
CLOSED_ID = "61c65491-2f2c-461a-84b4-3654499bc1d9"  # Closed/Lost
ACTIVE_ID = "4111fffc-f9ee-4d53-bba6-569135228642"  # Active/Accepted, outgoing
RECEIVED_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05"  # New/Received


@dataclass
class Reply:
    status: int
    headers: Any
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Sim:
    """A running simulator and a session with a good bearer token."""

    app: web.Application
    base: str
    session: aiohttp.ClientSession

    @property
    def store(self) -> ReferralStore:
        return self.app[STORE_KEY]

    @property
    def faults(self) -> Faults:
        return self.app[FAULTS_KEY]

    @property
    def log(self) -> list[dict[str, Any]]:
        return self.app[REQUEST_LOG_KEY]

    def url(self, path: str = API_PREFIX) -> str:
        return path if path.startswith("http") else self.base + path

    async def request(self, method: str, path: str = API_PREFIX, **kwargs: Any) -> Reply:
        async with self.session.request(method, self.url(path), **kwargs) as response:
            return Reply(response.status, response.headers, await response.text())

    async def get(self, path: str = API_PREFIX, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def patch(self, referral_id: str, ops: Any, **kwargs: Any) -> Reply:
        return await self.request("PATCH", f"{API_PREFIX}/{referral_id}", json=ops, **kwargs)


SimFactory = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(
        referrals: list[dict[str, Any]] | None = None, *, token: str | None = GOOD_TOKEN, **kwargs: Any
    ) -> Sim:
        store = ReferralStore(copy.deepcopy(SEED) if referrals is None else referrals)
        kwargs.setdefault("token_validator", {GOOD_TOKEN, "forbidden-token"})
        app = create_app(store, **kwargs)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        session = aiohttp.ClientSession(headers=headers)
        sessions.append(session)
        return Sim(app, str(server.make_url("")).rstrip("/"), session)

    yield factory
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Sim:
    return await make_sim()
