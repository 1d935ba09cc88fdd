"""The read queries behind the chat commands, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from storage import queries
from storage.db import session_scope
from storage.sync_repo import insert_referrals
from storage.types import utcnow


def test_list_referrals_pages_newest_first_and_counts(engine: Engine) -> None:
    now = utcnow()
    rows = [
        {
            "id": f"r{i:02d}",
            "kind": "co-sell" if i % 3 else "marketplace",
            "direction": "Incoming",
            "status": "Closed" if i == 7 else "New",
            "etag": "e",
            "customer_name": f"Customer {i}",
            "expires_at": now + timedelta(days=i),
            "raw": {},
            "created_at": now - timedelta(minutes=i),
            "first_seen_at": now,
            "last_synced_at": now,
        }
        for i in range(20)
    ]
    with session_scope(engine) as session:
        insert_referrals(session, rows)
    with session_scope(engine) as session:
        first, total, more = queries.list_referrals(
            session, kind="co-sell", statuses=queries.OPEN_STATUSES, page=1, page_size=5
        )
        second, _, _ = queries.list_referrals(
            session, kind="co-sell", statuses=queries.OPEN_STATUSES, page=2, page_size=5
        )
        closed, closed_total, _ = queries.list_referrals(session, kind=None, statuses=("Closed",), page=1, page_size=5)
    open_co_sell = [r["id"] for r in rows if r["kind"] == "co-sell" and r["status"] == "New"]
    assert (total, more) == (len(open_co_sell), False)
    assert [r.id for r in first + second] == open_co_sell[:10]  # created newest first
    assert first[0].customer_name == "Customer 1" and first[0].expires_at == rows[1]["expires_at"]
    assert [r.id for r in closed] == ["r07"] and closed_total == 1
