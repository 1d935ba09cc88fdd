"""The app's start and stop: the scheduler follows POLLER_ENABLED, and shutdown ends a sync in flight cleanly."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlmodel import Session

from bot.app import SERVICES, create_app
from sandbox.partner_center.keys import FAULTS_KEY
from storage.models import SyncRun
from tests.bot.conftest import Simulator, bot_settings


async def test_poller_enabled_starts_the_schedule_and_stop_ends_it(sqlite_url: str, simulator: Simulator) -> None:
    app = create_app(bot_settings(sqlite_url, simulator.url, poller_enabled=True, poll_interval_seconds=3600))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    services = app[SERVICES]
    assert services.next_sync_at() is not None
    await client.close()
    assert services.next_sync_at() is None  # the job is gone with the scheduler


async def test_poller_disabled_means_no_schedule(sqlite_url: str, simulator: Simulator) -> None:
    app = create_app(bot_settings(sqlite_url, simulator.url, poller_enabled=False))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    assert app[SERVICES].next_sync_at() is None
    await client.close()


async def test_shutdown_cancels_a_sync_in_flight_and_records_it(sqlite_url: str, simulator: Simulator) -> None:
    slow = simulator.app[FAULTS_KEY].slow(None, delay=60)
    app = create_app(bot_settings(sqlite_url, simulator.url))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    services = app[SERVICES]
    sync = asyncio.create_task(services.sync.run("manual"))

    async def reached_partner_center() -> None:
        while not slow.fired:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(reached_partner_center(), timeout=30)
    await client.close()
    results = await asyncio.gather(sync, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    with Session(services.engine) as session:
        runs = list(session.scalars(select(SyncRun)))
    assert [(r.status, r.error) for r in runs] == [("failed", "cancelled (shutting down)")]
