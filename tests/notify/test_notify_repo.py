"""Outbox claiming and posted-card bookkeeping on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import notify_repo as repo
from storage.db import make_engine, session_scope
from storage.models import NotificationOutbox, Referral
from storage.types import utcnow

LEASE = timedelta(minutes=5)


def seed(engine: Engine, count: int) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        for i in range(count):
            session.add(Referral(id=f"r{i}", kind="co-sell", direction="Incoming", status="New"))
        session.flush()
        for i in range(count):
            session.add(NotificationOutbox(referral_id=f"r{i}", event="post", next_attempt_at=now, created_at=now))


def claim(engine: Engine, **kwargs: object) -> list[repo.Job]:
    with session_scope(engine) as session:
        return repo.claim_due(session, lease=LEASE, **kwargs)  # type: ignore[arg-type]


def test_claimed_rows_are_leased_and_come_back_after_the_lease(engine: Engine) -> None:
    seed(engine, 5)
    now = utcnow()
    first = claim(engine, now=now, events=("post",), limit=3)
    second = claim(engine, now=now, events=("post",), limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {j.id for j in first} & {j.id for j in second}
    assert claim(engine, now=now, events=("post",)) == []  # all leased
    assert claim(engine, now=now, events=("update",)) == []
    later = claim(engine, now=now + LEASE + timedelta(seconds=1), events=("post",))
    assert len(later) == 5  # a dead claimer's rows are not lost


def test_retry_and_finish(engine: Engine) -> None:
    seed(engine, 1)
    now = utcnow()
    [job] = claim(engine, now=now, events=("post",))
    with session_scope(engine) as session:
        repo.retry_job(session, job.id, at=now + timedelta(seconds=30), error="Bot Connector answered 503")
    assert claim(engine, now=now + timedelta(seconds=29), events=("post",)) == []
    [again] = claim(engine, now=now + timedelta(seconds=30), events=("post",))
    assert again.attempts == 1
    with session_scope(engine) as session:
        assert repo.finish_job(session, again.id, now=now) is False
    with Session(engine) as session:
        row = session.get(NotificationOutbox, again.id)
        assert row is not None and row.done_at is not None and row.last_error == "Bot Connector answered 503"
    assert claim(engine, now=now + LEASE * 10, events=("post",)) == []


def test_a_card_is_recorded_once_per_referral_and_channel(engine: Engine) -> None:
    seed(engine, 1)
    now = utcnow()
    with session_scope(engine) as session:
        assert repo.record_posted(session, "r0", "19:a@thread.tacv2", "1", "h", now=now) is True
        assert repo.record_posted(session, "r0", "19:a@thread.tacv2", "2", "h", now=now) is False
        assert repo.record_posted(session, "r0", "19:b@thread.tacv2", "3", "h", now=now) is True
    with session_scope(engine) as session:
        posted = repo.posted_cards(session, "r0")
    assert [(p.conversation_id, p.activity_id) for p in posted] == [
        ("19:a@thread.tacv2", "1"),
        ("19:b@thread.tacv2", "3"),
    ]


def test_two_claimers_at_the_same_moment_never_get_the_same_row(engine: Engine) -> None:
    """The second claimer runs its whole claim right after the first one's first statement on the outbox: with a
    read-then-write claim both would take every row; an atomic claim gives each row to exactly one of them."""
    seed(engine, 5)
    now = utcnow()
    first_engine = make_engine(engine.url.render_as_string(hide_password=False))
    second: list[repo.Job] = []
    others: list[threading.Thread] = []
    fired = threading.Event()

    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired.is_set() or "notification_outbox" not in statement:
            return
        fired.set()
        other = threading.Thread(target=lambda: second.extend(claim(engine, now=now, events=("post",))))
        other.start()
        others.append(other)
        other.join(timeout=1.0)  # an atomic claim holds its rows: the other claimer waits, or skips them

    event.listen(first_engine, "after_cursor_execute", interleave)
    try:
        first = claim(first_engine, now=now, events=("post",))
    finally:
        event.remove(first_engine, "after_cursor_execute", interleave)
        first_engine.dispose()
    assert fired.is_set()
    others[0].join(timeout=30)
    taken = [j.id for j in first] + [j.id for j in second]
    assert sorted(taken) == sorted(set(taken)), "a row was claimed twice"
    assert len(taken) == 5
