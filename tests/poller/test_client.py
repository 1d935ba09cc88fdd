from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import web

from core.errors import UpstreamAuthError, UpstreamProtocolError, UpstreamRejected, UpstreamUnavailable
from poller.client import Page, PartnerCenterClient, parse_retry_after
from poller.wire import as_value
from tests.poller.conftest import TOKEN, FakeTokens, SleepRecorder, StartSimulator
from tests.poller.helpers import make_referral

MakeClient = Callable[..., PartnerCenterClient]


def _referrals(n: int, **kw: Any) -> list[dict[str, Any]]:
    return [make_referral(updated=f"2025-05-01T10:{i // 60:02d}:{i % 60:02d}.0000000Z", **kw) for i in range(n)]


async def _collect(client: PartnerCenterClient, **kw: Any) -> list[Page]:
    return [page async for page in client.iter_pages(**kw)]


async def test_pages_follow_next_link_verbatim(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator([*_referrals(25), *_referrals(3, direction="Outgoing")], page_cap=10)
    client = make_client(sim, page_size=200)
    pages = await _collect(client)
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [p.number for p in pages] == [1, 2, 3]
    items = [as_value(item) for p in pages for item in p.items]
    assert len({item["id"] for item in items}) == 25
    assert all(item["direction"] == "Incoming" for item in items)
    assert pages[1].url == pages[0].next_link and pages[1].url.startswith(sim.base_url + "/v1.0/")
    assert "$skiptoken" in pages[2].url
    first = parse_qs(urlsplit(sim.requests[0]["path"]).query)
    assert first == {"$filter": ["direction eq 'Incoming'"], "$orderby": ["createdDateTime desc"], "$top": ["200"]}
    assert client.stats.requests == 3 and client.stats.retries == 0
    assert all(p.request_id for p in pages)


async def test_headers_sent(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(1))
    await _collect(make_client(sim))
    headers = sim.requests[0]["headers"]
    assert headers["Accept"] == "application/json"
    assert len(headers["client-request-id"]) == 36
    assert sim.requests[0]["auth_scheme"] == "Bearer"


async def test_max_pages_stops_paging(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(30), page_cap=10)
    client = make_client(sim, max_pages=2)
    assert len(await _collect(client)) == 2
    assert client.truncated


async def test_429_waits_for_retry_after_seconds(
    start_simulator: StartSimulator, make_client: MakeClient, sleep: SleepRecorder
) -> None:
    sim = await start_simulator(_referrals(3))
    sim.faults.throttle(2, retry_after=7)
    client = make_client(sim)
    pages = await _collect(client)
    assert len(pages[0].items) == 3
    assert sleep.delays == [7.0, 7.0]
    assert client.stats.retries == 2 and client.stats.requests == 3


async def test_429_with_http_date_retry_after(
    start_simulator: StartSimulator, make_client: MakeClient, sleep: SleepRecorder
) -> None:
    sim = await start_simulator(_referrals(1))
    sim.faults.throttle(1, retry_after=20, http_date=True)
    await _collect(make_client(sim))
    assert len(sleep.delays) == 1
    assert 19 <= sleep.delays[0] <= 21


async def test_retry_after_longer_than_a_run_waits_ends_the_run_clearly(
    start_simulator: StartSimulator, make_client: MakeClient, sleep: SleepRecorder
) -> None:
    sim = await start_simulator(_referrals(1))
    sim.faults.throttle(1, retry_after=3600)
    client = make_client(sim, backoff_cap=30.0)
    with pytest.raises(UpstreamUnavailable) as info:
        await _collect(client)
    assert "wait 3600 s" in str(info.value) and "next poll" in str(info.value)
    assert info.value.status == 429
    assert sleep.delays == [] and client.stats.requests == 1


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_with_backoff(
    start_simulator: StartSimulator, make_client: MakeClient, sleep: SleepRecorder, status: int
) -> None:
    sim = await start_simulator(_referrals(2))
    sim.faults.server_error(3, status=status)
    client = make_client(sim, backoff_base=0.5, backoff_cap=4.0)
    pages = await _collect(client)
    assert len(pages[0].items) == 2
    assert len(sleep.delays) == 3 and all(0 <= d <= 4.0 for d in sleep.delays)
    assert client.stats.retries == 3


async def test_5xx_exhausted_is_unavailable(
    start_simulator: StartSimulator, make_client: MakeClient, sleep: SleepRecorder
) -> None:
    sim = await start_simulator(_referrals(2))
    sim.faults.server_error(None, status=503)
    client = make_client(sim, max_retries=3)
    with pytest.raises(UpstreamUnavailable) as info:
        await _collect(client)
    assert info.value.status == 503
    assert client.stats.requests == 4 and len(sleep.delays) == 3


async def test_truncated_json_is_retried(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(4))
    sim.faults.truncated_json(1)
    client = make_client(sim)
    pages = await _collect(client)
    assert len(pages[0].items) == 4 and client.stats.retries == 1


async def test_malformed_json_gives_up_as_protocol_error(
    start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(_referrals(4))
    sim.faults.malformed_json(None)
    client = make_client(sim)
    with pytest.raises(UpstreamProtocolError):
        await _collect(client)
    assert client.stats.requests == 3  # the first try and two retries


async def test_401_refreshes_the_token_once(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(1))
    tokens = FakeTokens("expired-token", TOKEN)
    pages = await _collect(make_client(sim, tokens))
    assert len(pages[0].items) == 1
    assert tokens.calls == [False, True]


async def test_401_after_refresh_is_auth_error(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(1))
    tokens = FakeTokens("bad-1", "bad-2", "bad-3")
    with pytest.raises(UpstreamAuthError) as info:
        await _collect(make_client(sim, tokens))
    assert info.value.status == 401
    assert tokens.refreshes == 1 and len(sim.requests) == 2
    assert len(tokens.refusals) == 1 and "HTTP 401" in tokens.refusals[0]  # the source was asked; it kept it


async def test_403_is_auth_error(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(1), forbidden_tokens={TOKEN})
    with pytest.raises(UpstreamAuthError) as info:
        await _collect(make_client(sim))
    assert info.value.status == 403 and info.value.code


async def test_token_is_never_logged(
    start_simulator: StartSimulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = await start_simulator(_referrals(12), page_cap=5)
    sim.faults.throttle(1, retry_after=1)
    sim.faults.server_error(1)
    tokens = FakeTokens("stale-secret-token-abc", TOKEN)
    client = make_client(sim, tokens)
    await _collect(client)
    with pytest.raises(UpstreamRejected):
        await client.get_referral("does-not-exist")
    assert "partner center GET" in caplog.text
    everything = caplog.text + " ".join(repr(vars(r)) for r in caplog.records)
    assert TOKEN not in everything and "stale-secret-token-abc" not in everything


async def test_get_unknown_referral_is_rejected_with_code(
    start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator(_referrals(1))
    with pytest.raises(UpstreamRejected) as info:
        await make_client(sim).get_referral("nope")
    assert info.value.status == 404 and info.value.code


async def test_bad_filter_is_rejected(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    sim = await start_simulator(_referrals(1))
    sim.faults.reject_gt()
    with pytest.raises(UpstreamRejected) as info:
        await _collect(make_client(sim), filter="updatedDateTime gt 2025-01-01T00:00:00Z")
    assert info.value.status == 400


async def test_get_and_patch_with_if_match(start_simulator: StartSimulator, make_client: MakeClient) -> None:
    referral = make_referral()
    sim = await start_simulator([referral])
    client = make_client(sim)
    fetched = await client.get_referral(referral["id"])
    assert fetched["eTag"] == referral["eTag"]
    ops = [
        {"op": "replace", "path": "/status", "value": "Active"},
        {"op": "replace", "path": "/substatus", "value": "Accepted"},
    ]
    updated = await client.patch_referral(referral["id"], ops, if_match=fetched["eTag"])
    assert updated is not None and updated["status"] == "Active" and updated["eTag"] != fetched["eTag"]
    assert sim.requests[-1]["headers"]["If-Match"] == fetched["eTag"]
    with pytest.raises(UpstreamRejected) as info:
        await client.patch_referral(referral["id"], ops, if_match=fetched["eTag"])
    assert info.value.status in (409, 412)
    none = await client.patch_referral(
        referral["id"],
        [{"op": "replace", "path": "/details/notes", "value": "hi"}],
        if_match=None,
        return_representation=False,
    )
    assert none is None


async def test_json_orjson_refuses_but_is_valid_is_still_read() -> None:
    """Numbers beyond a double become null and lone surrogate escapes U+FFFD; other bad JSON stays an error."""
    body = b'{"value":[{"id":"r-1","status":"New","name":"a\\ud800b","details":{"dealValue":1e400}}]}'
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    async with http:
        client = PartnerCenterClient(http, FakeTokens(), base_url="http://partner.test/v1.0/engagements")
        pages = await _collect(client)
    assert [as_value(i) for i in pages[0].items] == [
        {"id": "r-1", "status": "New", "name": "a\ufffdb", "details": {"dealValue": None}}
    ]


async def test_next_link_with_a_scheme_httpx_cannot_speak_fails_at_once(aiohttp_server: Any) -> None:
    """A nextLink to ftp:// is a protocol error, not an outage: no retries, no backoff."""
    seen: list[str] = []

    async def first_page(request: web.Request) -> web.Response:
        seen.append(str(request.rel_url))
        return web.json_response({"value": [{"id": "r-1", "status": "New"}], "@odata.nextLink": "ftp://pc.test/next"})

    app = web.Application()
    app.router.add_get("/v1.0/engagements/referrals", first_page)
    server = await aiohttp_server(app)
    sleep = SleepRecorder()
    async with httpx.AsyncClient() as http:
        client = PartnerCenterClient(http, FakeTokens(), base_url=str(server.make_url("")), sleep=sleep)
        with pytest.raises(UpstreamProtocolError, match=r"cannot be asked at ftp://pc\.test/next"):
            await _collect(client)
    assert len(seen) == 1 and client.stats.retries == 0 and sleep.delays == []
