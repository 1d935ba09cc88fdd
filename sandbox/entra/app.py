"""The fake Entra ID's HTTP face: what MSAL's device-code and refresh flows call, plus test controls.

Endpoints for an authority `https://<host>/<tenant>` (MSAL with `instance_discovery=False`):

    GET  /<tenant>/v2.0/.well-known/openid-configuration   tenant discovery (MSAL asks at construction)
    POST /<tenant>/oauth2/v2.0/devicecode                   starts a device flow
    POST /<tenant>/oauth2/v2.0/token                        device_code and refresh_token grants
    GET  /devicelogin                                       the "verification page" (plain text)

Controls (tests, demo):

    POST /_sandbox/approve               {"user_code": "...", "username": "...", "decline": false}
    GET  /_sandbox/approve?code=XXXX     the same as a link (optional &username=…&decline=1)
    POST /_sandbox/revoke                {"username": "..."} or {} for every refresh token
    POST /_sandbox/expire-access-tokens  every access token issued so far expires now
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.entra.state import FakeEntra, TokenError

ENTRA = web.AppKey("entra", FakeEntra)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def create_app(entra: FakeEntra | None = None) -> web.Application:
    """The aiohttp app; its `FakeEntra` (the Python controls) is `app[ENTRA]`."""
    app = web.Application(middlewares=[_record])
    app[ENTRA] = entra or FakeEntra()
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", _openid_configuration)
    app.router.add_post("/{tenant}/oauth2/v2.0/devicecode", _device_code)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token)
    app.router.add_get("/devicelogin", _device_login)
    app.router.add_post("/_sandbox/approve", _approve_json)
    app.router.add_get("/_sandbox/approve", _approve_link)
    app.router.add_post("/_sandbox/revoke", _revoke)
    app.router.add_post("/_sandbox/expire-access-tokens", _expire_access_tokens)
    return app


def _entra(request: web.Request) -> FakeEntra:
    return request.app[ENTRA]


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@web.middleware
async def _record(request: web.Request, handler: Any) -> web.StreamResponse:
    grant_type = None
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        grant_type = (await request.post()).get("grant_type")
    _entra(request).record(request.method, request.path, grant_type if isinstance(grant_type, str) else None)
    response: web.StreamResponse = await handler(request)
    return response


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


async def _openid_configuration(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    base = f"{_base_url(request)}/{tenant}"
    return web.json_response(
        {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "grant_types_supported": ["refresh_token", DEVICE_CODE_GRANT],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }
    )


async def _device_code(request: web.Request) -> web.Response:
    form = await request.post()
    entra = _entra(request)
    if entra.device_code_holds:
        await entra.device_code_holds.popleft().wait()
    try:
        code = entra.start_device_flow(
            request.match_info["tenant"], str(form.get("client_id", "")), str(form.get("scope", ""))
        )
    except TokenError as exc:
        return _oauth_error(exc.error, exc.description)
    base = _base_url(request)
    verification_uri = f"{base}/devicelogin"
    return web.json_response(
        {
            "device_code": code.device_code,
            "user_code": code.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{base}/_sandbox/approve?code={code.user_code}",
            "expires_in": entra.device_code_lifetime,
            "interval": entra.poll_interval,
            "message": (
                f"To sign in, use a web browser to open the page {verification_uri} and enter the code "
                f"{code.user_code} to authenticate."
            ),
        }
    )


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    entra = _entra(request)
    grant_type = str(form.get("grant_type", ""))
    client_id = str(form.get("client_id", ""))
    try:
        if grant_type == DEVICE_CODE_GRANT:
            body = entra.redeem_device_code(_base_url(request), client_id, str(form.get("device_code", "")))
        elif grant_type == "refresh_token":
            body = entra.redeem_refresh_token(
                _base_url(request), client_id, str(form.get("refresh_token", "")), str(form.get("scope", ""))
            )
        else:
            return _oauth_error("unsupported_grant_type", f"AADSTS70003: grant_type {grant_type!r} is not supported.")
    except TokenError as exc:
        return _oauth_error(exc.error, exc.description)
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def _device_login(request: web.Request) -> web.Response:
    codes = _entra(request).pending_user_codes()
    lines = ["Fake Entra ID (sandbox). To approve a sign-in, open /_sandbox/approve?code=<the code>."]
    lines += [f"Pending code: {code}  ->  /_sandbox/approve?code={code}" for code in codes]
    return web.Response(text="\n".join(lines) + "\n")


async def _approve_json(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": 'body must be JSON: {"user_code": "..."}'}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("user_code"), str):
        return web.json_response({"error": "user_code (a string) is required"}, status=400)
    username = body.get("username")
    approved = _entra(request).approve(
        body["user_code"], username if isinstance(username, str) else None, decline=bool(body.get("decline"))
    )
    if not approved:
        return web.json_response({"error": "no pending device code with that user_code"}, status=404)
    return web.json_response({"approved": not body.get("decline"), "declined": bool(body.get("decline"))})


async def _approve_link(request: web.Request) -> web.Response:
    code = request.query.get("code", "")
    decline = request.query.get("decline", "") not in ("", "0", "false")
    if not code:
        return web.Response(status=400, text="Add ?code=<the code shown in Teams> to the address.\n")
    if not _entra(request).approve(code, request.query.get("username") or None, decline=decline):
        return web.Response(status=404, text=f"No pending sign-in with code {code[:20]!r}.\n")
    return web.Response(text="declined\n" if decline else "approved\n")


async def _optional_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


async def _revoke(request: web.Request) -> web.Response:
    username = (await _optional_json(request)).get("username")
    revoked = _entra(request).revoke(username if isinstance(username, str) else None)
    return web.json_response({"revoked": revoked})


async def _expire_access_tokens(request: web.Request) -> web.Response:
    return web.json_response({"expired": _entra(request).expire_access_tokens()})
