"""The fake Entra ID's state: device codes, users, refresh and access tokens.

Thread-safe, because tests and the demo drive it from other threads than the one serving HTTP
(MSAL itself blocks, so it always runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USERNAME = "admin@contoso.example"
DEFAULT_TENANT_ID = "8f5f3b2c-6a0e-4d1e-9a57-2b5b0c1f2e11"
_GENERIC_TENANTS = {"organizations", "common", "consumers"}
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
_REQUEST_LOG_SIZE = 10_000
_FORGET_AFTER = 3600  # seconds after expiry before a device code or access token is dropped (long demos)


class TokenError(Exception):
    """An OAuth error answer: `error` and `error_description`, sent with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    tenant: str
    scope: str
    expires_at: float
    state: str = "pending"  # pending | approved | declined | redeemed
    username: str | None = None


@dataclass
class Grant:
    """What a refresh token stands for: who signed in, to which app, for which scope."""

    username: str
    client_id: str
    tenant: str
    scope: str
    revoked: bool = False


@dataclass
class AccessToken:
    username: str
    scope: str
    expires_at: float


@dataclass
class RequestRecord:
    method: str
    path: str
    grant_type: str | None = None


@dataclass
class FakeEntra:
    """A stand-in for Entra ID's device-code sign-in, token refresh and revocation.

    `access_token_lifetime` is what `expires_in` says for new access tokens (MSAL treats a token with under
    five minutes left as expired, so a lifetime below 300 s makes every silent call refresh).
    `omit_from_tokens` leaves fields out of token answers (`id_token`, `refresh_token`: what some tenants and
    policies do). Each device-code request waits for the next event in `device_code_holds`, if any, before it
    answers (tests of racing `/login`s; the event belongs to the loop that serves the app).
    """

    access_token_lifetime: int = 3600
    device_code_lifetime: int = 900
    poll_interval: int = 5
    default_username: str = DEFAULT_USERNAME
    allowed_client_ids: frozenset[str] | None = None  # None: any client id is a registered public client
    omit_from_tokens: frozenset[str] = frozenset()
    device_code_holds: deque[asyncio.Event] = field(default_factory=deque)
    requests: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=_REQUEST_LOG_SIZE))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _device_codes: dict[str, DeviceCode] = field(default_factory=dict, repr=False)
    _refresh_tokens: dict[str, Grant] = field(default_factory=dict, repr=False)
    _access_tokens: dict[str, AccessToken] = field(default_factory=dict, repr=False)
    _id_tokens: list[str] = field(default_factory=list, repr=False)

    # -- the test and demo controls -------------------------------------------------------------

    def approve(self, user_code: str, username: str | None = None, *, decline: bool = False) -> bool:
        """Approve (or decline) a pending device code as `username`; False when no such pending code."""
        with self._lock:
            code = self._find_user_code(user_code)
            if code is None or code.state != "pending" or code.expires_at < time.time():
                return False
            code.state = "declined" if decline else "approved"
            code.username = username or self.default_username
            return True

    def revoke(self, username: str | None = None) -> int:
        """Revoke every refresh token (or only `username`'s); returns how many were revoked."""
        with self._lock:
            count = 0
            for grant in self._refresh_tokens.values():
                if not grant.revoked and (username is None or grant.username.lower() == username.lower()):
                    grant.revoked = True
                    count += 1
            return count

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far expire now; returns how many were still valid."""
        with self._lock:
            now = time.time()
            count = 0
            for token in self._access_tokens.values():
                if token.expires_at > now:
                    token.expires_at = now - 1
                    count += 1
            return count

    def is_valid_access_token(self, token: str) -> bool:
        """True for an unexpired access token this fake issued (the Partner Center simulator's check)."""
        return self.access_token_user(token) is not None

    def access_token_user(self, token: str) -> str | None:
        """The username a still-valid access token was issued to, or None."""
        with self._lock:
            found = self._access_tokens.get(token)
            if found is None or found.expires_at <= time.time():
                return None
            return found.username

    def issued_secrets(self) -> list[str]:
        """Every access, refresh and id token handed out so far (tests search stored bytes for them)."""
        with self._lock:
            return [*self._access_tokens, *self._refresh_tokens, *self._id_tokens]

    def pending_user_codes(self) -> list[str]:
        with self._lock:
            now = time.time()
            return [c.user_code for c in self._device_codes.values() if c.state == "pending" and c.expires_at > now]

    def token_requests(self, grant_type: str | None = None) -> list[RequestRecord]:
        """The recorded token-endpoint requests (optionally of one grant type)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.endswith("/oauth2/v2.0/token") and (grant_type is None or r.grant_type == grant_type)
            ]

    # -- what the HTTP endpoints do ---------------------------------------------------------------

    def record(self, method: str, path: str, grant_type: str | None = None) -> None:
        with self._lock:
            self.requests.append(RequestRecord(method, path, grant_type))

    def start_device_flow(self, tenant: str, client_id: str, scope: str) -> DeviceCode:
        if not client_id:
            raise TokenError("invalid_request", "AADSTS900144: The request body must contain 'client_id'.")
        if self.allowed_client_ids is not None and client_id not in self.allowed_client_ids:
            raise TokenError(
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id[:64]}' was not found in the directory.",
            )
        with self._lock:
            code = DeviceCode(
                device_code=secrets.token_urlsafe(32),
                user_code=self._new_user_code(),
                client_id=client_id,
                tenant=tenant,
                scope=resource_scope(scope),
                expires_at=time.time() + self.device_code_lifetime,
            )
            self._device_codes[code.device_code] = code
            return code

    def redeem_device_code(self, base_url: str, client_id: str, device_code: str) -> dict[str, Any]:
        with self._lock:
            code = self._device_codes.get(device_code)
            if code is None or code.client_id != client_id or code.state == "redeemed":
                raise TokenError("invalid_grant", "AADSTS70000: The provided device code is not valid.")
            if code.state == "declined":
                raise TokenError("authorization_declined", "AADSTS70000: The user declined the sign-in request.")
            if code.expires_at < time.time():
                raise TokenError("expired_token", "AADSTS70020: The provided device code has expired.")
            if code.state == "pending":
                raise TokenError(
                    "authorization_pending",
                    "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
                )
            code.state = "redeemed"
            assert code.username is not None
            grant = Grant(code.username, code.client_id, code.tenant, code.scope)
            return self._issue(base_url, grant)

    def redeem_refresh_token(self, base_url: str, client_id: str, refresh_token: str, scope: str) -> dict[str, Any]:
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise TokenError("invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid.")
            if grant.revoked:
                raise TokenError(
                    "invalid_grant",
                    "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token "
                    "is needed. The user might have changed or reset their password.",
                )
            wanted = resource_scope(scope) or grant.scope
            return self._issue(base_url, Grant(grant.username, grant.client_id, grant.tenant, wanted))

    # -- internals (callers hold the lock) ----------------------------------------------------------

    def _find_user_code(self, user_code: str) -> DeviceCode | None:
        wanted = user_code.strip().upper()
        return next((c for c in self._device_codes.values() if c.user_code == wanted), None)

    def _new_user_code(self) -> str:
        taken = {c.user_code for c in self._device_codes.values()}
        while True:
            code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
            if code not in taken:
                return code

    def _forget_expired(self, now: float) -> None:
        for token, info in list(self._access_tokens.items()):
            if info.expires_at < now - _FORGET_AFTER:
                del self._access_tokens[token]
        for device_code, code in list(self._device_codes.items()):
            if code.expires_at < now - _FORGET_AFTER:
                del self._device_codes[device_code]

    def _issue(self, base_url: str, grant: Grant) -> dict[str, Any]:
        now = int(time.time())
        self._forget_expired(now)
        access_token = secrets.token_urlsafe(48)
        refresh_token = secrets.token_urlsafe(64)
        self._access_tokens[access_token] = AccessToken(grant.username, grant.scope, now + self.access_token_lifetime)
        if "refresh_token" not in self.omit_from_tokens:
            self._refresh_tokens[refresh_token] = grant  # one grant: revoking it revokes every token of the sign-in
        tenant_id = tenant_id_for(grant.tenant)
        oid = object_id_for(grant.username)
        claims = {
            "iss": f"{base_url}/{tenant_id}/v2.0",
            "aud": grant.client_id,
            "sub": uuid.uuid5(uuid.NAMESPACE_URL, f"sub:{grant.client_id}:{oid}").hex,
            "oid": oid,
            "tid": tenant_id,
            "preferred_username": grant.username,
            "name": display_name_for(grant.username),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "ver": "2.0",
        }
        id_token = unsigned_jwt(claims)
        if "id_token" not in self.omit_from_tokens:
            self._id_tokens.append(id_token)
        answer = {
            "token_type": "Bearer",
            "scope": grant.scope,
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "id_token": id_token,
            "client_info": _b64url(json.dumps({"uid": oid, "utid": tenant_id}).encode()),
        }
        return {name: value for name, value in answer.items() if name not in self.omit_from_tokens}


def resource_scope(scope: str) -> str:
    """The requested scope without the OpenID ones MSAL adds (what Entra echoes back in `scope`)."""
    return " ".join(s for s in scope.split() if s.lower() not in _RESERVED_SCOPES)


def tenant_id_for(tenant: str) -> str:
    """A tenant GUID for a tenant path segment (`organizations` & co. map to one fixed tenant)."""
    if tenant.lower() in _GENERIC_TENANTS:
        return DEFAULT_TENANT_ID
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant.lower()))


def object_id_for(username: str) -> str:
    """A stable Entra object id for a username."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user:{username.lower()}"))


def display_name_for(username: str) -> str:
    local = username.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part) or username


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT with `alg: none` (MSAL reads id_token claims without checking a signature)."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}."
