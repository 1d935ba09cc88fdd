"""The per-thread sliding-window limiter, on a hand-driven clock (no sleeping, no timing)."""

from __future__ import annotations

from collections import deque

import pytest

from bot.dispatcher import TEAMS_THREAD_LIMITS, SlidingWindowLimiter, jittered


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take(limiter: SlidingWindowLimiter, key: str) -> None:
    assert limiter.delay(key) == 0
    limiter._sent.setdefault(key, deque()).append(limiter.clock())


def test_seven_per_second_then_eight_per_two_seconds_then_sixty_per_thirty() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(TEAMS_THREAD_LIMITS, margin=0.0, clock=clock)
    for _ in range(7):
        take(limiter, "a")
    assert limiter.delay("a") == pytest.approx(1.0)
    assert limiter.delay("b") == 0  # another thread is not affected
    clock.now += 1.0
    take(limiter, "a")  # the 8th, one second later
    assert limiter.delay("a") == pytest.approx(1.0)  # 8 per 2 s: wait until the first leaves the 2 s window
    sent = 8
    while sent < 60:
        clock.now += limiter.delay("a")
        take(limiter, "a")
        sent += 1
    started = 1000.0
    assert limiter.delay("a") == pytest.approx(started + 30.0 - clock.now)  # the 61st waits for the 30 s window


def test_margin_and_block() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(((1.0, 1),), margin=0.25, clock=clock)
    take(limiter, "a")
    assert limiter.delay("a") == pytest.approx(1.25)
    limiter.block("a", 5.0)
    assert limiter.delay("a") == pytest.approx(5.0)
    clock.now += 5.0
    assert limiter.delay("a") == 0


async def test_acquire_counts_the_send() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(((1.0, 2),), margin=0.0, clock=clock)
    await limiter.acquire("a")
    await limiter.acquire("a")
    assert limiter.delay("a") == pytest.approx(1.0)


def test_backoff_is_bounded_and_positive() -> None:
    for attempt in range(20):
        wait = jittered(0.25, attempt, 10.0)
        assert 0 < wait <= 10.0
