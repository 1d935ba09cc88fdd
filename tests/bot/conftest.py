"""The real bot app on loopback, talking to a fake Bot Connector and the Partner Center simulator."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import SERVICES, create_app
from bot.services import Services
from core.settings import Settings
from sandbox.partner_center.app import create_app as create_simulator
from sandbox.partner_center.store import ReferralStore
from tests.fakes.activities import ADMIN, Teams
from tests.fakes.connector import FakeConnector

SEED = Path(__file__).resolve().parents[1] / "data" / "referrals.json"
TOKEN = "test-access-token"


@dataclass
class Simulator:
    store: ReferralStore
    app: web.Application
    server: TestServer

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def requests(self) -> list[dict[str, Any]]:
        from sandbox.partner_center.app import REQUEST_LOG_KEY

        log: list[dict[str, Any]] = self.app[REQUEST_LOG_KEY]
        return log


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    store = ReferralStore(json.loads(SEED.read_text()))
    app = create_simulator(store, token_validator={TOKEN})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Simulator(store, app, server)
    await server.close()


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.close()


@dataclass
class BotUnderTest:
    client: TestClient
    connector: FakeConnector
    teams: Teams
    services: Services

    async def post(self, activity: dict[str, Any], **headers: str) -> Any:
        return await self.client.post("/api/messages", json=activity, headers=headers)

    async def say(self, text: str, **kwargs: Any) -> list[str]:
        """Send a message and return the texts (and card titles) the bot sent in reply to it."""
        before = len(self.connector.sent)
        response = await self.post(self.teams.message(text, **kwargs))
        assert response.status in (200, 201), await response.text()
        return [describe(s) for s in self.connector.sent[before:]]


def describe(sent: Any) -> str:
    if sent.card is not None:
        return "card: " + card_text(sent.card)
    return sent.text or f"<{sent.activity.get('type')}>"


def card_text(card: dict[str, Any]) -> str:
    """Every string shown on a card (texts, fact titles and values, button titles), joined."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for value in node.values():
                if isinstance(value, list | dict):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return re.sub(r"\\(.)", r"\1", " | ".join(parts))  # markdown escapes render as the plain character


def bot_settings(database_url: str, simulator_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "poller_enabled": False,
        "scan_enabled": False,
        "partner_center_api_url": simulator_url,
        "partner_center_access_token": TOKEN,
        "admin_aad_object_ids": [ADMIN["aadObjectId"]],
        "dispatch_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def bot(sqlite_url: str, simulator: Simulator, connector: FakeConnector) -> AsyncIterator[BotUnderTest]:
    app = create_app(bot_settings(sqlite_url, simulator.url))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield BotUnderTest(client, connector, Teams(connector.url), app[SERVICES])
    await client.close()
    await asyncio.sleep(0)
