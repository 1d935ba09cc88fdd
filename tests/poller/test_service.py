"""SyncService (one run at a time, joining, pause after not-signed-in) and the scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from poller.client import PartnerCenterClient
from poller.pipeline import SyncDeps
from poller.schedule import JOB_ID, next_run_time, start_scheduler, stop_scheduler
from poller.service import SyncService
from storage.models import SyncRun
from storage.types import utcnow
from tests.poller.conftest import FakeTokens, StartSimulator, make_settings
from tests.poller.helpers import examples

MakeClient = Callable[..., PartnerCenterClient]


async def test_a_second_caller_joins_the_running_sync(
    sqlite_engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    sim.faults.slow(1, delay=0.3)
    finished: list[SyncRun] = []

    async def on_finished(run: SyncRun) -> None:
        finished.append(run)

    service = SyncService(SyncDeps(make_settings(), sqlite_engine, make_client(sim)), on_finished=[on_finished])
    first = asyncio.create_task(service.run("schedule"))
    await asyncio.sleep(0.05)
    assert service.running and service.started_at is not None
    second = await service.run("manual")
    assert await first is second
    assert second.status == "success" and second.trigger == "schedule"
    assert len(sim.requests) == 1 and finished == [second]
    assert not service.running and service.started_at is None

    third = await service.run("manual")
    assert third.id != second.id and len(finished) == 2


async def test_not_signed_in_pauses_scheduled_runs_until_resume(
    sqlite_engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    tokens = FakeTokens(signed_in=False)
    service = SyncService(SyncDeps(make_settings(), sqlite_engine, make_client(sim, tokens)))

    assert (await service.run("schedule")).status == "not_signed_in"
    assert service.paused and len(tokens.calls) == 1

    skipped = await service.run("schedule")
    assert skipped.status == "not_signed_in" and skipped.id is None and "Paused" in (skipped.note or "")
    assert len(tokens.calls) == 1  # Partner Center was not asked

    manual = await service.run("manual")  # a manual sync still tries
    assert manual.status == "not_signed_in" and len(tokens.calls) == 2

    tokens.signed_in = True
    service.resume()
    assert not service.paused
    run = await service.run("schedule")
    assert run.status == "success" and run.inserted == 3 and not service.paused


async def test_deps_factory_is_called_per_run(
    sqlite_engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    made: list[SyncDeps] = []

    async def factory() -> SyncDeps:
        made.append(SyncDeps(make_settings(), sqlite_engine, make_client(sim)))
        return made[-1]

    service = SyncService(factory)
    await service.run("manual")
    await service.run("manual")
    assert len(made) == 2


async def test_scheduler_runs_the_sync(
    sqlite_engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    done = asyncio.Event()

    async def on_finished(run: SyncRun) -> None:
        done.set()

    settings = make_settings(poll_interval_seconds=3600)
    service = SyncService(SyncDeps(settings, sqlite_engine, make_client(sim)), on_finished=[on_finished])
    scheduler = start_scheduler(service, settings, first_run_delay=0.1)
    try:
        first = next_run_time(scheduler)
        assert first is not None and first - utcnow() < timedelta(seconds=5)
        job = scheduler.get_job(JOB_ID)
        assert job is not None and job.max_instances == 1 and job.coalesce
        await asyncio.wait_for(done.wait(), timeout=10)
        assert service.last_run is not None and service.last_run.status == "success"
        later = next_run_time(scheduler)
        assert later is not None and later - utcnow() > timedelta(seconds=3000)
    finally:
        stop_scheduler(scheduler)
    await asyncio.sleep(0.05)  # AsyncIOScheduler shuts down on its loop
    assert not scheduler.running


async def test_a_sign_in_landing_during_a_failing_run_does_not_pause(
    sqlite_engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    """`/login` calls resume() while a scheduled run is still finishing `not_signed_in`: the new sign-in wins."""
    sim = await start_simulator(examples())
    service: SyncService

    async def runner(deps: SyncDeps, **kw: Any) -> SyncRun:
        service.resume()  # what /login does when it completes
        return SyncRun(trigger="schedule", status="not_signed_in", finished_at=utcnow())

    service = SyncService(SyncDeps(make_settings(), sqlite_engine, make_client(sim)), runner=runner)
    await service.run("schedule")
    assert not service.paused
