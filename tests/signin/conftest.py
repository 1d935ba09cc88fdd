"""The fake Entra ID served over HTTPS on loopback (on the test's loop; MSAL runs in worker threads)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from core.settings import Settings
from sandbox.entra import FakeEntra, TlsFiles, create_app, generate_tls
from sandbox.partner_center.app import create_app as create_simulator
from sandbox.partner_center.store import ReferralStore
from storage.db import make_engine
from tests.bot.conftest import SEED, Simulator
from tests.fakes.connector import FakeConnector
from tests.signin.world import World, e2e_settings, open_world

CLIENT_ID = "5d0b7f1e-1111-4a2b-9c3d-0123456789ab"
TENANT_ID = "contoso.onmicrosoft.com"
SCOPE = "https://api.partner.microsoft.com/.default"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("entra-tls")
    return generate_tls(folder / "ca.pem")


@pytest.fixture
def entra() -> FakeEntra:
    return FakeEntra(poll_interval=1)


@pytest.fixture
async def entra_url(entra: FakeEntra, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """Where the fake Entra listens (https://127.0.0.1:<port>); MSAL trusts it through REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_cert))
    server = TestServer(create_app(entra), host="127.0.0.1")
    await server.start_server(ssl=tls_files.server_context())
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def cache_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def make_settings(entra_url: str, cache_key: str) -> Callable[..., Settings]:
    def make(database_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "azure_client_id": CLIENT_ID,
            "azure_tenant_id": TENANT_ID,
            "azure_authority_host": entra_url,
            "partner_center_scope": SCOPE,
            "token_cache_key": cache_key,
            "poller_enabled": False,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def sqlite_settings(make_settings: Callable[..., Settings], sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
async def simulator(entra: FakeEntra) -> AsyncIterator[Simulator]:
    """The Partner Center simulator, accepting only access tokens the fake Entra issued."""
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


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    entra: FakeEntra,
    entra_url: str,
    tls_files: TlsFiles,
) -> AsyncIterator[MakeWorld]:
    """`await make_world(installed=..., **settings)`: a bot app on the test's SQLite database (several may run
    at once, like a restart with other settings), closed at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(*, installed: tuple[dict[str, Any], ...] | None = None, **overrides: Any) -> World:
            settings = e2e_settings(make_settings, sqlite_url, simulator.url, **overrides)
            users = {} if installed is None else {"installed": installed}
            opening = open_world(
                settings,
                simulator=simulator,
                connector=connector,
                entra=entra,
                entra_url=entra_url,
                tls_files=tls_files,
                **users,
            )
            return await stack.enter_async_context(opening)

        yield make


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    """The admin (Ada) and a seller have a personal chat with the bot; Ada is the only admin."""
    return await make_world()


async def approve_when_pending(entra: FakeEntra, username: str | None = None, *, decline: bool = False) -> str:
    """Wait for a device code to be handed out, then approve (or decline) it; returns its user code."""
    for _ in range(200):
        codes = entra.pending_user_codes()
        if codes:
            assert entra.approve(codes[-1], username, decline=decline)
            return codes[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("no device code was ever requested")


def db_files(database_url: str) -> list[Path]:
    """The SQLite database file and its WAL/journal companions."""
    path = Path(database_url.removeprefix("sqlite:///"))
    return sorted(p for p in path.parent.glob(path.name + "*") if p.is_file())
