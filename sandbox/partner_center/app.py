"""The Partner Center Referrals API simulator (aiohttp): list, get and patch referrals, plus admin routes.

    create_app(store, page_cap=…, token_validator=…, forbidden_tokens=…) -> web.Application

API routes (Bearer token required): GET /v1.0/engagements/referrals, GET and PATCH …/referrals/{id}.
Admin routes (no auth, for tests and the demo) live under /_sandbox/ and are described in `admin.py`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from sandbox.partner_center import odata
from sandbox.partner_center.admin import add_admin_routes
from sandbox.partner_center.faults import Fault, Faults
from sandbox.partner_center.keys import (
    CONFIG_KEY,
    DEFAULT_TOP,
    FAULTS_KEY,
    FORBIDDEN_KEY,
    PAGER_KEY,
    REQUEST_LOG_KEY,
    STORE_KEY,
    VALIDATOR_KEY,
    SandboxConfig,
    TokenValidator,
)
from sandbox.partner_center.paging import BadSkipToken, Pager, query_signature
from sandbox.partner_center.patching import PatchRejected, apply_patch
from sandbox.partner_center.responses import error_response, json_response
from sandbox.partner_center.store import ReferralStore

API_PREFIX = "/v1.0/engagements/referrals"
ADMIN_PREFIX = "/_sandbox"
MAX_LOGGED_REQUESTS = 10_000
LOGGED_HEADERS = ("If-Match", "Prefer", "client-request-id", "Content-Type", "Accept")
FORBIDDEN_MESSAGE = "The user does not have the Referrals Admin or Referrals User role"

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# ---------------------------------------------------------------------------------------------- middlewares


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """request-id / client-request-id headers on every response, documented error bodies, the request log."""
    entry = await _log_entry(request) if not request.path.startswith(ADMIN_PREFIX) else None
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason, target="request")
    except Exception:  # a simulator bug must still answer in the documented shape
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_response(500, "Internal server error", target="service")
    response.headers["request-id"] = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id")
    if client_request_id:
        response.headers["client-request-id"] = client_request_id
    if entry is not None:
        entry["status"] = response.status
        entries = request.app[REQUEST_LOG_KEY]
        entries.append(entry)
        if len(entries) > MAX_LOGGED_REQUESTS:  # long demos: keep the most recent ones
            del entries[: len(entries) - MAX_LOGGED_REQUESTS]
    return response


async def _log_entry(request: web.Request) -> dict[str, Any]:
    """What tests may want to check about a request; the bearer token itself is never recorded."""
    body: Any = None
    if request.body_exists:
        raw = (await request.read()).decode("utf-8", errors="replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
    authorization = request.headers.get("Authorization")
    return {
        "time": datetime.now(UTC).isoformat(),
        "method": request.method,
        "path": request.path_qs,
        "query": dict(request.query),  # decoded, e.g. entry["query"]["$filter"]
        "headers": {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers},
        "authorization": authorization is not None,
        "auth_scheme": authorization.split(" ", 1)[0] if authorization else None,
        "json": body,
        "status": None,
    }


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply injected faults to API requests (never to /_sandbox admin routes)."""
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    faults = request.app[FAULTS_KEY]
    slow = faults.take(("slow",), request.method, request.path)
    if slow is not None:
        await asyncio.sleep(slow.delay)
    failure = faults.take(("throttle", "error", "forbidden", "unauthorized"), request.method, request.path)
    if failure is not None:
        return _failure_response(failure)
    response = await handler(request)
    lost = faults.take(("lost_answer",), request.method, request.path)
    if lost is not None:
        return _failure_response(lost)
    if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.body:
        corruption = faults.take(("malformed", "truncated"), request.method, request.path)
        if corruption is not None:
            return _corrupt(response, corruption)
    return response


def _retry_after(fault: Fault) -> dict[str, str]:
    if fault.retry_after is None:
        return {}
    if fault.http_date:
        when = datetime.now(UTC) + timedelta(seconds=fault.retry_after)
        if when.microsecond:  # an HTTP-date has whole seconds: round up, never ask for less than meant
            when = when.replace(microsecond=0) + timedelta(seconds=1)
        return {"Retry-After": format_datetime(when, usegmt=True)}
    return {"Retry-After": str(math.ceil(fault.retry_after))}


