"""The scheduled sync. The ONLY module that imports APScheduler (3.x).

`POLLER_ENABLED=false` means no scheduler at all: the caller checks that before calling `start_scheduler`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.settings import Settings
from poller.service import SyncService
from storage.types import utcnow

log = logging.getLogger(__name__)

JOB_ID = "partner-center-sync"
FIRST_RUN_DELAY_SECONDS = 5.0


def start_scheduler(
    service: SyncService, settings: Settings, *, first_run_delay: float = FIRST_RUN_DELAY_SECONDS
) -> AsyncIOScheduler:
    """Start an AsyncIOScheduler (UTC) on the running loop with one sync job every POLL_INTERVAL_SECONDS.

    One instance at a time, missed runs coalesced; the first run comes `first_run_delay` seconds after start.
    """
    interval = settings.poll_interval_seconds
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        _scheduled_run,
        trigger=IntervalTrigger(seconds=interval, timezone="UTC"),
        args=[service],
        id=JOB_ID,
        name="Partner Center referral sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(30, interval // 2),
        next_run_time=utcnow() + timedelta(seconds=first_run_delay),
        replace_existing=True,
    )
    scheduler.start()
    log.info("scheduled sync every %ds", interval)
    return scheduler


async def _scheduled_run(service: SyncService) -> None:
    try:
        run = await service.run("schedule")
    except Exception:  # the scheduler must keep going whatever one run did
        log.exception("scheduled sync crashed")
        return
    log.info("scheduled sync finished: %s", run.status)


def next_run_time(scheduler: AsyncIOScheduler) -> datetime | None:
    """When the sync job runs next (aware UTC), or None when there is no such job / it is paused."""
    job = scheduler.get_job(JOB_ID)
    when: datetime | None = job.next_run_time if job is not None else None
    return when


def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop scheduling; a run in flight is not interrupted (SyncService owns it)."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
