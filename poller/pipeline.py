"""One sync run: fetch → map → classify → domain → filter → upsert → lead-link → scan → score.

Streaming: one page at a time is fetched, then stored in its own transaction on a worker thread
(`asyncio.to_thread`, a session per page) so the event loop (the bot) stays responsive.

Full sweep vs incremental (`SyncState`): a full sweep (`direction eq 'Incoming'`, newest first) runs when
none has been done yet, the last is older than `FULL_SWEEP_HOURS`, or it is forced. Otherwise only what
changed is fetched: `updatedDateTime gt <watermark - WATERMARK_OVERLAP_SECONDS>`, oldest first. If Partner
Center rejects that filter (400) the run falls back to a full sweep and says so in its note.

The watermark only moves over committed data: an incremental run (ascending) advances it inside each
page's own transaction; a full sweep (descending) sets it only once every page has committed.

Domain scans of new lead domains run in the background while paging continues and are awaited at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from core.errors import NotSignedIn, UpstreamError, UpstreamRejected
from core.settings import Settings
from poller.client import DEFAULT_FILTER, Page, PartnerCenterClient
from poller.filtering import NO_DOMAIN
from poller.leads import refresh_scores
from poller.scan import DomainScanner, ScanResult
from poller.upsert import PageOutcome, PreparedPage, prepare_page, store_page
from storage import sync_repo
from storage.db import session_scope
from storage.models import DomainScan, SyncRun
from storage.types import utcnow

log = logging.getLogger(__name__)

FULL_ORDER = "createdDateTime desc"
INCREMENTAL_ORDER = "updatedDateTime asc"


@dataclass
class SyncDeps:
    """What a run needs. `scanner=None` (or `SCAN_ENABLED=false`) skips the scan stage."""

    settings: Settings
    engine: Engine
    client: PartnerCenterClient
    scanner: DomainScanner | None = None


@dataclass
class _Tally:
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    leads_created: int = 0
    leads_linked: int = 0
    no_domain: int = 0
    scanned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    max_updated: datetime | None = None

    def add(self, page: PageOutcome) -> None:
        self.pages += 1
        self.fetched += page.fetched
        self.inserted += page.inserted
        self.updated += page.updated
        self.unchanged += page.unchanged
        self.notified += page.notified
        self.leads_created += page.leads_created
        self.leads_linked += page.leads_linked
        self.no_domain += page.no_domain
        self.skipped.update(page.skipped)
        if page.max_updated is not None and (self.max_updated is None or page.max_updated > self.max_updated):
            self.max_updated = page.max_updated


def odata_datetime(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC: `2025-03-03T15:12:45.123456Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _choose_mode(settings: Settings, engine: Engine, force_full: bool) -> tuple[str, datetime | None]:
    """("full", None) or ("incremental", since)."""
    with session_scope(engine) as session:
        state = sync_repo.get_sync_state(session)
    if force_full or state.last_full_sweep_at is None:
        return "full", None
    if utcnow() - state.last_full_sweep_at > timedelta(hours=settings.full_sweep_hours):
        return "full", None
    base = state.watermark or state.last_full_sweep_at
    return "incremental", base - timedelta(seconds=settings.watermark_overlap_seconds)


def _start_run(engine: Engine, trigger: str, mode: str) -> SyncRun:
    with session_scope(engine) as session:
        return sync_repo.start_run(session, trigger=trigger, mode=mode)


def _store_page(engine: Engine, page: PreparedPage, settings: Settings, *, advance_watermark: bool) -> PageOutcome:
    """One page, one transaction (the watermark moves inside it when paging oldest first)."""
    with session_scope(engine) as session:
        outcome = store_page(
            session,
            page,
            now=utcnow(),
            co_sell_boost=settings.co_sell_boost,
            rescan_after=timedelta(days=settings.rescan_after_days),
        )
        if advance_watermark and outcome.max_updated is not None:
            sync_repo.save_sync_state(session, watermark=outcome.max_updated)
    return outcome


def _store_scans(engine: Engine, results: list[ScanResult], settings: Settings) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        sync_repo.lock_sync_writes(session)
        for r in results:
            sync_repo.save_scan(
                session,
                DomainScan(
                    domain=r.domain,
                    provider=r.provider,
                    mx_hosts=r.mx_hosts,
                    spf=r.spf,
                    dmarc=r.dmarc,
                    error=r.error,
                    scanned_at=now,
                ),
            )
        session.flush()
        refresh_scores(session, [r.domain for r in results], co_sell_boost=settings.co_sell_boost, now=now)


def _finish_full_sweep(engine: Engine, watermark: datetime | None, started_at: datetime) -> None:
    with session_scope(engine) as session:
        sync_repo.save_sync_state(session, watermark=watermark, last_full_sweep_at=started_at)


def _save_run(engine: Engine, run: SyncRun) -> SyncRun:
    with session_scope(engine) as session:
        return sync_repo.save_run(session, run)


async def _fetch_next(pages: AsyncIterator[Page]) -> tuple[Page, PreparedPage] | None:
    page = await anext(pages, None)
    if page is None:
        return None
    return page, await asyncio.to_thread(prepare_page, page.items)


class _Run:
    """The state of one run while it goes."""

    def __init__(self, deps: SyncDeps) -> None:
        self.deps = deps
        self.tally = _Tally()
        self.scan_tasks: list[asyncio.Task[None]] = []
        self.scan_seen: set[str] = set()
        # Page and scan transactions both rescore leads; one at a time, so neither overwrites the other's
        # newer view (a page reading "not scanned" while a scan commits).
        self.db_lock = asyncio.Lock()

    async def sweep(self, *, filter: str, orderby: str, advance_watermark: bool) -> None:
        """Store page after page; the next page is fetched and prepared while the current one is being
        stored (at most two pages in memory; SQLite lets go of the GIL while it writes, so preparing runs
        in those gaps). A fetch failure surfaces after the page before it has committed."""
        deps = self.deps
        pages = deps.client.iter_pages(filter=filter, orderby=orderby)
        fetching: asyncio.Future[tuple[Page, PreparedPage] | None] = asyncio.ensure_future(_fetch_next(pages))
        try:
            while (fetched := await fetching) is not None:
                page, prepared = fetched
                fetching = asyncio.ensure_future(_fetch_next(pages))
                async with self.db_lock:
                    outcome = await asyncio.to_thread(
                        _store_page, deps.engine, prepared, deps.settings, advance_watermark=advance_watermark
                    )
                self.tally.add(outcome)
                log.debug("page %d stored: %d items", page.number, len(page.items))
                self._scan_later(outcome.scan_due)
        finally:
            if not fetching.done():
                fetching.cancel()
            with contextlib.suppress(BaseException):
                await fetching
            await pages.aclose()

    def _scan_later(self, domains: set[str]) -> None:
        scanner = self.deps.scanner
        if scanner is None or not self.deps.settings.scan_enabled:
            return
        todo = sorted(domains - self.scan_seen)
        if not todo:
            return
        self.scan_seen.update(todo)
        self.scan_tasks.append(asyncio.create_task(self._scan(scanner, todo)))

    async def _scan(self, scanner: DomainScanner, domains: list[str]) -> None:
        results = await scanner.scan_many(domains)
        async with self.db_lock:
            await asyncio.to_thread(_store_scans, self.deps.engine, results, self.deps.settings)
        self.tally.scanned += len(results)

    async def finish_scans(self) -> None:
        outcomes = await asyncio.gather(*self.scan_tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.warning("domain scan failed: %r", outcome)


async def run_sync(deps: SyncDeps, *, trigger: str = "schedule", force_full: bool = False) -> SyncRun:
    """Run one sync and return its finished `SyncRun` row (status success / failed / not_signed_in)."""
    started = time.monotonic()
    mode, since = await asyncio.to_thread(_choose_mode, deps.settings, deps.engine, force_full)
    run = await asyncio.to_thread(_start_run, deps.engine, trigger, mode)
    stats_before = (deps.client.stats.requests, deps.client.stats.retries)
    state = _Run(deps)
    notes: list[str] = []
    cancelled = False
    try:
        if since is not None:
            incremental = f"{DEFAULT_FILTER} and updatedDateTime gt {odata_datetime(since)}"
            try:
                await state.sweep(filter=incremental, orderby=INCREMENTAL_ORDER, advance_watermark=True)
            except UpstreamRejected as exc:
                if exc.status != 400 or state.tally.pages:
                    raise
                notes.append(f"Partner Center rejected the incremental filter ({exc}); ran a full sweep")
                run.mode = mode = "full"
        if mode == "full":
            await state.sweep(filter=DEFAULT_FILTER, orderby=FULL_ORDER, advance_watermark=False)
            if deps.client.truncated:
                notes.append(f"stopped after MAX_PAGES={deps.client.max_pages}; older referrals not seen")
            await asyncio.to_thread(_finish_full_sweep, deps.engine, state.tally.max_updated, run.started_at)
        run.status = "success"
    except NotSignedIn as exc:
        run.status = "not_signed_in"
        notes.append(f"Not signed in to Partner Center: {exc}")
    except UpstreamError as exc:
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.exception("sync run failed")
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
    except asyncio.CancelledError:
        run.status = "failed"
        run.error = "cancelled (shutting down)"
        cancelled = True
    finally:
        await state.finish_scans()
    _fill(run, state.tally, deps.client, stats_before)
    run.note = "; ".join(notes) or None
    run.finished_at = utcnow()
    run = await asyncio.to_thread(_save_run, deps.engine, run)
    log.info("partner_center_sync_summary", extra=summary(run, duration=time.monotonic() - started))
    if cancelled:
        raise asyncio.CancelledError
    return run


def _fill(run: SyncRun, tally: _Tally, client: PartnerCenterClient, before: tuple[int, int]) -> None:
    run.pages = tally.pages
    run.requests = client.stats.requests - before[0]
    run.retries = client.stats.retries - before[1]
    run.fetched = tally.fetched
    run.inserted = tally.inserted
    run.updated = tally.updated
    run.unchanged = tally.unchanged
    run.notified = tally.notified
    run.leads_created = tally.leads_created
    run.leads_linked = tally.leads_linked
    run.scanned = tally.scanned
    skipped = dict(tally.skipped)
    if tally.no_domain:
        skipped[NO_DOMAIN] = tally.no_domain  # stored, but neither lead-linked nor scanned
    run.skipped = skipped


def summary(run: SyncRun, *, duration: float | None = None) -> dict[str, Any]:
    """The run's figures as one flat JSON-able dict (the log line and `python -m poller --once`)."""
    figures: dict[str, Any] = {
        "run_id": run.id,
        "trigger": run.trigger,
        "mode": run.mode,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "pages": run.pages,
        "requests": run.requests,
        "retries": run.retries,
        "fetched": run.fetched,
        "inserted": run.inserted,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "skipped": dict(run.skipped or {}),
        "notified": run.notified,
        "leads_created": run.leads_created,
        "leads_linked": run.leads_linked,
        "scanned": run.scanned,
        "error": run.error,
        "note": run.note,
    }
    if duration is not None:
        figures["duration_seconds"] = round(duration, 3)
    return figures
