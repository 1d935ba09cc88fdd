"""ReferralStore and the /_sandbox admin routes for referrals and config."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from sandbox.partner_center import API_PREFIX, SEED_FILE, ReferralStore, make_referral
from sandbox.partner_center.odata import parse_datetime
from tests.sandbox.conftest import CO_SELL_ID, SEED, Sim, SimFactory


def test_store_copies_in_and_out() -> None:
    referral = make_referral("co-sell")
    store = ReferralStore([referral])
    referral["name"] = "changed outside"
    fetched = store.get(referral["id"])
    assert fetched is not None and fetched["name"] != "changed outside"
    fetched["name"] = "changed again"
    assert store.all()[0]["name"] != "changed again"


def test_store_from_file_and_update(tmp_path: Path) -> None:
    store = ReferralStore.from_file(SEED_FILE)
    assert len(store) == 5
    single = tmp_path / "one.json"
    single.write_text(json.dumps(SEED[0]), encoding="utf-8")
    assert ReferralStore.from_file(single).ids() == [CO_SELL_ID]
    before = store.get(CO_SELL_ID)
    assert before is not None
    after = store.update(CO_SELL_ID, {"details": {"dealValue": 1}, "closedDateTime": None})
    assert after["details"]["dealValue"] == 1
    assert after["details"]["currency"] == before["details"]["currency"]  # merged, not replaced
    assert after["eTag"] != before["eTag"]
    assert parse_datetime(after["updatedDateTime"]) > parse_datetime(before["updatedDateTime"])
    pinned = store.update(CO_SELL_ID, {"updatedDateTime": "2030-01-01T00:00:00.0000000Z"})
    assert pinned["updatedDateTime"] == "2030-01-01T00:00:00.0000000Z"


def test_referrals_without_id_are_kept_but_not_addressable() -> None:
    store = ReferralStore([{"name": "no id"}, {"name": "no id either"}])
    assert len(store) == 2
    assert [r["name"] for r in store.all()] == ["no id", "no id either"]


async def test_malformed_referrals_are_listed(make_sim: SimFactory) -> None:
    sim = await make_sim([{"name": "no id", "status": 3}, *SEED])
    body = (await sim.get()).json
    assert body["@odata.count"] == 6
    assert (await sim.get(params={"$filter": "status eq 'New'"})).json["@odata.count"] == 3


async def test_admin_add_generate_and_change(sim: Sim) -> None:
    async with aiohttp.ClientSession() as admin:
        new = make_referral("ms-lead")
        async with admin.post(sim.url("/_sandbox/referrals"), json=new) as response:
            assert response.status == 201
            assert (await response.json())["ids"] == [new["id"]]
        async with admin.post(
            sim.url("/_sandbox/referrals/generate"), json={"kind": "co-sell", "count": 2}
        ) as response:
            assert response.status == 201
            generated = (await response.json())["ids"]
        async with admin.patch(
            sim.url(f"/_sandbox/referrals/{CO_SELL_ID}"), json={"details": {"notes": "edited in Partner Center"}}
        ) as response:
            assert response.status == 200
            changed = await response.json()
        async with admin.patch(sim.url("/_sandbox/referrals/unknown"), json={}) as response:
            assert response.status == 404
        async with admin.post(sim.url("/_sandbox/referrals/generate"), json={"kind": "nope"}) as response:
            assert response.status == 400
        async with admin.post(sim.url("/_sandbox/referrals"), data=b"{oops") as response:
            assert response.status == 400
    assert changed["eTag"] != SEED[0]["eTag"]
    listing = (await sim.get(params={"$filter": "type eq 'Shared' and direction eq 'Incoming'"})).json
    assert {CO_SELL_ID, *generated} == {item["id"] for item in listing["value"]}
    fetched = (await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")).json
    assert fetched["details"]["notes"] == "edited in Partner Center"
    assert fetched["details"]["dealValue"] == SEED[0]["details"]["dealValue"]


async def test_admin_config_changes_page_cap(sim: Sim) -> None:
    async with aiohttp.ClientSession() as admin:
        async with admin.patch(sim.url("/_sandbox/config"), json={"page_cap": 2}) as response:
            assert await response.json() == {"page_cap": 2, "default_top": 100, "stale_etag_status": 412}
        assert len((await sim.get()).json["value"]) == 2
        async with admin.patch(sim.url("/_sandbox/config"), json={"page_cap": 0}) as response:
            assert response.status == 400


def test_server_side_status_change_sets_lifecycle_dates() -> None:
    store = ReferralStore(SEED)
    accepted = store.update(CO_SELL_ID, {"status": "Active", "substatus": "Accepted"})
    assert accepted["acceptedDateTime"] == accepted["updatedDateTime"]
    assert accepted["closedDateTime"] is None
    closed = store.update(CO_SELL_ID, {"status": "Closed", "substatus": "Won"})
    assert closed["closedDateTime"] == closed["updatedDateTime"]
    assert closed["acceptedDateTime"] == accepted["acceptedDateTime"]
