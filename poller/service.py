"""One sync at a time, shared by the scheduler and the chat `sync` command.

- A caller arriving while a run is going joins it and gets the same `SyncRun` (one shared asyncio Task).
- `on_finished` callbacks run after every run (the notification dispatcher uses one to wake up).
- `on_paused` callbacks run for every scheduled run skipped while paused (the lost-sign-in notice uses one to
  reach admins it could not reach before).
- Paused after "not signed in": once a run ends `not_signed_in`, *scheduled* runs return without calling
  Partner Center (they get a `SyncRun` with status `not_signed_in` and a note, not stored) until `resume()` is
  called (the `/login` flow calls it after a new sign-in). A *manual* run (trigger other than "schedule")
  still tries, so `sync` always gives a fresh answer; if it succeeds the pause is lifted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from poller.client import PartnerCenterClient
from poller.pipeline import SyncDeps, run_sync
from poller.scan import DomainScanner
from storage.models import SyncRun

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.settings import Settings
from storage.types import utcnow

log = logging.getLogger(__name__)

SCHEDULE = "schedule"
PAUSED_NOTE = "Paused: not signed in to Partner Center. An admin can run /login; scheduled syncs resume then."

DepsFactory = Callable[[], Awaitable[SyncDeps]]
Finished = Callable[[SyncRun], Awaitable[None]]


def build_sync_deps(settings: Settings, engine: Engine, client: PartnerCenterClient) -> SyncDeps:
    """The usual deps: the scanner from settings (None when `SCAN_ENABLED=false`)."""
    scanner = DomainScanner.from_settings(settings) if settings.scan_enabled else None
    return SyncDeps(settings=settings, engine=engine, client=client, scanner=scanner)


class SyncService:
    """Runs `run_sync` with at most one run in flight."""

    def __init__(
        self,
        deps: SyncDeps | DepsFactory,
        *,
        on_finished: list[Finished] | None = None,
        on_paused: list[Finished] | None = None,
        runner: Callable[..., Awaitable[SyncRun]] = run_sync,
    ) -> None:
        self._deps = deps
        self._runner = runner
        self.on_finished: list[Finished] = list(on_finished or [])
        self.on_paused: list[Finished] = list(on_paused or [])
        self._task: asyncio.Task[SyncRun] | None = None
        self._started_at: datetime | None = None
        self._paused = False
        self._resumes = 0  # resume() calls so far: a run only pauses if none came while it ran
        self.last_run: SyncRun | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def started_at(self) -> datetime | None:
        """When the run in flight started; None when idle."""
        return self._started_at if self.running else None

    @property
    def paused(self) -> bool:
        return self._paused

    def resume(self) -> None:
        """Let scheduled runs call Partner Center again (after a new sign-in)."""
        if self._paused:
            log.info("scheduled syncs resumed")
        self._paused = False
        self._resumes += 1

    async def run(self, trigger: str = SCHEDULE, *, force_full: bool = False) -> SyncRun:
        """Start a run, or join the one in flight; returns its finished `SyncRun`."""
        if not self.running and self._paused and trigger == SCHEDULE:
            log.info("scheduled sync skipped: paused until a new sign-in")
            skipped = SyncRun(trigger=trigger, status="not_signed_in", note=PAUSED_NOTE, finished_at=utcnow())
            await _call_all(self.on_paused, skipped)
            return skipped
        finished, _ = self.begin(trigger, force_full=force_full)
        return await finished

    def begin(self, trigger: str = "manual", *, force_full: bool = False) -> tuple[Awaitable[SyncRun], bool]:
        """Start a run now (or join the one in flight): (its result to await, True when joined).

        Synchronous, so that a caller that answers "started" or "already running" is never wrong about it.
        """
        joined = self.running
        if self._task is None or self._task.done():
            self._started_at = utcnow()
            self._task = asyncio.create_task(self._run(trigger, force_full))
        return asyncio.shield(self._task), joined

    async def _run(self, trigger: str, force_full: bool) -> SyncRun:
        resumes = self._resumes
        deps = self._deps if isinstance(self._deps, SyncDeps) else await self._deps()
        run = await self._runner(deps, trigger=trigger, force_full=force_full)
        # A sign-in that landed while this run was failing without one wins: no pause then.
        self._paused = run.status == "not_signed_in" and self._resumes == resumes
        self.last_run = run
        await _call_all(self.on_finished, run)
        return run

    async def wait(self) -> SyncRun | None:
        """Wait for the run in flight, if any."""
        task = self._task
        if task is None:
            return None
        return await asyncio.shield(task)

    async def stop(self, grace: float = 5.0) -> None:
        """For shutdown: give the run in flight `grace` seconds, then cancel it. Its open page rolls back and
        the run is recorded as cancelled; the watermark only ever covers committed pages."""
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.info("cancelling the sync in flight for shutdown")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def describe(self) -> dict[str, Any]:
        return {"running": self.running, "started_at": self.started_at, "paused": self.paused}


async def _call_all(callbacks: list[Finished], run: SyncRun) -> None:
    """Each callback in turn; one that fails is logged and does not stop the others."""
    for callback in callbacks:
        try:
            await callback(run)
        except Exception:
            log.exception("sync callback failed")
