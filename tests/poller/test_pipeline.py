"""The whole pipeline against the simulator over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from poller.client import PartnerCenterClient
from poller.mapping import parse_datetime
from poller.pipeline import SyncDeps, run_sync
from poller.upsert import apply_page
from poller.wire import decode_list_page
from storage.db import make_engine, session_scope
from storage.models import Lead, NotificationOutbox, PostedCard, Referral, SyncRun, SyncState
from storage.types import utcnow
from tests.poller.conftest import FakeTokens, Simulator, StartSimulator, make_settings
from tests.poller.helpers import examples, make_referral

MakeClient = Callable[..., PartnerCenterClient]

CO_SELL, MARKETPLACE, CLOSED_MS_LEAD, OUTGOING, NO_EMAIL = (r["id"] for r in examples())


def deps_for(engine: Engine, client: PartnerCenterClient, **settings: Any) -> SyncDeps:
    return SyncDeps(settings=make_settings(**settings), engine=engine, client=client, scanner=None)


def rows(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.scalars(select(model)))


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def state(engine: Engine) -> SyncState:
    with Session(engine) as session:
        found = session.get(SyncState, 1)
        assert found is not None
        return found


def referral(engine: Engine, referral_id: str) -> Referral:
    with Session(engine) as session:
        found = session.get(Referral, referral_id)
        assert found is not None
        return found


async def test_full_sync_of_the_documented_examples(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples(), page_cap=2)
    run = await run_sync(deps_for(engine, make_client(sim)), trigger="manual")

    assert run.status == "success" and run.mode == "full" and run.error is None
    assert (run.pages, run.requests, run.fetched) == (2, 2, 4)  # the outgoing one is filtered by the server
    assert (run.inserted, run.updated, run.unchanged) == (3, 0, 0)
    assert run.skipped == {"status_closed": 1, "no_domain": 1}
    assert run.notified == 1 and (run.leads_created, run.leads_linked) == (2, 2)

    stored = {r.id: r for r in rows(engine, Referral)}
    assert set(stored) == {CO_SELL, MARKETPLACE, NO_EMAIL}
    co_sell = stored[CO_SELL]
    assert co_sell.kind == "co-sell" and co_sell.customer_domain == "northwindtraders.co.uk"
    assert co_sell.etag == '"9a00c1d2-0000-0100-0000-67c5c8ad0000"'
    assert co_sell.raw["customerProfile"]["name"] == "Northwind Traders Ltd"
    assert co_sell.created_at is not None and co_sell.created_at.microsecond == 123456
    assert stored[MARKETPLACE].kind == "marketplace" and stored[NO_EMAIL].kind == "ms-lead"
    assert stored[NO_EMAIL].customer_domain is None and stored[NO_EMAIL].lead_id is None

    leads = {lead.domain: lead for lead in rows(engine, Lead)}
    assert set(leads) == {"northwindtraders.co.uk", "tailspintoys.com"}
    northwind = leads["northwindtraders.co.uk"]
    assert co_sell.lead_id == northwind.id
    assert (northwind.company, northwind.source, northwind.external_id) == (
        "Northwind Traders Ltd",
        "partner_center",
        CO_SELL,
    )
    assert northwind.score == 25 and "Co-sell referral +15" in northwind.score_reasons
    assert leads["tailspintoys.com"].score == 10

    outbox = rows(engine, NotificationOutbox)
    assert [(o.referral_id, o.event) for o in outbox] == [(CO_SELL, "post")]
    sync_runs = rows(engine, SyncRun)
    assert len(sync_runs) == 1 and sync_runs[0].status == "success" and sync_runs[0].finished_at is not None


async def test_second_sync_writes_nothing(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    client = make_client(sim)
    await run_sync(deps_for(engine, client))
    before = {r.id: r.last_synced_at for r in rows(engine, Referral)}

    incremental = await run_sync(deps_for(engine, client))
    assert incremental.status == "success" and incremental.mode == "incremental"
    assert incremental.requests == 1
    assert (incremental.inserted, incremental.updated, incremental.notified) == (0, 0, 0)

    full = await run_sync(deps_for(engine, client), force_full=True)
    assert full.mode == "full" and (full.inserted, full.updated, full.unchanged) == (0, 0, 3)
    assert full.notified == 0 and count(engine, NotificationOutbox) == 1
    assert {r.id: r.last_synced_at for r in rows(engine, Referral)} == before


async def test_a_change_in_partner_center_updates_the_row(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    client = make_client(sim)
    await run_sync(deps_for(engine, client))
    old_etag = referral(engine, CO_SELL).etag

    sim.store.update(CO_SELL, {"status": "Active", "substatus": "Accepted"})
    run = await run_sync(deps_for(engine, client))
    assert (run.inserted, run.updated) == (0, 1) and run.notified == 0  # no card posted yet: no update event
    row = referral(engine, CO_SELL)
    assert (row.status, row.substatus) == ("Active", "Accepted") and row.etag != old_etag
    assert row.etag == sim.store.get(CO_SELL)["eTag"]  # type: ignore[index]

    with Session(engine) as session:
        session.add(PostedCard(referral_id=CO_SELL, conversation_id="19:sales", activity_id="a1"))
        session.commit()
    sim.store.update(CO_SELL, {"status": "Closed", "substatus": "Won"})  # closed, but stored: still updated
    run = await run_sync(deps_for(engine, client))
    assert run.updated == 1 and run.notified == 1
    assert referral(engine, CO_SELL).status == "Closed"
    events = sorted(o.event for o in rows(engine, NotificationOutbox))
    assert events == ["post", "update"]


async def test_each_skip_reason_and_invalid_payloads(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    closed = make_referral(status="Closed", substatus="Won")
    lost = make_referral(status="Active", substatus="Lost")
    good = make_referral(email="x@gmail.com")
    sim = await start_simulator(
        [
            closed,
            lost,
            good,
            {"status": "New", "direction": "Incoming"},
            {"id": "bad-status", "status": 7, "direction": "Incoming"},
        ]
    )
    run = await run_sync(deps_for(engine, make_client(sim)))
    assert run.status == "success"
    assert run.skipped == {"status_closed": 2, "invalid_payload": 2, "no_domain": 1}
    assert run.inserted == 1 and run.notified == 1  # a co-sell without a domain is still announced
    stored = referral(engine, good["id"])
    assert stored.customer_domain is None and stored.lead_id is None and count(engine, Lead) == 0


async def test_hostile_text_and_dates_are_stored_or_skipped_never_fatal(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    """NUL characters (PostgreSQL text refuses them) and dates past datetime's range once in UTC."""
    nul_name = make_referral(customer="Con\x00toso")
    nul_name["details"]["notes"] = "line\x00break"
    far_future = make_referral(updated="9999-12-31T23:59:59-05:00")
    nul_id = make_referral(id="bad\x00id")
    lone_surrogate = make_referral(customer="Fabrikam \ud800")  # valid JSON escape, not valid Unicode
    sim = await start_simulator([nul_name, far_future, nul_id, lone_surrogate])
    run = await run_sync(deps_for(engine, make_client(sim)))
    assert run.status == "success"
    assert run.inserted == 3 and run.skipped == {"invalid_payload": 1}
    assert referral(engine, lone_surrogate["id"]).customer_name == "Fabrikam \ufffd"
    stored = referral(engine, nul_name["id"])
    assert stored.customer_name == "Contoso" and stored.notes == "linebreak"
    assert referral(engine, far_future["id"]).updated_at is None


