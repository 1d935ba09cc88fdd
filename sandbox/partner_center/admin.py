"""Admin routes for tests and the demo (no auth, never subject to faults, not in the request log).

GET    /_sandbox/faults              active faults
POST   /_sandbox/faults              add one fault (JSON object) or several (array); fields as in `Fault`
DELETE /_sandbox/faults              clear all faults
GET    /_sandbox/requests            the request log (API requests only; tokens never recorded)
DELETE /_sandbox/requests            clear the request log
POST   /_sandbox/referrals           add one referral (object) or many (array) as given
POST   /_sandbox/referrals/generate  {"kind": "co-sell", "count": 1, "direction": "Incoming"} → new referrals
PATCH  /_sandbox/referrals/{id}      a change made "in Partner Center": merge the JSON object, new eTag
GET    /_sandbox/config              {"page_cap": …, "default_top": …}
PATCH  /_sandbox/config              change page_cap / default_top on the running server
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.partner_center.faults import Fault
from sandbox.partner_center.generator import make_referral
from sandbox.partner_center.keys import CONFIG_KEY, FAULTS_KEY, REQUEST_LOG_KEY, STORE_KEY
from sandbox.partner_center.responses import error_response, json_response

PREFIX = "/_sandbox"


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.text())
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=f"The request body is not valid JSON: {exc}") from exc


def _bad(message: str) -> web.Response:
    return error_response(400, message, target="sandbox")


async def list_faults(request: web.Request) -> web.Response:
    return json_response([fault.to_json() for fault in request.app[FAULTS_KEY].active()])


async def add_faults(request: web.Request) -> web.Response:
    data = await _json_body(request)
    try:
        faults = [Fault.from_json(item) for item in (data if isinstance(data, list) else [data])]
    except ValueError as exc:
        return _bad(str(exc))
    for fault in faults:
        request.app[FAULTS_KEY].add(fault)
    return json_response([fault.to_json() for fault in faults], 201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].clear()
    return web.Response(status=204)


async def list_requests(request: web.Request) -> web.Response:
    return json_response(request.app[REQUEST_LOG_KEY])


async def clear_requests(request: web.Request) -> web.Response:
    request.app[REQUEST_LOG_KEY].clear()
    return web.Response(status=204)


async def add_referrals(request: web.Request) -> web.Response:
    data = await _json_body(request)
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        return _bad("Send a referral object or an array of referral objects")
    return json_response({"ids": request.app[STORE_KEY].add_many(items)}, 201)


async def generate_referrals(request: web.Request) -> web.Response:
    data = await _json_body(request) if request.body_exists else {}
    if not isinstance(data, dict):
        return _bad('Send a JSON object like {"kind": "co-sell", "count": 1}')
    count = data.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 1000:
        return _bad("count must be an integer between 1 and 1000")
    try:
        referrals = [
            make_referral(data.get("kind", "co-sell"), direction=data.get("direction", "Incoming"))
            for _ in range(count)
        ]
    except ValueError as exc:
        return _bad(str(exc))
    request.app[STORE_KEY].add_many(referrals)
    return json_response({"ids": [r["id"] for r in referrals], "value": referrals}, 201)


async def change_referral(request: web.Request) -> web.Response:
    referral_id = request.match_info["referral_id"]
    data = await _json_body(request)
    if not isinstance(data, dict):
        return _bad("Send a JSON object with the fields to change")
    try:
        updated = request.app[STORE_KEY].update(referral_id, data)
    except KeyError:
        return error_response(404, f"Referral {referral_id} was not found", target="sandbox")
    return json_response(updated)


async def get_config(request: web.Request) -> web.Response:
    config = request.app[CONFIG_KEY]
    return json_response(
        {"page_cap": config.page_cap, "default_top": config.default_top, "stale_etag_status": config.stale_etag_status}
    )


async def change_config(request: web.Request) -> web.Response:
    data = await _json_body(request)
    if not isinstance(data, dict) or set(data) - {"page_cap", "default_top", "stale_etag_status"}:
        return _bad("Send a JSON object with page_cap, default_top and/or stale_etag_status")
    config = request.app[CONFIG_KEY]
    page_cap = data.get("page_cap", config.page_cap)
    default_top = data.get("default_top", config.default_top)
    stale_etag_status = data.get("stale_etag_status", config.stale_etag_status)
    if stale_etag_status not in (409, 412) or isinstance(stale_etag_status, bool):
        return _bad("stale_etag_status must be 409 or 412")
    if page_cap is not None and (not isinstance(page_cap, int) or page_cap < 1):
        return _bad("page_cap must be a positive integer or null")
    if not isinstance(default_top, int) or default_top < 1:
        return _bad("default_top must be a positive integer")
    config.page_cap, config.default_top = page_cap, default_top
    config.stale_etag_status = stale_etag_status
    return await get_config(request)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/faults", list_faults)
    app.router.add_post(f"{PREFIX}/faults", add_faults)
    app.router.add_delete(f"{PREFIX}/faults", clear_faults)
    app.router.add_get(f"{PREFIX}/requests", list_requests)
    app.router.add_delete(f"{PREFIX}/requests", clear_requests)
    app.router.add_post(f"{PREFIX}/referrals", add_referrals)
    app.router.add_post(f"{PREFIX}/referrals/generate", generate_referrals)
    app.router.add_patch(f"{PREFIX}/referrals/{{referral_id}}", change_referral)
    app.router.add_get(f"{PREFIX}/config", get_config)
    app.router.add_patch(f"{PREFIX}/config", change_config)
