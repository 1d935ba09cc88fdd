"""The sign-in world of the end-to-end tests: the real bot app, the fake Bot Connector, the fake Entra ID (real
MSAL) and the Partner Center simulator that accepts only the fake Entra's access tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from bot import messages
from bot.app import SERVICES, create_app
from bot.services import Services
from core.settings import Settings
from sandbox.entra import FakeEntra, TlsFiles
from storage.db import session_scope
from storage.models import SignIn
from tests.bot.conftest import Simulator, describe
from tests.fakes.activities import ADMIN, SELLER, Teams
from tests.fakes.connector import FakeConnector, Sent

ADA = "ada@contoso.example"
NOTICE = messages.SIGNIN_LOST_ADMIN_NOTICE.split("(")[0].strip()


@dataclass
class World:
    client: TestClient
    connector: FakeConnector
    teams: Teams
    services: Services
    entra: FakeEntra
    entra_http: aiohttp.ClientSession
    simulator: Simulator

    async def post(self, activity: dict[str, Any]) -> None:
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    async def say(self, text: str, *, user: dict[str, Any] = ADMIN, where: str = "personal") -> list[str]:
        before = len(self.connector.sent)
        await self.post(self.teams.message(text, user=user, where=where))
        return [describe(s) for s in self.connector.sent[before:]]

    async def login(self) -> tuple[str, int]:
        """`/login` as the admin; returns the code on its card and where the connector log stood before.

        (A follow-up of an earlier `/login` may land in between, so the card is looked for, not assumed.)
        """
        mark = len(self.connector.sent)
        await self.say("/login")
        cards = [s.card for s in self.connector.sent[mark:] if s.card is not None]
        assert len(cards) == 1, self.connector.summary()
        return code_on(cards[0]), mark

    async def approve(self, code: str, username: str = ADA, *, decline: bool = False) -> None:
        body = {"user_code": code, "username": username, "decline": decline}
        async with self.entra_http.post("/_sandbox/approve", json=body) as response:
            assert response.status == 200, await response.text()

    async def sign_in(self, username: str = ADA) -> None:
        code, mark = await self.login()
        await self.approve(code, username)
        await self.texts_after(mark, lambda t: t.startswith("Signed in"))

    async def entra_post(self, path: str) -> dict[str, Any]:
        async with self.entra_http.post(path) as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return answer

    async def texts_after(self, mark: int, wanted: Callable[[str], bool], timeout: float = 20) -> list[str]:
        await self.connector.wait_for(lambda c: any(wanted(s.text) for s in c.sent[mark:]), timeout=timeout)
        return [s.text for s in self.connector.sent[mark:] if s.text]

    def sent_to(self, user: dict[str, Any]) -> list[Sent]:
        conversation = self.teams.personal_conversation(user)["id"]
        return [s for s in self.connector.sent if s.conversation_id == conversation]

    def notices_to(self, user: dict[str, Any]) -> list[Sent]:
        return [s for s in self.sent_to(user) if NOTICE in s.text]

    def row(self) -> SignIn | None:
        with session_scope(self.services.engine) as session:
            return session.get(SignIn, 1)


def code_on(card: dict[str, Any] | None) -> str:
    assert card is not None
    [code] = [b["text"] for b in card["body"] if b.get("fontType") == "Monospace"]
    return str(code)


def e2e_settings(
    make_settings: Callable[..., Settings], database_url: str, simulator_url: str, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "partner_center_api_url": simulator_url,
        "scan_enabled": False,
        "admin_aad_object_ids": [ADMIN["aadObjectId"]],
        "dispatch_interval_seconds": 0.2,
    }
    values.update(extra)
    return make_settings(database_url, **values)


@asynccontextmanager
async def open_world(
    settings: Settings,
    *,
    simulator: Simulator,
    connector: FakeConnector,
    entra: FakeEntra,
    entra_url: str,
    tls_files: TlsFiles,
    installed: Iterable[dict[str, Any]] = (ADMIN, SELLER),
) -> AsyncIterator[World]:
    """The bot app serving `settings`; the `installed` users have a personal chat with it."""
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    http = aiohttp.ClientSession(entra_url, connector=aiohttp.TCPConnector(ssl=tls_files.client_context()))
    world = World(client, connector, Teams(connector.url), app[SERVICES], entra, http, simulator)
    try:
        for user in installed:
            await world.post(world.teams.personal_install(user))
        yield world
    finally:
        await http.close()
        await client.close()
        await asyncio.sleep(0)


def pc_calls(world: World) -> int:
    return len(world.simulator.requests)