async def test_outbox_one_row_per_new_incoming_co_sell(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    co_sells = [make_referral(email=f"a@firm{i}.com") for i in range(5)]
    partner_independent = make_referral(type="Independent", qualification="None", email="b@firm9.com")
    ms_leads = [make_referral(type="Independent", invited_by="msft", email=f"c@lead{i}.com") for i in range(3)]
    sim = await start_simulator([*co_sells, partner_independent, *ms_leads], page_cap=4)
    client = make_client(sim)
    run = await run_sync(deps_for(engine, client))
    assert run.inserted == 9 and run.notified == 6
    posted = sorted(o.referral_id for o in rows(engine, NotificationOutbox))
    assert posted == sorted(r["id"] for r in [*co_sells, partner_independent])
    await run_sync(deps_for(engine, client), force_full=True)
    assert count(engine, NotificationOutbox) == 6


async def test_same_domain_links_one_lead(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    a = make_referral(email="One@Mail.Fabrikam.co.uk", customer="Fabrikam")
    b = make_referral(email="two@fabrikam.co.uk", customer="Fabrikam UK")
    sim = await start_simulator([a, b], page_cap=1)
    run = await run_sync(deps_for(engine, make_client(sim)))
    assert (run.leads_created, run.leads_linked) == (1, 2)
    (lead,) = rows(engine, Lead)
    assert lead.domain == "fabrikam.co.uk"
    assert {r.lead_id for r in rows(engine, Referral)} == {lead.id}


async def test_lead_scores_follow_co_sell_referrals_across_pages_and_moves(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    """A lead made by a marketplace referral gains the co-sell boost when a co-sell referral for its domain
    comes on a later page, and loses it when that referral moves to another customer domain."""
    marketplace = make_referral(
        type="Independent", qualification="Direct", invited_by=None, email="a@fabrikam.com", updated=_at(5)
    )
    co_sell = make_referral(email="b@fabrikam.com", updated=_at(0))
    sim = await start_simulator([marketplace, co_sell], page_cap=1)  # newest first: the marketplace one first
    client = make_client(sim)
    run = await run_sync(deps_for(engine, client))
    assert run.pages == 2 and run.leads_created == 1
    assert scores(engine) == {"fabrikam.com": 25}

    sim.store.update(co_sell["id"], {"customerProfile": {"team": [{"email": "c@contoso-moved.de"}]}})
    run = await run_sync(deps_for(engine, client))
    assert run.mode == "incremental" and run.updated == 1
    assert scores(engine) == {"fabrikam.com": 10, "contoso-moved.de": 25}


def _at(second: int) -> str:
    return f"2025-05-01T10:00:{second:02d}.0000000Z"


def scores(engine: Engine) -> dict[str, int]:
    return {lead.domain: lead.score for lead in rows(engine, Lead)}


async def test_two_processes_syncing_at_once_both_succeed_and_announce_each_referral_once(
    database_url: str, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    """Two pollers (two engines: as two processes, or two replicas on one PostgreSQL) sweep the same
    referrals at the same moment: page writes take turns, nothing is inserted or announced twice."""
    referrals = [make_referral(email=f"cto@firm{i}.com", updated=_at(i % 60)) for i in range(120)]
    sim = await start_simulator(referrals, page_cap=10)
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        runs = await asyncio.gather(*(run_sync(deps_for(e, make_client(sim))) for e in engines))
        assert [r.status for r in runs] == ["success", "success"], [r.error for r in runs]
        assert sum(r.inserted for r in runs) == 120 and sum(r.notified for r in runs) == 120
        assert count(engines[0], Referral) == 120 and count(engines[0], NotificationOutbox) == 120
        assert count(engines[0], Lead) == 120
    finally:
        for e in engines:
            e.dispose()


class FailOnRequest(FakeTokens):
    """Makes every request from the `n`-th on fail with 503 (retries included), by injecting a fault."""

    def __init__(self, sim: Simulator, n: int) -> None:
        super().__init__()
        self.sim, self.n = sim, n

    async def get_token(self, *, force_refresh: bool = False) -> str:
        if len(self.calls) + 1 == self.n:
            self.sim.faults.server_error(None, status=503)
        return await super().get_token(force_refresh=force_refresh)


def _timeline(n: int) -> list[dict[str, Any]]:
    return [make_referral(email=f"x@co{i}.com", updated=f"2025-05-01T10:00:{i:02d}.0000000Z") for i in range(n)]


async def test_incremental_watermark_never_passes_uncommitted_data(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    referrals = _timeline(30)
    sim = await start_simulator(referrals, page_cap=10)
    await run_sync(deps_for(engine, make_client(sim)))
    after_full = state(engine).watermark
    assert after_full is not None and after_full.second == 29

    changed = [sim.store.update(r["id"], {"details": {"notes": "changed"}}) for r in referrals[:25]]
    tokens = FailOnRequest(sim, 3)  # page 3 fails, retries exhausted
    failed = await run_sync(deps_for(engine, make_client(sim, tokens, max_retries=2)))
    assert failed.status == "failed" and "UpstreamUnavailable" in (failed.error or "")
    # Two pages committed: the overlap window re-reads the newest unchanged ones first (oldest first order).
    assert failed.mode == "incremental" and failed.pages == 2 and failed.updated + failed.unchanged == 20

    committed = [r for r in rows(engine, Referral) if r.notes == "changed"]
    assert len(committed) == failed.updated < 25
    watermark = state(engine).watermark
    assert watermark is not None and watermark == max(r.updated_at for r in committed)
    uncommitted = [c for c in changed if referral(engine, c["id"]).notes != "changed"]
    assert len(uncommitted) == 25 - failed.updated
    assert all(watermark < parse_datetime(c["updatedDateTime"]) for c in uncommitted)  # type: ignore[operator]

    sim.faults.clear()
    again = await run_sync(deps_for(engine, make_client(sim)))
    assert again.status == "success" and again.updated == len(uncommitted)
    assert all(r.notes == "changed" for r in rows(engine, Referral) if r.id in {c["id"] for c in changed})
    final = state(engine).watermark
    assert final is not None and final > watermark


async def test_failed_full_sweep_leaves_the_watermark(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(_timeline(30), page_cap=10)
    tokens = FailOnRequest(sim, 3)
    run = await run_sync(deps_for(engine, make_client(sim, tokens, max_retries=1)))
    assert run.status == "failed" and run.inserted == 20
    with Session(engine) as session:
        assert session.get(SyncState, 1) is None  # nothing recorded: the next run is a full sweep again
    sim.faults.clear()
    again = await run_sync(deps_for(engine, make_client(sim)))
    assert again.mode == "full" and again.inserted == 10 and again.unchanged == 20
    assert state(engine).watermark is not None


async def test_rejected_gt_filter_falls_back_to_full_sweep(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    client = make_client(sim)
    await run_sync(deps_for(engine, client))
    sim.faults.reject_gt()
    run = await run_sync(deps_for(engine, client))
    assert run.status == "success" and run.mode == "full"
    assert run.note is not None and "full sweep" in run.note
    assert run.unchanged == 3 and run.requests == 2


async def test_not_signed_in_is_a_run_status(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    run = await run_sync(deps_for(engine, make_client(sim, FakeTokens(signed_in=False))))
    assert run.status == "not_signed_in" and run.note and "Not signed in" in run.note
    assert sim.requests == [] and count(engine, Referral) == 0
    assert rows(engine, SyncRun)[0].status == "not_signed_in"


async def test_summary_log_line(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    sim = await start_simulator(examples())
    run = await run_sync(deps_for(engine, make_client(sim)))
    (record,) = [r for r in caplog.records if r.getMessage() == "partner_center_sync_summary"]
    assert record.inserted == run.inserted == 3  # type: ignore[attr-defined]
    assert record.skipped == run.skipped and record.status == "success"  # type: ignore[attr-defined]


def test_apply_page_skips_outgoing_and_updates_stored_closed(engine: Engine) -> None:
    """The page stage on its own: an outgoing item (should a server ignore the direction filter) is skipped."""
    outgoing = make_referral(direction="Outgoing")
    incoming = make_referral()
    with session_scope(engine) as session:
        first = apply_page(
            session, [outgoing, incoming, "junk"], now=utcnow(), co_sell_boost=15, rescan_after=timedelta(days=30)
        )
    assert first.skipped == {"direction_outgoing": 1, "invalid_payload": 1} and first.inserted == 1
    incoming.update(status="Closed", substatus="Lost", eTag='"new"')
    with session_scope(engine) as session:
        second = apply_page(session, [incoming], now=utcnow(), co_sell_boost=15, rescan_after=timedelta(days=30))
    assert second.updated == 1 and not second.skipped
    assert referral(engine, incoming["id"]).substatus == "Lost"


def test_list_items_are_read_field_by_field_and_stored_verbatim(engine: Engine) -> None:
    """The fast path of `poller.wire`: the raw payload stored is the item exactly as sent (unknown fields,
    big integers, key order); items that are not objects are skipped; a deal value beyond a double, which only
    the general parser reads, is no deal value rather than a lost referral."""
    plain = make_referral()
    plain["zFutureField"] = {"nested": [1, {"deep": "x"}], "big": 10**30}
    huge = make_referral()
    huge["details"]["dealValue"] = 10**400
    body = json.dumps({"value": [plain, "junk", 42, None, [], huge], "@odata.nextLink": None}).encode()
    page = decode_list_page(body)
    assert page is not None and len(page.value) == 6
    with session_scope(engine) as session:
        outcome = apply_page(session, page.value, now=utcnow(), co_sell_boost=15, rescan_after=timedelta(days=30))
    assert outcome.inserted == 2 and outcome.skipped == {"invalid_payload": 4}
    stored = referral(engine, plain["id"])
    assert stored.raw == plain and list(stored.raw) == list(plain)
    assert stored.customer_domain == "contoso-test.com" and stored.kind == "co-sell"
    assert referral(engine, huge["id"]).deal_value is None


async def test_incremental_run_picks_up_a_new_referral(
    engine: Engine, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(examples())
    client = make_client(sim)
    await run_sync(deps_for(engine, client))
    fresh = make_referral(email="cto@newcustomer.de", updated=utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
    sim.store.add(fresh)
    run = await run_sync(deps_for(engine, client))
    assert run.mode == "incremental" and run.requests == 1
    assert (run.inserted, run.notified, run.leads_created) == (1, 1, 1)
    assert referral(engine, fresh["id"]).customer_domain == "newcustomer.de"
    filters = [r["path"] for r in sim.requests if "updatedDateTime" in r["path"]]
    assert len(filters) == 1 and "updatedDateTime%20asc" in filters[0].replace("+", "%20")
