"""/login to scheduled syncs and back, through the real bot app's `/api/messages`, the fake Bot Connector, the
fake Entra ID (real MSAL) and the Partner Center simulator that accepts only the fake Entra's access tokens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import messages
from bot.app import SERVICES, create_app
from bot.services import Services
from core.settings import Settings
from sandbox.entra import FakeEntra, TlsFiles
from sandbox.partner_center.app import create_app as create_simulator
from sandbox.partner_center.store import ReferralStore
from storage.db import session_scope
from storage.models import SignIn
from tests.bot.conftest import SEED, Simulator, card_text, describe
from tests.fakes.activities import ADMIN, SELLER, Teams
from tests.fakes.connector import FakeConnector, Sent

ADA = "ada@contoso.example"
NOTICE = messages.SIGNIN_LOST_ADMIN_NOTICE.split("(")[0].strip()


@pytest.fixture
async def simulator(entra: FakeEntra) -> AsyncIterator[Simulator]:
    store = ReferralStore(json.loads(SEED.read_text()))
    app = create_simulator(store, token_validator=entra.is_valid_access_token)
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
class World:
    client: TestClient
    connector: FakeConnector
    teams: Teams
    services: Services
    entra: FakeEntra
    entra_http: aiohttp.ClientSession
    simulator: Simulator

    async def say(self, text: str, *, user: dict[str, Any] = ADMIN, where: str = "personal") -> list[str]:
        before = len(self.connector.sent)
        response = await self.client.post("/api/messages", json=self.teams.message(text, user=user, where=where))
        assert response.status in (200, 201), await response.text()
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
    return make_settings(
        database_url,
        partner_center_api_url=simulator_url,
        scan_enabled=False,
        admin_aad_object_ids=[ADMIN["aadObjectId"]],
        dispatch_interval_seconds=0.2,
        **extra,
    )


@pytest.fixture
async def world(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    entra: FakeEntra,
    entra_url: str,
    tls_files: TlsFiles,
) -> AsyncIterator[World]:
    app = create_app(e2e_settings(make_settings, sqlite_url, simulator.url))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    http = aiohttp.ClientSession(entra_url, connector=aiohttp.TCPConnector(ssl=tls_files.client_context()))
    teams = Teams(connector.url)
    world = World(client, connector, teams, app[SERVICES], entra, http, simulator)
    for user in (ADMIN, SELLER):  # both installed the app: the bot has their personal chats
        response = await client.post("/api/messages", json=teams.personal_install(user))
        assert response.status in (200, 201)
    yield world
    await http.close()
    await client.close()
    await asyncio.sleep(0)


def pc_calls(world: World) -> int:
    return len(world.simulator.requests)


async def test_login_sync_refresh_revoke_notice_and_login_again(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sync = world.services.sync

    code, mark = await world.login()
    card = card_text(world.connector.cards()[-1])
    assert code in card and "Open sign-in page" in card and "UTC" in card
    await world.approve(code)
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert messages.LOGIN_SIGNED_IN.format(username=ADA) in texts

    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert pc_calls(world) > 0 and all(r.get("status") != 401 for r in world.simulator.requests)

    await world.entra_post("/_sandbox/expire-access-tokens")
    refreshes = len(world.entra.token_requests("refresh_token"))
    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert len(world.entra.token_requests("refresh_token")) == refreshes + 1  # silent, no one was asked

    await world.entra_post("/_sandbox/revoke")
    await world.entra_post("/_sandbox/expire-access-tokens")
    admin_before = len(world.sent_to(ADMIN))
    run = await sync.run("schedule")
    assert run.status == "not_signed_in"
    await world.connector.wait_for(lambda c: any(NOTICE in s.text for s in world.sent_to(ADMIN)))
    stored = world.row()
    assert stored is not None and stored.state == "needs_login" and stored.admins_notified_at is not None

    calls, entra_calls = pc_calls(world), len(world.entra.requests)
    for _ in range(3):  # the next scheduled intervals
        assert (await sync.run("schedule")).status == "not_signed_in"
    await asyncio.sleep(0.3)
    assert pc_calls(world) == calls and len(world.entra.requests) == entra_calls
    notices = [s for s in world.sent_to(ADMIN)[admin_before:] if NOTICE in s.text]
    assert len(notices) == 1 and "invalid_grant" in notices[0].text
    assert not any(NOTICE in s.text for s in world.sent_to(SELLER))  # admins only

    code, mark = await world.login()
    await world.approve(code, "ada@contoso.example")
    await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert pc_calls(world) > calls
    stored = world.row()
    assert stored is not None and stored.state == "signed_in" and stored.admins_notified_at is None

    _assert_no_plaintext_tokens(world, caplog, Path.cwd())


def _assert_no_plaintext_tokens(world: World, caplog: pytest.LogCaptureFixture, folder: Path) -> None:
    """No access, refresh or id token in the database, the logs or any file the bot wrote."""
    secrets = world.entra.issued_secrets()
    assert len(secrets) >= 8
    fragments = {part for secret in secrets for part in secret.split(".") if len(part) > 16}
    world.services.engine.dispose()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name.startswith("referrals.db") for p in files)
    written = b"".join(p.read_bytes() for p in files)
    logged = caplog.text + "".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert ADA in logged  # the search can find what is there
    for fragment in fragments:
        assert fragment.encode() not in written
        assert fragment not in logged


async def test_login_is_for_admins_in_a_personal_chat(world: World) -> None:
    assert await world.say("/login", user=SELLER) == [messages.ADMIN_ONLY.format(command="/login")]
    assert await world.say("/login", where="channel") == [messages.LOGIN_PERSONAL_ONLY]
    assert await world.say("/login", where="groupChat") == [messages.LOGIN_PERSONAL_ONLY]
    assert await world.say("/logout", user=SELLER) == [messages.ADMIN_ONLY.format(command="/logout")]
    assert await world.say("/logout", where="channel") == [messages.LOGOUT_PERSONAL_ONLY]
    usage = messages.USAGE_ERROR.format(reason=messages.NO_ARGUMENTS.format(command="/login"), usage="/login")
    assert await world.say("/login please") == [usage]
    assert world.entra.pending_user_codes() == []


async def test_second_login_replaces_the_first(world: World) -> None:
    first, mark = await world.login()
    second, _ = await world.login()
    assert first != second
    await world.texts_after(mark, lambda t: t == messages.LOGIN_REPLACED)
    await world.approve(first, "old@contoso.example")  # too late: nobody waits for it any more
    await world.approve(second, "new@contoso.example")
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert texts.count(messages.LOGIN_SIGNED_IN.format(username="new@contoso.example")) == 1
    await asyncio.sleep(1.5)  # the first MSAL poll loop has ended; it must not have stored anything
    stored = world.row()
    assert stored is not None and stored.username == "new@contoso.example"
    assert not any("old@contoso.example" in t for t in world.connector.texts())


async def test_declined_login_and_logout(world: World) -> None:
    code, mark = await world.login()
    await world.approve(code, decline=True)
    await world.texts_after(mark, lambda t: t == messages.LOGIN_DECLINED)
    assert world.row() is None
    assert await world.say("/logout") == [messages.LOGOUT_NOTHING]

    code, mark = await world.login()
    await world.approve(code)
    await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert await world.say("/logout") == [
        messages.LOGOUT_DONE.format(who=messages.LOGOUT_DONE_WHO.format(username=ADA))
    ]
    stored = world.row()
    assert stored is not None and stored.state == "signed_out" and stored.encrypted_cache is None
    run = await world.services.sync.run("manual")
    assert run.status == "not_signed_in"
    [status] = await world.say("status")
    assert "signed" in status.lower()


async def test_help_describes_login_and_logout(world: World) -> None:
    [help_card] = await world.say("help")
    assert "Sign in to Partner Center with a device code." in help_card
    assert "Forget the stored Partner Center sign-in." in help_card


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"token_cache_key": ""}, messages.TOKEN_CACHE_KEY_MISSING),
        ({"token_cache_key": "too-short"}, messages.TOKEN_CACHE_KEY_MALFORMED),
        ({"azure_client_id": ""}, messages.AZURE_CLIENT_ID_MISSING),
    ],
)
async def test_login_without_settings_says_what_to_set(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    overrides: dict[str, str],
    expected: str,
) -> None:
    app = create_app(e2e_settings(make_settings, sqlite_url, simulator.url, **overrides))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        teams = Teams(connector.url)
        response = await client.post("/api/messages", json=teams.message("/login", user=ADMIN))
        assert response.status in (200, 201)
        assert connector.texts() == [expected]
