"""Bearer auth (401/403, pluggable validator), request-id headers and the request log."""

from __future__ import annotations

import uuid

import aiohttp

from sandbox.partner_center import API_PREFIX
from tests.sandbox.conftest import CO_SELL_ID, GOOD_TOKEN, Sim, SimFactory


async def test_missing_token_is_401_unauthenticated(make_sim: SimFactory) -> None:
    sim = await make_sim(token=None)
    reply = await sim.get()
    assert reply.status == 401
    assert reply.json["error"]["code"] == "unauthenticated"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Basic abc", "Bearer ", "Bearer"):
        assert (await sim.get(headers={"Authorization": header})).status == 401


async def test_unknown_token_is_401(make_sim: SimFactory) -> None:
    sim = await make_sim(token="stolen")
    reply = await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")
    assert reply.status == 401
    assert reply.json["error"]["code"] == "unauthenticated"


async def test_forbidden_token_is_403_access_denied(make_sim: SimFactory) -> None:
    sim = await make_sim(token="forbidden-token", forbidden_tokens={"forbidden-token"})
    reply = await sim.get()
    assert reply.status == 403
    assert reply.json["error"]["code"] == "accessDenied"


async def test_default_validator_accepts_any_non_empty_token(make_sim: SimFactory) -> None:
    sim = await make_sim(token="anything", token_validator=None)
    assert (await sim.get()).status == 200


async def test_callable_and_async_validators(make_sim: SimFactory) -> None:
    seen: list[str] = []

    async def validator(token: str) -> bool:
        seen.append(token)
        return token.startswith("entra-")

    sim = await make_sim(token="entra-123", token_validator=validator)
    assert (await sim.get()).status == 200
    assert (await sim.get(headers={"Authorization": "Bearer other"})).status == 401
    assert seen == ["entra-123", "other"]
    sim2 = await make_sim(token="x", token_validator=lambda token: token == "x")
    assert (await sim2.get()).status == 200


async def test_every_response_has_request_id_and_echoes_client_request_id(make_sim: SimFactory) -> None:
    sim = await make_sim(token=None)
    client_id = str(uuid.uuid4())
    unauth = await sim.get(headers={"client-request-id": client_id})
    assert unauth.status == 401
    assert uuid.UUID(unauth.headers["request-id"])
    assert unauth.headers["client-request-id"] == client_id
    authed = await sim.get(headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    assert uuid.UUID(authed.headers["request-id"]) != uuid.UUID(unauth.headers["request-id"])
    assert "client-request-id" not in authed.headers
    missing = await sim.get("/v1.0/nowhere", headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    assert missing.status == 404
    assert missing.json["error"]["code"] == "itemNotFound"
    assert "request-id" in missing.headers


async def test_request_log_records_requests_without_the_token(sim: Sim) -> None:
    await sim.get(params={"$filter": "status eq 'New'"})
    await sim.patch(
        CO_SELL_ID,
        [{"op": "replace", "path": "/details/notes", "value": "n"}],
        headers={"If-Match": '"abc"', "Prefer": "return=representation"},
    )
    assert len(sim.log) == 2
    listing, patch = sim.log
    assert listing["method"] == "GET"
    assert listing["path"].startswith(API_PREFIX + "?")
    assert listing["query"] == {"$filter": "status eq 'New'"}
    assert listing["authorization"] is True
    assert listing["status"] == 200
    assert patch["method"] == "PATCH"
    assert patch["headers"]["If-Match"] == '"abc"'
    assert patch["headers"]["Prefer"] == "return=representation"
    assert patch["json"] == [{"op": "replace", "path": "/details/notes", "value": "n"}]
    assert patch["status"] == 412
    assert GOOD_TOKEN not in repr(sim.log)


async def test_request_log_over_http_and_clearing_it(sim: Sim) -> None:
    await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")
    async with aiohttp.ClientSession() as anonymous:  # admin routes need no token
        async with anonymous.get(sim.url("/_sandbox/requests")) as response:
            entries = await response.json()
            assert response.status == 200
        assert [e["path"] for e in entries] == [f"{API_PREFIX}/{CO_SELL_ID}"]
        assert GOOD_TOKEN not in str(entries)
        async with anonymous.delete(sim.url("/_sandbox/requests")) as response:
            assert response.status == 204
    assert sim.log == []
