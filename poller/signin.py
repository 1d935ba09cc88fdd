"""The Partner Center sign-in: device-code `/login`, the encrypted MSAL token cache, and the token source.

The MSAL `SerializableTokenCache` (it holds the refresh token) lives in the single `sign_in` row, encrypted
with Fernet (`TOKEN_CACHE_KEY`); it never touches disk or a log in plaintext. MSAL blocks (it uses
`requests`), so every MSAL call runs in a worker thread.

Row states: `signed_in` → (refresh refused) → `needs_login` → (`/login`) → `signed_in`;
`signed_in` → (the current TOKEN_CACHE_KEY can't decrypt the cache) → `unreadable` → (the right key again, or
`/login`) → `signed_in`; `/logout` → `signed_out`. Writes made after a refresh only land while the row still
holds the cache they started from, so a refresh that races a new `/login` or a `/logout` never brings the old
account back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import msal
import requests
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot import messages
from core.errors import ConfigError, NotSignedIn, UpstreamRejected, UpstreamUnavailable
from core.settings import Settings
from storage.db import session_scope
from storage.models import SignIn, SignInNotice
from storage.types import utcnow

log = logging.getLogger(__name__)

SIGN_IN_ID = 1
# Answers that mean the refresh token will never work again: someone must sign in anew.
NEEDS_LOGIN_ERRORS = frozenset({"invalid_grant", "interaction_required", "login_required", "consent_required"})
# MsalServiceError: MSAL's wrapper for an HTTP error status (a 502 from Entra); KeyError/TypeError: a 200 answer
# that is not the JSON object Entra documents.
_NETWORK_ERRORS = (requests.exceptions.RequestException, OSError, msal.exceptions.MsalServiceError)
_GARBAGE_ERRORS = (ValueError, KeyError, TypeError, AttributeError)
ENTRA_TIMEOUT_SECONDS = 30  # per HTTP request to Entra; MSAL's default is to wait forever
# What MSAL adds to every sign-in itself (it refuses them as the requested scope): never a Partner Center scope.
_OPENID_SCOPES = frozenset({"openid", "profile", "offline_access"})


# -----------------------------------------------------------------------------------------------------------
# Configuration and encryption


def cache_cipher(settings: Settings) -> Fernet:
    """The Fernet cipher for the stored cache; `ConfigError` (saying how to make a key) when there is none."""
    key = settings.token_cache_key.strip()
    if not key:
        raise ConfigError(messages.TOKEN_CACHE_KEY_MISSING)
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(messages.TOKEN_CACHE_KEY_MALFORMED) from None


def check_login_settings(settings: Settings) -> None:
    """Everything `/login` needs before it shows a code; `ConfigError` with what to set otherwise."""
    if not settings.azure_client_id.strip():
        raise ConfigError(messages.AZURE_CLIENT_ID_MISSING)
    scope = settings.partner_center_scope.strip()
    if not scope or scope.lower() in _OPENID_SCOPES:
        # empty: the sign-in would get a token for no API; an OpenID scope: MSAL refuses it as a ValueError
        raise ConfigError(messages.PARTNER_CENTER_SCOPE_UNUSABLE.format(scope=scope[:100]))
    cache_cipher(settings)


def authority_url(settings: Settings) -> str:
    return f"{settings.azure_authority_host.rstrip('/')}/{settings.azure_tenant_id.strip() or 'organizations'}"


def scopes(settings: Settings) -> list[str]:
    return [settings.partner_center_scope]


def encrypt_cache(cipher: Fernet, cache: msal.SerializableTokenCache) -> str:
    return cipher.encrypt(cache.serialize().encode()).decode()


def unreadable_reason(settings: Settings, encrypted: str) -> str | None:
    """Why the current TOKEN_CACHE_KEY can't decrypt the stored cache `encrypted`, in a few words; None if it can."""
    key = settings.token_cache_key.strip()
    if not key:
        return messages.SIGNIN_UNREADABLE_NO_KEY
    try:
        cipher = Fernet(key.encode())
    except (ValueError, TypeError):
        return messages.SIGNIN_UNREADABLE_BAD_KEY
    try:
        cipher.decrypt(encrypted.encode())
    except InvalidToken:
        return messages.SIGNIN_UNREADABLE_WRONG_KEY
    return None


