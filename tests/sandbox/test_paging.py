"""Server-driven paging: absolute nextLink, page cap below $top, stable snapshots, bad skiptokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sandbox.partner_center import API_PREFIX, generate_referrals
from tests.sandbox.conftest import Sim, SimFactory


async def _follow(sim: Sim, first_url: str, params: dict[str, str]) -> tuple[list[str], list[dict[str, object]]]:
    """Follow @odata.nextLink verbatim until it is absent; returns ids and the page bodies."""
    ids: list[str] = []
    pages: list[dict[str, object]] = []
    reply = await sim.get(first_url, params=params)
    while True:
        assert reply.status == 200, reply.text
        body = reply.json
        pages.append(body)
        ids += [item["id"] for item in body["value"]]
        next_link = body.get("@odata.nextLink")
        if next_link is None:
            return ids, pages
        reply = await sim.get(next_link)


async def test_pages_with_cap_below_top_return_every_item_once(make_sim: SimFactory) -> None:
    referrals = [r for r in generate_referrals(230, seed=7) if "id" in r]
    sim = await make_sim(referrals, page_cap=40)
    ids, pages = await _follow(sim, API_PREFIX, {"$top": "100", "$orderby": "createdDateTime desc"})
    assert sorted(ids) == sorted(r["id"] for r in referrals)
    assert len(ids) == len(set(ids))
    assert [len(p["value"]) for p in pages[:-1]] == [40] * (len(pages) - 1)  # type: ignore[arg-type]
    assert all(p["@odata.count"] == len(referrals) for p in pages)
    assert "@odata.nextLink" not in pages[-1]


async def test_next_link_is_absolute_and_keeps_the_query(make_sim: SimFactory) -> None:
    sim = await make_sim(generate_referrals(30, seed=1))
    reply = await sim.get(params={"$top": "5", "$filter": "direction eq 'Incoming'", "$orderby": "updatedDateTime"})
    body = reply.json
    link = urlsplit(body["@odata.nextLink"])
    assert f"{link.scheme}://{link.netloc}" == sim.base
    assert link.path == "/v1.0/engagements/referrals"
    query = parse_qs(link.query)
    assert query["$filter"] == ["direction eq 'Incoming'"]
    assert query["$orderby"] == ["updatedDateTime"]
    assert query["$top"] == ["5"]
    assert query["$skiptoken"][0]
    assert body["@odata.context"] == f"{sim.base}/v1.0/$metadata#Referrals"


async def test_default_page_size_is_100(make_sim: SimFactory) -> None:
    sim = await make_sim(generate_referrals(150, seed=2))
    body = (await sim.get()).json
    assert len(body["value"]) == 100
    assert body["@odata.count"] == 150
    assert "@odata.nextLink" in body


async def test_paging_is_stable_while_referrals_change(make_sim: SimFactory) -> None:
    referrals = [r for r in generate_referrals(60, seed=3) if "id" in r]
    sim = await make_sim(referrals)
    params = {"$top": "10", "$orderby": "updatedDateTime asc"}
    first = (await sim.get(params=params)).json
    seen = [item["id"] for item in first["value"]]
    # Meanwhile, in Partner Center: an early item is updated (moves to the end of this order) and one is added.
    sim.store.update(seen[0], {"details": {"notes": "changed"}})
    sim.store.add({**referrals[-1], "id": "new-one"})
    link = first["@odata.nextLink"]
    while link:
        body = (await sim.get(link)).json
        seen += [item["id"] for item in body["value"]]
        link = body.get("@odata.nextLink")
    assert sorted(seen) == sorted(r["id"] for r in referrals)


async def test_last_page_has_no_next_link(sim: Sim) -> None:
    body = (await sim.get(params={"$top": "5"})).json
    assert len(body["value"]) == 5
    assert "@odata.nextLink" not in body


async def test_invalid_skiptoken_is_400(make_sim: SimFactory) -> None:
    sim = await make_sim(generate_referrals(20, seed=4))
    for token in ("garbage!!", "eyJmb28iOiAxfQ", "bm90IGpzb24"):
        reply = await sim.get(params={"$skiptoken": token})
        assert reply.status == 400
        assert reply.json["error"]["target"] == "$skiptoken"
    # a real token used with a different filter is refused too
    link = (await sim.get(params={"$top": "5"})).json["@odata.nextLink"]
    token = parse_qs(urlsplit(link).query)["$skiptoken"][0]
    reply = await sim.get(params={"$top": "5", "$filter": "status eq 'New'", "$skiptoken": token})
    assert reply.status == 400
    assert reply.json["error"]["code"] == "invalidRequest"
