"""How fast do `referrals co-sell` and `lead <domain>` answer through `/api/messages`?

Loads 100,000 referrals and 50,000 leads into a fresh database, serves the real bot app on loopback in a process of its
own (the load generator and a fake Bot Connector run in this one), then sends each command N times at 20 concurrent
requests. Server-side time is measured by a middleware around the whole request (parsing, auth, routing, queries, card
building and the reply's POST to the connector).

    .venv/bin/python bench/commands.py [--referrals 100000] [--leads 50000] [--requests 400] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app
from core.settings import Settings
from storage.db import make_engine, migrate
from storage.models import DomainScan, Lead, Referral
from tests.fakes.activities import Teams
from tests.fakes.connector import FakeConnector

KINDS = ["co-sell", "co-sell", "marketplace", "ms-lead", "other"]
STATUSES = [("New", "Pending"), ("Active", "Accepted"), ("Closed", "Won"), ("Closed", "Lost")]


def load(database_url: str, referrals: int, leads: int) -> list[str]:
    """Bulk-load the tables; returns the lead domains."""
    engine = make_engine(database_url)
    migrate(engine)
    rng = random.Random(7)
    now = datetime.now(UTC)
    domains = [f"customer{i:05d}.example.com" for i in range(leads)]
    with engine.begin() as conn:
        conn.execute(
            Lead.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": i + 1,
                    "domain": d,
                    "company": f"Customer {i}",
                    "source": "partner_center",
                    "external_id": None,
                    "segment": rng.choice(["Existing", "Migration", "Cold"]),
                    "score": rng.randint(10, 90),
                    "score_reasons": ["Microsoft 365 mail → Existing +60"],
                    "created_at": now,
                    "updated_at": now,
                }
                for i, d in enumerate(domains)
            ],
        )
        conn.execute(
            DomainScan.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "domain": d,
                    "provider": "m365",
                    "mx_hosts": [f"{d}.mail.protection.outlook.com"],
                    "spf": None,
                    "dmarc": None,
                    "error": None,
                    "scanned_at": now,
                }
                for d in domains[: leads // 2]
            ],
        )
        batch: list[dict[str, Any]] = []
        for i in range(referrals):
            lead = rng.randrange(leads)
            status, substatus = rng.choice(STATUSES)
            created = now - timedelta(minutes=rng.randrange(60 * 24 * 90))
            batch.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "engagement_id": None,
                    "name": f"Deal {i}",
                    "kind": rng.choice(KINDS),
                    "direction": "Incoming",
                    "status": status,
                    "substatus": substatus,
                    "status_reason": None,
                    "referral_type": "Shared",
                    "qualification": "SalesQualified",
                    "invited_by_org_id": "partner",
                    "invited_by_org_name": "Fabrikam",
                    "customer_name": f"Customer {lead}",
                    "customer_domain": domains[lead],
                    "country": "GB",
                    "deal_value": float(rng.randrange(1000, 900000)),
                    "currency": "USD",
                    "notes": "Customer wants to migrate.",
                    "invite_notes": None,
                    "etag": '"e"',
                    "created_at": created,
                    "updated_at": created,
                    "expires_at": created + timedelta(days=14),
                    "accepted_at": None,
                    "closed_at": None,
                    "raw": {},
                    "lead_id": lead + 1,
                    "first_seen_at": created,
                    "last_synced_at": now,
                    "accepted_by_name": None,
                    "accepted_by_aad_id": None,
                    "accepted_in_teams_at": None,
                    "reminder_sent_at": None,
                }
            )
            if len(batch) == 10_000:
                conn.execute(Referral.__table__.insert(), batch)  # type: ignore[attr-defined]
                batch.clear()
        if batch:
            conn.execute(Referral.__table__.insert(), batch)  # type: ignore[attr-defined]
    engine.dispose()
    return domains


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _serve_bot(database_url: str, connector_url: str, pipe: Any) -> None:
    """The bot in a process of its own (a core of its own), timing every request server-side."""

    async def serve() -> None:
        settings = Settings(
            database_url=database_url,
            poller_enabled=False,
            scan_enabled=False,
            partner_center_access_token="unused",
            partner_center_api_url="http://127.0.0.1:9",
        )
        app = create_app(settings)
        timings: dict[str, list[float]] = {}

        @web.middleware
        async def timed(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                label = request.headers.get("X-Bench", "other")
                timings.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        app.middlewares.append(timed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        pipe.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "report"
        pipe.send(timings)
        await runner.cleanup()

    asyncio.run(serve())


async def measure(database_url: str, domains: list[str], requests: int, concurrency: int) -> None:
    connector = await FakeConnector().start()
    parent, child = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=_serve_bot, args=(database_url, connector.url, child), daemon=True
    )
    server.start()
    port = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    url = f"http://127.0.0.1:{port}/api/messages"
    teams = Teams(connector.url)
    rng = random.Random(11)
    semaphore = asyncio.Semaphore(concurrency)
    walls: dict[str, float] = {}

    async with aiohttp.ClientSession() as http:

        async def one(text: str, tag: str) -> None:
            async with semaphore, http.post(url, json=teams.message(text), headers={"X-Bench": tag}) as response:
                assert response.status in (200, 201), await response.text()

        # Warm up at the measured concurrency, so that the worker threads and database connections a burst of
        # 20 needs exist before timing starts (a sequential warm-up leaves one of each).
        await asyncio.gather(*(one("referrals co-sell", "warmup") for _ in range(2 * concurrency)))
        await asyncio.gather(*(one(f"lead {rng.choice(domains)}", "warmup") for _ in range(2 * concurrency)))
        for tag, make in (
            ("referrals co-sell", lambda: "referrals co-sell"),
            ("lead <domain>", lambda: f"lead {rng.choice(domains)}"),
        ):
            started = time.perf_counter()
            await asyncio.gather(*(one(make(), tag) for _ in range(requests)))
            walls[tag] = time.perf_counter() - started
    parent.send("report")
    timings = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    server.join(10)
    for tag, wall in walls.items():
        values = timings[tag]
        print(
            f"{tag:>20}: {len(values)} requests at {concurrency} concurrent, {len(values) / wall:,.0f} req/s; "
            f"server-side p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"max {max(values):.1f} ms (target p95 <= 50 ms)"
        )
    print(f"replies recorded by the fake connector: {len(connector.cards())} cards")
    await connector.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        domains = load(url, args.referrals, args.leads)
        print(
            f"loaded {args.referrals:,} referrals and {args.leads:,} leads into {url.split('://')[0]} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        asyncio.run(measure(url, domains, args.requests, args.concurrency))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