def decrypt_cache(cipher: Fernet, encrypted: str) -> msal.SerializableTokenCache:
    """The cache stored in `encrypted`; `InvalidToken` when another key made it (or it was altered)."""
    cache = msal.SerializableTokenCache()
    cache.deserialize(cipher.decrypt(encrypted.encode()).decode())
    return cache


def build_msal_app(settings: Settings, cache: msal.SerializableTokenCache) -> msal.PublicClientApplication:
    """A public-client app on `cache`. Blocking: MSAL fetches the tenant's OpenID configuration here."""
    return msal.PublicClientApplication(
        settings.azure_client_id.strip(),
        authority=authority_url(settings),
        token_cache=cache,
        instance_discovery=False,
        timeout=ENTRA_TIMEOUT_SECONDS,
    )


def _has_refresh_token(cache: msal.SerializableTokenCache) -> bool:
    return bool(cache.find(msal.TokenCache.CredentialType.REFRESH_TOKEN))


def _expires_at(result: dict[str, Any]) -> datetime | None:
    expires_in = result.get("expires_in")
    return utcnow() + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float | str) else None


def _describe(result: dict[str, Any], template: str = messages.ENTRA_ANSWERED) -> str:
    """An Entra error answer in one short line (its description's first line: no trace ids, no tokens)."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "").strip().splitlines()
    detail = f" ({description[0][:200]})" if description else ""
    return template.format(error=error, description=detail)


def _unreachable(settings: Settings, exc: BaseException) -> UpstreamUnavailable:
    reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    return UpstreamUnavailable(messages.ENTRA_UNREACHABLE.format(authority=authority_url(settings), reason=reason))


# -----------------------------------------------------------------------------------------------------------
# The stored row


def load_sign_in(session: Session) -> SignIn | None:
    return session.get(SignIn, SIGN_IN_ID)


def _load(engine: Engine) -> SignIn | None:
    with session_scope(engine) as session:
        return load_sign_in(session)


def _update_if_unchanged(
    engine: Engine, loaded_cache: str, values: dict[str, Any], states: tuple[str, ...] = ("signed_in",)
) -> bool:
    """Write `values` only while the row still holds `loaded_cache` in one of `states`; True when written.

    A row that turns `signed_in` again also forgets which admins were told about its loss.
    """
    with session_scope(engine) as session:
        result = session.execute(
            update(SignIn)
            .where(
                col(SignIn.id) == SIGN_IN_ID,
                col(SignIn.encrypted_cache) == loaded_cache,
                col(SignIn.state).in_(states),
            )
            .values(**values)
        )
        written = bool(getattr(result, "rowcount", 0))
        if written and values.get("state") == "signed_in":
            _clear_notices(session)
        return written


def _store_new_sign_in(engine: Engine, values: dict[str, Any]) -> None:
    with session_scope(engine) as session:
        row = session.get(SignIn, SIGN_IN_ID) or SignIn(id=SIGN_IN_ID)
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        _clear_notices(session)


def _forget(engine: Engine) -> SignIn | None:
    """Clear the stored sign-in (state `signed_out`); returns the row as it was, or None."""
    with session_scope(engine) as session:
        row = session.get(SignIn, SIGN_IN_ID)
        if row is None:
            return None
        before = row.model_copy()
        row.encrypted_cache = None
        row.username = None
        row.home_account_id = None
        row.state = "signed_out"
        row.failure_reason = None
        row.has_refresh_token = False
        row.signed_in_at = None
        row.last_refresh_at = None
        row.access_token_expires_at = None
        row.admins_notified_at = None
        session.add(row)
        _clear_notices(session)
        return before


# -----------------------------------------------------------------------------------------------------------
# The token source the poller uses


_UNREADABLE_MESSAGES = {
    messages.SIGNIN_UNREADABLE_NO_KEY: messages.TOKEN_CACHE_KEY_MISSING,
    messages.SIGNIN_UNREADABLE_BAD_KEY: messages.TOKEN_CACHE_KEY_MALFORMED,
    messages.SIGNIN_UNREADABLE_WRONG_KEY: messages.TOKEN_CACHE_KEY_WRONG,
}


class _SignInReplaced(Exception):
    """The stored sign-in changed under a failing refresh (internal to `SignedInTokenSource`)."""


class SignedInTokenSource:
    """Bearer tokens for the account signed in with `/login`, refreshed silently by MSAL.

    Raises `NotSignedIn` when no one is signed in, or when Entra ID refuses the refresh token (revoked,
    expired, new MFA policy): the row then turns `needs_login` and stays so, without further calls to Entra
    ID, until the next `/login`. Raises `UpstreamUnavailable` when Entra ID cannot be reached (the sign-in
    stays as it is).
    """

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine
        self._lock = threading.Lock()
        self._cache = msal.SerializableTokenCache()
        self._loaded: str | None = None  # the encrypted cache `_cache` was read from
        self._app: msal.PublicClientApplication | None = None

    async def get_token(self, *, force_refresh: bool = False) -> str:
        return await asyncio.to_thread(self._get_token, force_refresh)

    async def refused(self, reason: str) -> bool:
        """Partner Center refuses the account's renewed token (wrong PARTNER_CENTER_SCOPE, the account lost
        its Partner Center access …): the sign-in is of no use, so it turns `needs_login` like a refused
        refresh, and admins are told."""
        return await asyncio.to_thread(self._refused, reason)

    def _refused(self, reason: str) -> bool:
        with self._lock:
            row = _load(self._engine)
            if row is None or row.state != "signed_in" or not row.encrypted_cache:
                return row is not None and row.state in LOST_STATES
            return self._mark_needs_login(row.encrypted_cache, reason)

    def _get_token(self, force_refresh: bool) -> str:
        with self._lock:
            try:
                return self._token_from_stored_sign_in(force_refresh)
            except _SignInReplaced:  # a new /login landed while the old one was failing: use the new one
                return self._token_from_stored_sign_in(force_refresh)

    def _token_from_stored_sign_in(self, force_refresh: bool) -> str:
        row = _load(self._engine)
        if row is None or row.state == "signed_out" or not row.encrypted_cache:
            raise NotSignedIn(messages.NOT_SIGNED_IN)
        if row.state == "needs_login":
            reason = row.failure_reason or messages.SIGNIN_NO_REFRESH_TOKEN
            raise NotSignedIn(messages.SIGNIN_NEEDS_LOGIN.format(reason=reason))
        if not self._settings.azure_client_id.strip():
            raise NotSignedIn(messages.AZURE_CLIENT_ID_MISSING)
        encrypted = row.encrypted_cache
        cipher = self._open_cache(row, encrypted)
        result = self._acquire(row, force_refresh)
        if result is None or "error" in result:
            if result is None:
                reason = messages.SIGNIN_NO_REFRESH_TOKEN
            else:
                reason = _describe(result, messages.SIGNIN_REFRESH_REJECTED)
            if result is not None and result.get("error") not in NEEDS_LOGIN_ERRORS:
                raise UpstreamUnavailable(reason, code=str(result.get("error")))
            if not self._mark_needs_login(encrypted, reason):
                raise _SignInReplaced
            raise NotSignedIn(messages.SIGNIN_NEEDS_LOGIN.format(reason=reason))
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamUnavailable(messages.ENTRA_ANSWERED.format(error="no_access_token", description=""))
        self._save_after_success(cipher, encrypted, result)
        return token

    def _open_cache(self, row: SignIn, encrypted: str) -> Fernet:
        """The cipher, with `self._cache` holding the stored cache.

        A cache the current TOKEN_CACHE_KEY can't decrypt turns the row `unreadable` (a lost sign-in: admins are
        told) but is kept, so that setting the right key again brings it back without a new `/login`.
        """
        if encrypted == self._loaded and row.state == "signed_in":
            return cache_cipher(self._settings)
        reason = unreadable_reason(self._settings, encrypted)
        if reason is not None:
            self._mark_unreadable(encrypted, reason)
            raise NotSignedIn(_UNREADABLE_MESSAGES.get(reason, messages.TOKEN_CACHE_KEY_WRONG))
        cipher = cache_cipher(self._settings)
        self._cache.deserialize(cipher.decrypt(encrypted.encode()).decode())
        self._loaded = encrypted
        if row.state == "unreadable":
            values = {"state": "signed_in", "failure_reason": None, "admins_notified_at": None}
            if _update_if_unchanged(self._engine, encrypted, values, states=("unreadable",)):
                log.info("the stored Partner Center sign-in is readable again")
        return cipher

    def _mark_unreadable(self, loaded: str, reason: str) -> None:
        values = {"state": "unreadable", "failure_reason": reason}
        if _update_if_unchanged(self._engine, loaded, values, states=("signed_in", "unreadable")):
            log.warning("the stored Partner Center sign-in can't be decrypted", extra={"reason": reason})

    def _acquire(self, row: SignIn, force_refresh: bool) -> dict[str, Any] | None:
        try:
            if self._app is None:
                self._app = build_msal_app(self._settings, self._cache)
            accounts = [a for a in self._app.get_accounts() if a.get("home_account_id") == row.home_account_id]
            if not accounts:
                return None
            result: dict[str, Any] | None = self._app.acquire_token_silent_with_error(
                scopes(self._settings), accounts[0], force_refresh=force_refresh
            )
            return result
        except (*_NETWORK_ERRORS, *_GARBAGE_ERRORS) as exc:  # MSAL raises ValueError when discovery fails
            raise _unreachable(self._settings, exc) from None

    def _mark_needs_login(self, loaded: str, reason: str) -> bool:
        """False when the row no longer holds the sign-in that failed (a new /login replaced it)."""
        written = _update_if_unchanged(
            self._engine,
            loaded,
            {
                "state": "needs_login",
                "failure_reason": reason[:500],
                "has_refresh_token": False,
                "access_token_expires_at": None,
            },
        )
        if written:
            log.warning("Partner Center sign-in needs a new /login", extra={"reason": reason})
        return written

    def _save_after_success(self, cipher: Fernet, loaded: str, result: dict[str, Any]) -> None:
        if not self._cache.has_state_changed:
            return
        values: dict[str, Any] = {
            "has_refresh_token": _has_refresh_token(self._cache),
            "access_token_expires_at": _expires_at(result),
        }
        if result.get("token_source") == "identity_provider":
            values["last_refresh_at"] = utcnow()
        values["encrypted_cache"] = encrypt_cache(cipher, self._cache)
        if _update_if_unchanged(self._engine, loaded, values):
            self._loaded = values["encrypted_cache"]
        self._cache.has_state_changed = False


# -----------------------------------------------------------------------------------------------------------
# /login and /logout


OutcomeStatus = Literal["signed_in", "declined", "timeout", "replaced", "cancelled", "shutdown", "error"]
# why no one waits for a device code any more: a newer /login, /logout, the bot process stopping
EndReason = Literal["replaced", "cancelled", "shutdown"]


@dataclass(frozen=True)
class SignInOutcome:
    status: OutcomeStatus
    username: str | None = None  # None also when signed in: Entra ID's answer named no user (no id token)
    reason: str | None = None
    has_refresh_token: bool = True  # False: the poller can only go on until `access_token_expires_at`
    access_token_expires_at: datetime | None = None


@dataclass
class PendingSignIn:
    """A device code shown to an admin and the MSAL state to redeem it."""

    user_code: str
    verification_uri: str
    expires_at: datetime
    message: str
    generation: int
    flow: dict[str, Any] = field(repr=False)
    app: msal.PublicClientApplication = field(repr=False)
    cache: msal.SerializableTokenCache = field(repr=False)
    ended_by: EndReason | None = None

    def end(self, why: EndReason) -> None:
        """No one waits for this code any more: stop MSAL's poll loop and remember why."""
        self.ended_by = self.ended_by or why
        self.stop_polling()

    def stop_polling(self) -> None:
        """Make MSAL's blocking poll loop return within a second (its documented way out)."""
        self.flow["expires_at"] = 0


