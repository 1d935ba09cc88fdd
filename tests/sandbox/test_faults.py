"""Fault injection through the Python API and over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from sandbox.partner_center import API_PREFIX
from tests.sandbox.conftest import CO_SELL_ID, Sim

NOTE = [{"op": "replace", "path": "/details/notes", "value": "x"}]


async def test_throttle_n_times_with_retry_after_seconds(sim: Sim) -> None:
    sim.faults.throttle(2, retry_after=7)
    first, second, third = [await sim.get() for _ in range(3)]
    assert first.status == second.status == 429
    assert first.headers["Retry-After"] == "7"
    assert first.json == {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 7 seconds."}
    assert third.status == 200


async def test_throttle_with_http_date(sim: Sim) -> None:
    sim.faults.throttle(1, retry_after=120, http_date=True)
    reply = await sim.get()
    assert reply.status == 429
    when = parsedate_to_datetime(reply.headers["Retry-After"])
    assert 60 < (when - datetime.now(UTC)).total_seconds() <= 121


@pytest.mark.parametrize(
    ("status", "code"), [(500, "generalException"), (502, "generalException"), (503, "serviceNotAvailable")]
)
async def test_server_errors(sim: Sim, status: int, code: str) -> None:
    sim.faults.server_error(1, status=status, retry_after=3 if status == 503 else None)
    reply = await sim.get()
    assert reply.status == status
    assert reply.json["error"]["code"] == code
    assert ("Retry-After" in reply.headers) == (status == 503)
    assert (await sim.get()).status == 200


async def test_slow_responses_are_delayed_then_normal(sim: Sim) -> None:
    sim.faults.slow(1, delay=3)
    with pytest.raises(asyncio.TimeoutError):
        await sim.get(timeout=aiohttp.ClientTimeout(total=0.5))
    assert (await sim.get()).status == 200  # only one request was slowed
    assert sim.faults.active() == []


async def test_malformed_json(sim: Sim) -> None:
    sim.faults.malformed_json(1)
    reply = await sim.get()
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)
    assert (await sim.get()).json["value"]


async def test_truncated_json_is_a_valid_prefix(sim: Sim) -> None:
    full = (await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")).text
    sim.faults.truncated_json(1)
    reply = await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")
    assert reply.status == 200
    assert 0 < len(reply.text) < len(full)
    assert full.startswith(reply.text)
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)


async def test_reject_gt_mode(sim: Sim) -> None:
    sim.faults.reject_gt()
    for _ in range(2):  # until cleared
        reply = await sim.get(params={"$filter": "updatedDateTime gt 2025-01-01T00:00:00Z"})
        assert reply.status == 400
        assert "gt" in reply.json["error"]["message"]
    assert (await sim.get(params={"$filter": "status eq 'New'"})).status == 200
    sim.faults.clear()
    assert (await sim.get(params={"$filter": "updatedDateTime gt 2025-01-01T00:00:00Z"})).status == 200


async def test_fault_targets_method_and_path_prefix(sim: Sim) -> None:
    sim.faults.server_error(1, status=503, method="PATCH")
    assert (await sim.get()).status == 200
    assert (await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")).status == 200
    assert (await sim.patch(CO_SELL_ID, NOTE)).status == 503
    assert (await sim.patch(CO_SELL_ID, NOTE)).status == 204
    sim.faults.throttle(1, path_prefix=f"{API_PREFIX}/")
    assert (await sim.get()).status == 200
    assert (await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")).status == 429


async def test_faults_over_http(sim: Sim) -> None:
    async with aiohttp.ClientSession() as admin:
        async with admin.post(
            sim.url("/_sandbox/faults"),
            json=[
                {"kind": "throttle", "count": 1, "retry_after": 2},
                {"kind": "error", "count": 1, "status": 502, "method": "GET"},
            ],
        ) as response:
            assert response.status == 201
            assert [f["kind"] for f in await response.json()] == ["throttle", "error"]
        async with admin.get(sim.url("/_sandbox/faults")) as response:
            assert len(await response.json()) == 2
        assert (await sim.get()).status == 429
        assert (await sim.get()).status == 502
        assert (await sim.get()).status == 200
        async with admin.post(sim.url("/_sandbox/faults"), json={"kind": "explode"}) as response:
            assert response.status == 400
            assert "explode" in (await response.json())["error"]["message"]
        for bad in (
            {"kind": "error", "status": 418},
            {"kind": "throttle", "retry_after": "soon"},
            {"kind": "slow", "delay": -1},
            {"kind": "throttle", "count": 0},
            {"kind": "error", "x": 1},
        ):
            async with admin.post(sim.url("/_sandbox/faults"), json=bad) as response:
                assert response.status == 400, bad
        async with admin.post(
            sim.url("/_sandbox/faults"), json={"kind": "slow", "count": None, "delay": 0}
        ) as response:
            assert response.status == 201
        async with admin.delete(sim.url("/_sandbox/faults")) as response:
            assert response.status == 204
        async with admin.get(sim.url("/_sandbox/faults")) as response:
            assert await response.json() == []


async def test_admin_routes_are_never_faulted(sim: Sim) -> None:
    sim.faults.server_error(None, status=500)
    async with aiohttp.ClientSession() as admin, admin.get(sim.url("/_sandbox/faults")) as response:
        assert response.status == 200
    assert (await sim.get()).status == 500
