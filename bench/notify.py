"""Benchmark: N new co-sell referrals at once through the real bot app's dispatcher to a throttling fake connector.

    .venv/bin/python bench/notify.py [--count 500]      (or: .venv/bin/python -m bench.notify)

Everything runs on loopback: the Partner Center simulator, the bot app (SQLite in a temp dir) and the fake Bot
Connector with `throttle=True` (Teams' per-thread limits: 7 per 1 s and 60 per 30 s, 429 Retry-After: 1).
The dispatcher uses Teams' documented per-thread limits (7/1 s, 8/2 s, 60/30 s). Prints plain lines: the elapsed
time from the end of the sync (outbox full) to the last card, the floor those limits allow, the ratio, and the
duplicated / lost cards and 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, like the other benchmarks

from bot.app import SERVICES, create_app
from bot.dispatcher import TEAMS_THREAD_LIMITS
from core.settings import Settings
from sandbox.partner_center.app import create_app as create_simulator
from sandbox.partner_center.generator import make_referral
from sandbox.partner_center.store import ReferralStore
from tests.fakes.activities import ADMIN, CHANNEL_ID, Teams
from tests.fakes.connector import FakeConnector

TOKEN = "bench-token"
INSTALL_CHANNEL = "19:general@thread.tacv2"  # the welcome goes here, so the sales channel's windows start empty


def floor_seconds(count: int, limits: Sequence[tuple[float, int]]) -> float:
    """Time of the last of `count` sends after the first, sending each as early as every window allows."""
    times: list[float] = []
    for i in range(count):
        at = times[-1] if times else 0.0
        for window, limit in limits:
            if i >= limit:
                at = max(at, times[i - limit] + window)
        times.append(at)
    return times[-1] if times else 0.0


async def main(count: int) -> None:
    connector = await FakeConnector(throttle=True).start()
    store = ReferralStore(make_referral("co-sell", now=datetime.now(UTC) - timedelta(minutes=1)) for _ in range(count))
    simulator = TestServer(create_simulator(store, token_validator={TOKEN}), host="127.0.0.1")
    await simulator.start_server()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            poller_enabled=False,
            scan_enabled=False,
            partner_center_api_url=str(simulator.make_url("")).rstrip("/"),
            partner_center_access_token=TOKEN,
            admin_aad_object_ids=[ADMIN["aadObjectId"]],
            log_level="WARNING",
        )
        client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        services = client.app[SERVICES]
        teams = Teams(connector.url)
        try:
            await client.post("/api/messages", json=teams.bot_added_to_team(INSTALL_CHANNEL))
            await client.post("/api/messages", json=teams.message("notify here", where="channel", user=ADMIN))
            sync_started = time.monotonic()
            await services.sync.run("manual")
            started = time.monotonic()
            await connector.wait_for(lambda c: len(c.of("create")) >= count, timeout=count * 2 + 60)
            elapsed = time.monotonic() - started
            await asyncio.sleep(1.0)  # anything posted late would be a duplicate
        finally:
            await client.close()
            await simulator.close()
            await connector.close()

    creates = [s for s in connector.of("create") if s.conversation_id == CHANNEL_ID]
    per_referral = Counter(
        next((f["value"] for f in _facts(s.activity) if f.get("title") == "ID"), "?") for s in creates
    )
    duplicates = sum(n - 1 for n in per_referral.values() if n > 1)
    lost = count - len(per_referral)
    floor_teams = floor_seconds(count, TEAMS_THREAD_LIMITS)
    floor_7 = count / 7
    print(f"cards: {count} new co-sell referrals, one sales channel, connector throttle=True")
    print(f"sync (fetch + store + outbox): {started - sync_started:.1f} s")
    print(f"elapsed (outbox full -> last card posted): {elapsed:.1f} s")
    print(f"7-per-second floor ({count}/7): {count / 7:.1f} s")
    print(f"floor under Teams' per-thread limits 7/1s, 8/2s, 60/30s: {floor_teams:.1f} s")
    print(f"ratio elapsed / Teams-limits floor: {elapsed / floor_teams:.3f}" if floor_teams else "ratio: n/a")
    print(f"ratio elapsed / 7-per-second floor: {elapsed / floor_7:.3f}" if floor_7 else "ratio: n/a")
    print(f"throughput: {count / elapsed:.2f} cards/s")
    print(f"429s and other refusals from the connector: {connector.failed}")
    print(f"duplicates: {duplicates}")
    print(f"lost: {lost}")


def _facts(activity: dict[str, object]) -> list[dict[str, str]]:
    for attachment in activity.get("attachments") or []:  # type: ignore[attr-defined]
        for element in attachment.get("content", {}).get("body", []):
            if element.get("type") == "FactSet":
                facts: list[dict[str, str]] = element.get("facts", [])
                return facts
    return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    asyncio.run(main(parser.parse_args().count))