class SignInManager:
    """Device-code sign-in for the bot: one pending sign-in at a time; a newer `start()` replaces it."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine
        self._generation = 0
        self._pending: PendingSignIn | None = None
        self._superseded_by: EndReason = "replaced"  # what ended the codes of older generations
        self._lock = asyncio.Lock()
        self._showing = asyncio.Lock()

    @property
    def pending(self) -> PendingSignIn | None:
        return self._pending

    async def start(self) -> PendingSignIn:
        """Ask Entra ID for a device code; `ConfigError` for missing settings, `UpstreamError` otherwise."""
        check_login_settings(self._settings)
        async with self._lock:
            generation = self._supersede("replaced")
        cache = msal.SerializableTokenCache()
        try:
            app, flow = await asyncio.to_thread(self._initiate, cache)
        except (*_NETWORK_ERRORS, *_GARBAGE_ERRORS) as exc:
            raise _unreachable(self._settings, exc) from None
        if not isinstance(flow, dict):
            raise UpstreamRejected(messages.ENTRA_ANSWERED.format(error="not_a_device_code", description=""))
        if "user_code" not in flow:
            raise UpstreamRejected(_describe(flow), code=str(flow.get("error")))
        pending = PendingSignIn(
            user_code=str(flow["user_code"]),
            verification_uri=str(flow.get("verification_uri_complete") or flow.get("verification_uri") or ""),
            expires_at=utcnow() + timedelta(seconds=int(flow.get("expires_in", 900))),
            message=str(flow.get("message", "")),
            generation=generation,
            flow=flow,
            app=app,
            cache=cache,
        )
        async with self._lock:
            if generation == self._generation:
                self._pending = pending
            else:  # a newer /login (or a /logout) came while this one was asking for its code
                pending.end(self._superseded_by)
        return pending

    def ended(self, pending: PendingSignIn) -> EndReason | None:
        """Why no one waits for `pending`'s code any more; None while it is the one waited for."""
        if pending.ended_by is None and pending.generation != self._generation:
            pending.end(self._superseded_by)
        return pending.ended_by

    async def show(self, pending: PendingSignIn, present: Callable[[], Awaitable[object]]) -> bool:
        """Show `pending`'s code with `present()`, unless it has ended already; True when shown.

        One code is shown at a time, so a newer `/login` that replaces `pending` while its card is on its way
        shows its own card after it: the code shown last is always the one still waited for.
        """
        async with self._showing:
            if self.ended(pending) is not None:
                return False
            await present()
            return True

    def _initiate(self, cache: msal.SerializableTokenCache) -> tuple[msal.PublicClientApplication, dict[str, Any]]:
        app = build_msal_app(self._settings, cache)
        flow: dict[str, Any] = app.initiate_device_flow(scopes=scopes(self._settings))
        return app, flow

    def _supersede(self, why: EndReason) -> int:
        """End the pending sign-in (and any still asking for its code) for `why`; returns the new generation."""
        self._generation += 1
        self._superseded_by = why
        old, self._pending = self._pending, None
        if old is not None:
            old.end(why)
        return self._generation

    async def cancel(self) -> None:
        """Stop waiting for the pending sign-in, if any (`/logout`: its outcome is "cancelled")."""
        async with self._lock:
            self._supersede("cancelled")

    async def shut_down(self) -> None:
        """The process is stopping: stop waiting for the pending sign-in, if any (its outcome is "shutdown").

        The device code lives only in this process, so no one could redeem it after a restart.
        """
        async with self._lock:
            self._supersede("shutdown")

    async def wait(self, pending: PendingSignIn) -> SignInOutcome:
        """Poll until the code is used, declined, expires or is replaced; store the sign-in on success."""
        try:
            result: dict[str, Any] = await asyncio.to_thread(pending.app.acquire_token_by_device_flow, pending.flow)
        except asyncio.CancelledError:
            pending.stop_polling()
            raise
        except (*_NETWORK_ERRORS, *_GARBAGE_ERRORS) as exc:
            async with self._lock:
                if self._pending is pending:
                    self._pending = None
            return SignInOutcome("error", reason=str(_unreachable(self._settings, exc)))
        async with self._lock:
            ended = self.ended(pending)
            if ended is not None:
                return SignInOutcome(ended)
            if "access_token" not in result:
                self._pending = None
                return _failed_outcome(result)
            self._pending = None
            outcome = await asyncio.to_thread(self._store, pending, result)
        if outcome.status == "signed_in":
            log.info("signed in to Partner Center", extra={"username": outcome.username})
        return outcome

    def _store(self, pending: PendingSignIn, result: dict[str, Any]) -> SignInOutcome:
        """Keep the new sign-in; an answer that names no account (MSAL could not make one) can't be used."""
        claims = result.get("id_token_claims") or {}
        accounts = pending.app.get_accounts()
        if not accounts:
            return SignInOutcome("error", reason=messages.LOGIN_NO_ACCOUNT)
        account = next((a for a in accounts if a.get("username") == claims.get("preferred_username")), accounts[0])
        username = str(claims.get("preferred_username") or account.get("username") or claims.get("name") or "")
        now = utcnow()
        values = {
            "encrypted_cache": encrypt_cache(cache_cipher(self._settings), pending.cache),
            "username": username or None,
            "home_account_id": account.get("home_account_id"),
            "state": "signed_in",
            "failure_reason": None,
            "has_refresh_token": _has_refresh_token(pending.cache),
            "signed_in_at": now,
            "last_refresh_at": now,
            "access_token_expires_at": _expires_at(result),
            "admins_notified_at": None,
        }
        _store_new_sign_in(self._engine, values)
        return SignInOutcome(
            "signed_in",
            username=values["username"],
            has_refresh_token=values["has_refresh_token"],
            access_token_expires_at=values["access_token_expires_at"],
        )

    async def logout(self) -> SignIn | None:
        """Forget the stored sign-in (and stop a pending one); returns what was stored, or None."""
        await self.cancel()
        before = await asyncio.to_thread(_forget, self._engine)
        if before is None or before.state == "signed_out":
            return None
        log.info("signed out of Partner Center", extra={"username": before.username})
        return before

    async def health(self) -> SignIn | None:
        return await asyncio.to_thread(_load, self._engine)


