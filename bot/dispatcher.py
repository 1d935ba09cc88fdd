"""The notification dispatcher: turns outbox rows into referral cards in the sales channels.

- `post`: one card per referral per sales channel, ever. The `PostedCard` row is committed right after the
  connector took the card, and checked before every post, so a retry never posts twice.
- `update`: every posted copy of the card is edited in place when its content changed (hash of the card).
- countdown: the card's "time left" is rendered with the real clock, so the hash changes when the shown value
  does (every hour; every minute in the last hour). At most every `refresh_every` seconds, when no other work
  is waiting, up to `refresh_batch` such cards of referrals still `New` are edited (soonest expiry first), so
  the shown time stays current without edit storms, inside the same per-thread limits.
- reminders: one reply in the card's thread when a co-sell referral still `New` is about to expire; the card is
  brought up to date at the same time, so it shows the time left the reminder says.

Failures never lose work: the outbox row stays pending with `attempts`, `next_attempt_at` and `last_error`.

A post whose answer was lost (a timeout or a dropped connection after the request went out, or a 504) may have
been carried out: Teams has no idempotency key for a new message and the Bot Connector cannot list a channel's
messages, so whether the card is there cannot be checked. Losing the card would be worse than showing it twice,
so it is posted again, but only after `ambiguous_delay` (never in the quick inline retries, which would add one
card per try while the connector is in trouble), with a warning naming the referral and channel. So each lost
answer costs at most one duplicate card. A reminder whose answer was lost counts as sent (the card shows the time
left anyway).
Sends are throttled per thread to Teams' limits (7 per 1 s, 8 per 2 s, 60 per 30 s); a 429 waits for its
`Retry-After`, other retryable failures (412, 5xx, timeouts) back off exponentially with jitter.
One loop per process runs in an asyncio task; it wakes on `wake()` (after a sync, `notify here`, Accept) and
every `DISPATCH_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from bot import messages
from bot.router import Reply
from bot.services import Services
from cards.common import format_duration
from cards.referral import referral_card
from core.errors import DeliveryError
from storage import notify_repo as repo
from storage.models import Lead, Referral, SyncRun

log = logging.getLogger(__name__)
T = TypeVar("T")

TEAMS_THREAD_LIMITS: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60))
# The Bot Connector says the message or conversation is gone (404) or the bot may not write there (403):
# retrying cannot help until someone reinstalls the bot, which refreshes the conversation reference.
GONE = (403, 404)
AMBIGUOUS = "may have been posted: "  # how a row's last_error starts after a lost answer
# An exception on the way to the connector that means the request never left: safe to send again at once.
_NOT_SENT = (
    "ConnectionRefusedError",
    "NewConnectionError",
    "NameResolutionError",
    "ConnectTimeout",
    "ConnectTimeoutError",
    "ClientConnectorError",
)


@dataclass(frozen=True)
class DispatchOptions:
    """Timing knobs (tests may pass smaller ones through `services.extras["dispatch_options"]`)."""

    batch: int = 20
    lease: timedelta = timedelta(minutes=5)
    inline_attempts: int = 6  # tries of one send before the row is put back with a delay
    backoff_base: float = 0.25  # seconds; doubles per try, full jitter
    backoff_cap: float = 10.0
    row_backoff_base: float = 2.0  # seconds before a failed row is tried again; doubles per attempt
    row_backoff_cap: float = 300.0
    limits: tuple[tuple[float, int], ...] = TEAMS_THREAD_LIMITS
    limit_margin: float = 0.1  # seconds added to every window: clocks and latency differ between us and Teams
    stop_grace: float = 5.0
    refresh_every: timedelta = timedelta(minutes=1)  # how often shown "time left" values are checked
    refresh_batch: int = 20  # at most this many cards edited per check (the rest wait for the next one)
    expired_shown_for: timedelta = timedelta(days=1)  # a card that just expired is edited once more to say so
    ambiguous_delay: timedelta = timedelta(minutes=2)  # before re-posting a card whose post's answer was lost


class SlidingWindowLimiter:
    """At most `count` sends per `window` seconds per key (thread), for every (window, count) pair."""

    def __init__(
        self,
        limits: Sequence[tuple[float, int]] = TEAMS_THREAD_LIMITS,
        *,
        margin: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = tuple(limits)
        self.margin = margin
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._longest = max((window for window, _ in self.limits), default=0.0) + margin

    def delay(self, key: str) -> float:
        """Seconds to wait before the next send on `key` is allowed (0 when it may go now)."""
        now = self.clock()
        sent = self._sent.setdefault(key, deque())
        while sent and now - sent[0] >= self._longest:
            sent.popleft()
        wait = self._blocked_until.get(key, 0.0) - now
        for window, count in self.limits:
            if len(sent) >= count:
                wait = max(wait, sent[-count] + window + self.margin - now)
        return max(0.0, wait)

    async def acquire(self, key: str) -> None:
        """Wait until a send on `key` fits every window, then count it. Waiters on one key go in order."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            while (wait := self.delay(key)) > 0:
                await asyncio.sleep(wait)
            self._sent[key].append(self.clock())

    def block(self, key: str, seconds: float) -> None:
        """Teams said 429: nothing goes to `key` for `seconds`."""
        until = self.clock() + seconds
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)