def _failure_response(fault: Fault) -> web.Response:
    headers = _retry_after(fault)
    if fault.kind == "throttle":
        seconds = math.ceil(fault.retry_after or 0)
        body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}
        return json_response(body, 429, headers)
    if fault.kind == "forbidden":
        return error_response(403, FORBIDDEN_MESSAGE, target="authorization")
    if fault.kind == "unauthorized":
        challenge = {"WWW-Authenticate": 'Bearer realm="api.partner.microsoft.com"'}
        return error_response(401, "The access token is invalid or expired", target="authorization", headers=challenge)
    messages = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout"}
    return error_response(fault.status, messages[fault.status], target="service", headers=headers)


def _corrupt(response: web.Response, fault: Fault) -> web.Response:
    body = response.body
    assert isinstance(body, bytes)
    if fault.kind == "truncated":
        broken = body[: max(1, len(body) // 2)]
    else:
        broken = b'<html><body>Service Unavailable</body></html> {"value": [ }'
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return web.Response(body=broken, status=response.status, headers=headers, content_type="application/json")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`Authorization: Bearer <token>` on every API route: 401 when missing or refused, 403 when forbidden."""
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    challenge = {"WWW-Authenticate": 'Bearer realm="api.partner.microsoft.com"'}
    if scheme.lower() != "bearer" or not token:
        return error_response(
            401, "Authorization header with a Bearer token is required", target="authorization", headers=challenge
        )
    if token in request.app[FORBIDDEN_KEY]:
        return error_response(403, FORBIDDEN_MESSAGE, target="authorization")
    validator = request.app[VALIDATOR_KEY]
    verdict = validator(token)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    if not verdict:
        return error_response(401, "The access token is invalid or expired", target="authorization", headers=challenge)
    return await handler(request)


# ---------------------------------------------------------------------------------------------- list


def _matching_keys(store: ReferralStore, predicate: odata.Predicate, order: list[odata.OrderBy]) -> list[str]:
    """Filter once and sort: stable, ties broken by id (ascending) whatever the direction."""
    matches = [(key, doc) for key, doc in store.raw_items() if predicate(doc)]
    matches.sort(key=lambda pair: pair[0])
    for clause in reversed(order or [odata.OrderBy("createdDateTime", False)]):
        matches.sort(key=lambda pair: odata.sort_key_value(pair[1], clause.field), reverse=clause.descending)
    return [key for key, _ in matches]


def _parse_top(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise odata.ODataError(f"$top must be a positive integer; got {raw!r}", "$top") from None
    if top < 1:
        raise odata.ODataError(f"$top must be a positive integer; got {raw!r}", "$top")
    return top


def _next_link(request: web.Request, params: dict[str, str]) -> str:
    query = urlencode(params, quote_via=quote, safe="$'(),/:")
    return f"{base_url(request)}{API_PREFIX}?{query}"


async def list_referrals(request: web.Request) -> web.Response:
    store, config, pager = request.app[STORE_KEY], request.app[CONFIG_KEY], request.app[PAGER_KEY]
    filter_text = request.query.get("$filter")
    orderby_text = request.query.get("$orderby")
    try:
        node = odata.parse_filter(filter_text) if filter_text is not None else None
        order = odata.parse_orderby(orderby_text)
        top = _parse_top(request.query.get("$top"), config.default_top)
    except odata.ODataError as exc:
        return error_response(400, str(exc), target=exc.option)
    rejects_gt = node is not None and odata.uses_gt(node)
    if rejects_gt and request.app[FAULTS_KEY].take(("reject_gt",), request.method, request.path):
        return error_response(400, "Invalid filter: the operator 'gt' is not supported", target="$filter")

    def predicate(doc: Any) -> bool:
        return node is None or odata.evaluate(node, doc)

    def compute() -> list[str]:
        return _matching_keys(store, predicate, order)

    signature = query_signature(filter_text, orderby_text)
    skiptoken = request.query.get("$skiptoken")
    if skiptoken is None:
        snapshot, offset = pager.start(signature, compute()), 0
    else:
        try:
            snapshot, offset = pager.resume(skiptoken, signature, compute)
        except BadSkipToken as exc:
            return error_response(400, str(exc), target="$skiptoken")

    page_size = min(top, config.page_cap) if config.page_cap else top
    page_keys = snapshot.keys[offset : offset + page_size]
    items = [doc for doc in (store.peek(key) for key in page_keys) if doc is not None]
    body: dict[str, Any] = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#Referrals",
        "@odata.count": len(snapshot.keys),
        "value": items,
    }
    if offset + page_size < len(snapshot.keys):
        params = {"$top": str(top)}
        if filter_text is not None:
            params["$filter"] = filter_text
        if orderby_text is not None:
            params["$orderby"] = orderby_text
        params["$skiptoken"] = pager.token(snapshot, offset + page_size)
        body["@odata.nextLink"] = _next_link(request, params)
    return json_response(body)


# ---------------------------------------------------------------------------------------------- get / patch


def _not_found(referral_id: str) -> web.Response:
    return error_response(404, f"Referral {referral_id} was not found", inner_code="itemNotFound")


def _entity(request: web.Request, referral: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.context": f"{base_url(request)}/v1.0/$metadata#Referrals/$entity", **referral}


def _etag_headers(referral: dict[str, Any]) -> dict[str, str]:
    etag = referral.get("eTag")
    return {"ETag": etag} if isinstance(etag, str) else {}


async def get_referral(request: web.Request) -> web.Response:
    referral_id = request.match_info["referral_id"]
    referral = request.app[STORE_KEY].get(referral_id)
    if referral is None:
        return _not_found(referral_id)
    return json_response(_entity(request, referral), headers=_etag_headers(referral))


def etag_matches(if_match: str, etag: Any) -> bool:
    """If-Match compares to the eTag including its quotes; the bare value and `*` are accepted too."""
    if if_match.strip() == "*":
        return True
    if not isinstance(etag, str):
        return False
    candidates = {etag, etag.strip('"')}
    return any(value.strip().removeprefix("W/") in candidates for value in if_match.split(","))


async def patch_referral(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    referral_id = request.match_info["referral_id"]
    current = store.get(referral_id)
    if current is None:
        return _not_found(referral_id)
    try:
        body = json.loads(await request.text())
    except ValueError:
        return error_response(400, "The request body is not valid JSON")
    if_match = request.headers.get("If-Match")
    if if_match is not None and not etag_matches(if_match, current.get("eTag")):
        return error_response(
            request.app[CONFIG_KEY].stale_etag_status,
            "The eTag does not match.",
            inner_code="resourceModified",
            inner_message="Referral was modified since last read",
        )
    try:
        updated = apply_patch(current, body)
    except PatchRejected as exc:
        return error_response(400, str(exc), inner_code=exc.inner_code)
    store.touch(current, updated)
    stored = store.replace(referral_id, updated)
    if "return=representation" in request.headers.get("Prefer", "").replace(" ", "").lower():
        return json_response(_entity(request, stored), headers=_etag_headers(stored))
    return web.Response(status=204)


# ---------------------------------------------------------------------------------------------- factory


def _make_validator(token_validator: TokenValidator | Collection[str] | None) -> TokenValidator:
    if token_validator is None:
        return lambda token: bool(token)
    if callable(token_validator):
        return token_validator
    accepted = frozenset(token_validator)
    return lambda token: token in accepted


def create_app(
    store: ReferralStore | None = None,
    *,
    page_cap: int | None = None,
    default_top: int = DEFAULT_TOP,
    token_validator: TokenValidator | Collection[str] | None = None,
    forbidden_tokens: Collection[str] = (),
    faults: Faults | None = None,
) -> web.Application:
    """Build the simulator.

    store:           the referrals (default: empty store)
    page_cap:        at most this many items per page whatever `$top` asks (None: no cap)
    default_top:     page size when `$top` is absent (100, as documented)
    token_validator: callable(token) -> bool (or awaitable bool), or a collection of accepted tokens;
                     default: any non-empty bearer token is accepted
    forbidden_tokens: tokens that authenticate but get 403 accessDenied
    """
    app = web.Application(middlewares=[observe_middleware, fault_middleware, auth_middleware])
    app[STORE_KEY] = store if store is not None else ReferralStore()
    app[FAULTS_KEY] = faults if faults is not None else Faults()
    app[REQUEST_LOG_KEY] = []
    app[CONFIG_KEY] = SandboxConfig(page_cap=page_cap, default_top=default_top)
    app[PAGER_KEY] = Pager()
    app[VALIDATOR_KEY] = _make_validator(token_validator)
    app[FORBIDDEN_KEY] = frozenset(forbidden_tokens)
    app.router.add_get(API_PREFIX, list_referrals)
    app.router.add_get(API_PREFIX + "/{referral_id}", get_referral)
    app.router.add_patch(API_PREFIX + "/{referral_id}", patch_referral)
    add_admin_routes(app)
    return app