def _failed_outcome(result: dict[str, Any]) -> SignInOutcome:
    error = result.get("error")
    if error == "authorization_declined":
        return SignInOutcome("declined")
    if error in ("expired_token", "authorization_pending", "code_expired"):
        return SignInOutcome("timeout")
    return SignInOutcome("error", reason=_describe(result))


# -----------------------------------------------------------------------------------------------------------
# Telling the admins, once per loss


LOST_STATES = ("needs_login", "unreadable")  # row states in which the admins are owed a notice


def _clear_notices(session: Session) -> None:
    """Forget who was told about a lost sign-in: the next loss is told to everyone again."""
    session.execute(delete(SignInNotice))


def _lost_sign_in(engine: Engine) -> SignIn | None:
    row = _load(engine)
    return row if row is not None and row.state in LOST_STATES else None


def _claim_notice(engine: Engine, admin: str) -> SignIn | None:
    """Claim telling `admin` about the lost sign-in; returns the row when this call won the claim.

    One row per admin (primary key), so two processes never both tell the same admin.
    """
    try:
        with session_scope(engine) as session:
            row = session.get(SignIn, SIGN_IN_ID)
            if row is None or row.state not in LOST_STATES or session.get(SignInNotice, admin) is not None:
                return None
            session.add(SignInNotice(aad_object_id=admin))
            session.flush()
            return row
    except IntegrityError:  # another process claimed this admin first
        return None