class MaybePosted(DeliveryError):
    """A post failed in a way that does not tell whether the connector carried it out."""


def may_have_posted(exc: DeliveryError) -> bool:
    """True for a lost answer (no status, but the request went out) and a gateway timeout (504)."""
    if exc.status is not None:
        return exc.status == 504
    return not any(type(cause).__name__ in _NOT_SENT for cause in _causes(exc))


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and everything it wraps (causes, contexts, msrest's `inner_exception`, urllib3's `reason`, args)."""
    found: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(found) < 32:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [
            item.__cause__,
            item.__context__,
            getattr(item, "inner_exception", None),
            getattr(item, "reason", None),
        ]
        todo += list(item.args)
    return found


def card_hash(card: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(card, sort_keys=True, default=str).encode()).hexdigest()


def jittered(base: float, attempt: int, cap: float) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)], at least a little."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return max(ceiling / 10, random.uniform(0, ceiling))


class Dispatcher:
    def __init__(self, services: Services, options: DispatchOptions | None = None) -> None:
        self.services = services
        self.options = options or DispatchOptions()
        self.limiter = SlidingWindowLimiter(self.options.limits, margin=self.options.limit_margin)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._claimed: set[int] = set()
        self._next_refresh: datetime | None = None
        self.passes = 0

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="notification-dispatcher")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        self._wake.set()

    async def _after_sync(self, run: SyncRun) -> None:
        self.wake()

    async def stop(self) -> None:
        """Finish the send in flight (briefly), then stop; rows claimed but not done become due again at once."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(AttributeError, ValueError):
            self.services.sync.on_finished.remove(self._after_sync)
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self.options.stop_grace)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._claimed:
            claimed, self._claimed = sorted(self._claimed), set()
            now = self.services.now()
            with contextlib.suppress(Exception):
                for job_id in claimed:
                    await self.services.db(
                        repo.retry_job, job_id, at=now, error="released at shutdown", count_attempt=False
                    )

    async def _loop(self) -> None:
        interval = self.services.settings.dispatch_interval_seconds
        while not self._stopping:
            self._wake.clear()
            more = False
            try:
                more = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher pass failed")
            if more or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    # -- one pass -----------------------------------------------------------------------------------

    async def run_once(self) -> bool:
        """Work through one batch of due rows and any due reminders; True when more rows may be waiting."""
        self.passes += 1
        now = self.services.now()
        channels = await self.services.db(repo.sales_channels)
        events = ("post", "update") if channels else ("update",)  # posts wait (pending) for a sales channel
        jobs = await self.services.db(
            repo.claim_due, now=now, lease=self.options.lease, events=events, limit=self.options.batch
        )
        self._claimed.update(job.id for job in jobs)
        for job in jobs:
            if self._stopping:
                break
            await self._run_job(job, channels)
        more = len(jobs) >= self.options.batch
        if not self._stopping:
            await self._reminders()
        if not self._stopping and not more:
            await self._refresh_countdowns()
        return more and not self._stopping

    async def _run_job(self, job: repo.Job, channels: list[repo.Channel]) -> None:
        try:
            error = await (self._post(job, channels) if job.event == "post" else self._update(job))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a bug or a database hiccup: keep the row, log, go on
            log.exception("notification failed", extra={"referral_id": job.referral_id, "event": job.event})
            error = f"{type(exc).__name__}: {exc}"
        now = self.services.now()
        if error is None:
            if await self.services.db(repo.finish_job, job.id, now=now, card_hash=partial(self._hash, now=now)):
                self.wake()  # the referral changed while we were sending: its edit is queued
        else:
            delay = jittered(self.options.row_backoff_base, job.attempts, self.options.row_backoff_cap)
            if error.startswith(AMBIGUOUS):
                delay = max(delay, self.options.ambiguous_delay.total_seconds())
            log.warning(
                "notification will be retried",
                extra={
                    "referral_id": job.referral_id,
                    "event": job.event,
                    "error": error[:200],
                    "attempts": job.attempts + 1,
                    "retry_in_s": round(delay, 1),
                },
            )
            await self.services.db(repo.retry_job, job.id, at=now + timedelta(seconds=delay), error=error)
        self._claimed.discard(job.id)

    # -- rendering ----------------------------------------------------------------------------------

    def _render(self, referral: Referral, lead: Lead | None, now: datetime) -> dict[str, Any]:
        return referral_card(referral, lead=lead, portal_url=self.services.settings.partner_center_portal_url, now=now)

    def _hash(self, referral: Referral, lead: Lead | None, *, now: datetime) -> str:
        """The hash of the card as it should look at `now` (its time left included)."""
        return card_hash(self._render(referral, lead, now))

    async def _current(self, referral_id: str) -> tuple[Referral | None, Lead | None]:
        return await self.services.db(repo.referral_and_lead, referral_id)

    # -- sending ------------------------------------------------------------------------------------

    async def _deliver(self, thread: str, send: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        """Send within the thread's limits; retry 429 (after Retry-After) and 412/5xx/timeouts (backoff).

        A send that is not `idempotent` (a new message) and may have been carried out raises `MaybePosted` at once.
        """
        attempt = 0
        while True:
            await self.limiter.acquire(thread)
            if self._stopping:
                raise DeliveryError("the dispatcher is stopping")
            try:
                return await send()
            except DeliveryError as exc:
                if not idempotent and may_have_posted(exc):
                    raise MaybePosted(str(exc), status=exc.status) from exc
                attempt += 1
                if not exc.retryable or attempt >= self.options.inline_attempts or self._stopping:
                    raise
                if exc.status == 429:
                    wait = (
                        exc.retry_after
                        if exc.retry_after is not None
                        else jittered(self.options.backoff_base, attempt, self.options.backoff_cap)
                    )
                    self.limiter.block(thread, wait)
                else:
                    wait = jittered(self.options.backoff_base, attempt, self.options.backoff_cap)
                    await asyncio.sleep(wait)

    async def _post(self, job: repo.Job, channels: list[repo.Channel]) -> str | None:
        referral, lead = await self._current(job.referral_id)
        if referral is None:
            log.warning("outbox row for an unknown referral", extra={"referral_id": job.referral_id})
            return None
        if referral.kind != "co-sell" or referral.direction != "Incoming":
            return None  # only new incoming co-sell referrals get a card
        if not channels:
            return "no sales channel yet"
        done = {p.conversation_id for p in await self.services.db(repo.posted_cards, referral.id)}
        errors: list[str] = []
        for channel in channels:
            if channel.conversation_id in done:
                continue
            card = self._render(referral, lead, self.services.now())
            posted_hash = card_hash(card)
            try:
                activity_id = await self._deliver(
                    channel.conversation_id,
                    partial(self.services.proactive.post_thread, channel.reference, channel.conversation_id, card),
                    idempotent=False,
                )
            except MaybePosted as exc:
                log.warning(
                    "card post's answer was lost; it is posted again later and may then show twice",
                    extra={"referral_id": referral.id, "channel": channel.conversation_id, "error": str(exc)[:200]},
                )
                errors.insert(0, f"{AMBIGUOUS}{channel.conversation_id}: {exc}")
                continue
            except DeliveryError as exc:
                if exc.status in GONE:
                    log.warning(
                        "channel refuses the bot; card not posted there",
                        extra={"referral_id": referral.id, "channel": channel.conversation_id, "error": str(exc)[:200]},
                    )
                else:
                    errors.append(f"{channel.conversation_id}: {exc}")
                continue
            await self.services.db(
                repo.record_posted,
                referral.id,
                channel.conversation_id,
                activity_id,
                posted_hash,
                now=self.services.now(),
            )
            log.info("referral card posted", extra={"referral_id": referral.id, "channel": channel.conversation_id})
        return "; ".join(errors) or None

    async def _update(self, job: repo.Job) -> str | None:
        referral, lead = await self._current(job.referral_id)
        if referral is None:
            return None
        card = self._render(referral, lead, self.services.now())
        wanted = card_hash(card)
        errors: list[str] = []
        for posted in await self.services.db(repo.posted_cards, referral.id):
            if posted.card_hash == wanted:
                continue
            reference = await self.services.db(repo.reference_of, posted.conversation_id)
            if reference is None:
                log.info("card's channel is gone; not edited", extra={"channel": posted.conversation_id})
                continue
            if (error := await self._edit(posted, reference, card, wanted)) is not None:
                errors.append(error)
        return "; ".join(errors) or None

    async def _edit(
        self, posted: repo.Posted, reference: dict[str, Any], card: dict[str, Any], wanted: str
    ) -> str | None:
        """Edit one posted copy to `card` (hash `wanted`); the error when it should be tried again later."""
        try:
            await self._deliver(
                posted.conversation_id,
                partial(self.services.proactive.update, reference, posted.conversation_id, posted.activity_id, card),
            )
        except DeliveryError as exc:
            if exc.status not in GONE:
                return f"{posted.conversation_id}: {exc}"
            # Deleted in Teams, or the bot was removed: settle this version instead of retrying forever.
            log.warning(
                "card cannot be edited any more (deleted, or the bot removed)",
                extra={"referral_id": posted.referral_id, "channel": posted.conversation_id, "error": str(exc)[:200]},
            )
        await self.services.db(repo.set_card_hash, posted.id, wanted)
        log.info("referral card edited", extra={"referral_id": posted.referral_id, "channel": posted.conversation_id})
        return None

    # -- time left ----------------------------------------------------------------------------------

    async def _refresh_countdowns(self, *, only: int | None = None) -> None:
        """Edit cards whose shown time left is out of date: all of them (a few per check), or posted card `only`."""
        now = self.services.now()
        if only is None:
            if self._next_refresh is not None and now < self._next_refresh:
                return
            self._next_refresh = now + self.options.refresh_every
        edited = 0
        cards = await self.services.db(
            repo.countdown_cards, now=now, expired_for=self.options.expired_shown_for, posted_id=only
        )
        for due in cards:
            if self._stopping or edited >= self.options.refresh_batch:
                return
            card = self._render(due.referral, due.lead, now)
            wanted = card_hash(card)
            if wanted == due.posted.card_hash:
                continue
            edited += 1
            error = await self._edit(due.posted, due.reference, card, wanted)
            if error is not None:  # the next check tries again
                log.warning("time left not refreshed", extra={"referral_id": due.referral.id, "error": error[:200]})

    # -- reminders ----------------------------------------------------------------------------------

    async def _reminders(self) -> None:
        now = self.services.now()
        within = timedelta(hours=self.services.settings.reminder_hours)
        if within <= timedelta(0):
            return
        for due in await self.services.db(repo.reminders_due, now=now, within=within):
            if self._stopping:
                return
            posted = due.posted
            reference = await self.services.db(repo.reference_of, posted.conversation_id)
            if reference is not None:
                text = messages.REMINDER.format(left=format_duration(due.expires_at - now))
                try:
                    await self._deliver(
                        posted.conversation_id,
                        partial(
                            self.services.proactive.reply_in_thread,
                            reference,
                            posted.conversation_id,
                            posted.activity_id,
                            Reply(text=text),
                        ),
                        idempotent=False,
                    )
                except MaybePosted as exc:  # rather a reminder lost than two
                    log.warning("reminder's answer was lost; counted as sent", extra={"error": str(exc)[:200]})
                except DeliveryError as exc:
                    if exc.status not in GONE:
                        log.warning("reminder not delivered; will retry", extra={"error": str(exc)[:200]})
                        continue
                    log.warning("reminder cannot be posted (card gone or bot removed)", extra={"error": str(exc)[:200]})
            await self.services.db(repo.mark_reminded, posted.id, now=self.services.now())
            log.info("expiry reminder posted", extra={"referral_id": posted.referral_id})
            await self._refresh_countdowns(only=posted.id)  # the card says what the reminder says


def start_dispatcher(services: Services) -> Dispatcher:
    """Start the one dispatcher loop of these services and wire its wake-up to syncs and `notify here`."""
    running = services.extras.get("dispatcher")
    if isinstance(running, Dispatcher) and running.running:
        return running
    options = services.extras.get("dispatch_options")
    dispatcher = Dispatcher(services, options if isinstance(options, DispatchOptions) else None)
    services.extras["dispatcher"] = dispatcher
    services.wake_dispatcher = dispatcher.wake
    on_finished = getattr(services.sync, "on_finished", None)
    if isinstance(on_finished, list):
        on_finished.append(dispatcher._after_sync)
    dispatcher.start()
    return dispatcher