def _release_notice(engine: Engine, admin: str) -> None:
    with session_scope(engine) as session:
        session.execute(delete(SignInNotice).where(col(SignInNotice.aad_object_id) == admin))


def _note_first_notice(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(SignIn)
            .where(col(SignIn.id) == SIGN_IN_ID, col(SignIn.admins_notified_at).is_(None))
            .values(admins_notified_at=utcnow())
        )


def _distinct_admins(settings: Settings) -> dict[str, str]:
    """Each configured admin once (ids compare case-insensitively), keyed by the lower-cased id."""
    admins: dict[str, str] = {}
    for admin in settings.admin_aad_object_ids:
        admins.setdefault(admin.lower(), admin)
    return admins


async def _tell(admin: str, text: str, send_to_admin: Callable[[str, str], Awaitable[bool]]) -> bool:
    try:
        return await send_to_admin(admin, text)
    except Exception:  # one unreachable admin must not stop the others
        log.warning("could not tell an admin about the lost sign-in", extra={"admin": admin}, exc_info=True)
        return False


async def notify_admins_if_needed(
    settings: Settings, engine: Engine, send_to_admin: Callable[[str, str], Awaitable[bool]]
) -> int:
    """Tell every admin, once per lost sign-in, that `/login` is needed; returns how many were told now.

    `send_to_admin(aad_object_id, text)` posts into that admin's personal chat and says whether it could.
    Each admin is claimed on their own: one who can't be reached yet (no personal chat with the bot, or the
    message didn't go through) stays due for the next call, while those already told are not told again.
    """
    if not settings.admin_aad_object_ids or await asyncio.to_thread(_lost_sign_in, engine) is None:
        return 0
    told = 0
    for key, admin in _distinct_admins(settings).items():
        row = await asyncio.to_thread(_claim_notice, engine, key)
        if row is None:
            continue
        reason = row.failure_reason or messages.SIGNIN_NO_REFRESH_TOKEN
        if await _tell(admin, messages.SIGNIN_LOST_ADMIN_NOTICE.format(reason=reason), send_to_admin):
            told += 1
            await asyncio.to_thread(_note_first_notice, engine)
        else:
            await asyncio.to_thread(_release_notice, engine, key)
    return told
