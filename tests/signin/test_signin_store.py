"""`poller.signin` against the fake Entra ID: the encrypted cache, the token source, /login's manager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from bot import messages
from core.errors import ConfigError, NotSignedIn, UpstreamRejected, UpstreamUnavailable
from core.settings import Settings
from poller.signin import SignedInTokenSource, SignInManager, notify_admins_if_needed
from poller.token import make_token_source
from sandbox.entra import FakeEntra
from storage.db import session_scope
from storage.models import SignIn
from tests.signin.conftest import approve_when_pending, db_files

ADA = "ada@contoso.example"


async def sign_in(settings: Settings, engine: Engine, entra: FakeEntra, username: str = ADA) -> SignInManager:
    manager = SignInManager(settings, engine)
    pending = await manager.start()
    approving = asyncio.create_task(approve_when_pending(entra, username))
    outcome = await manager.wait(pending)
    await approving
    assert outcome.status == "signed_in" and outcome.username == username
    return manager


def row(engine: Engine) -> SignIn | None:
    with session_scope(engine) as session:
        return session.get(SignIn, 1)


async def test_sign_in_then_tokens_from_the_stored_account(
    settings: Settings, engine: Engine, entra: FakeEntra
) -> None:
    manager = await sign_in(settings, engine, entra)
    stored = await manager.health()
    assert stored is not None and stored.state == "signed_in" and stored.username == ADA
    assert stored.has_refresh_token and stored.signed_in_at and stored.access_token_expires_at
    assert stored.home_account_id and stored.encrypted_cache

    source = make_token_source(settings, engine)
    assert isinstance(source, SignedInTokenSource)
    token = await source.get_token()
    assert entra.is_valid_access_token(token)
    assert entra.access_token_user(token) == ADA
    assert await source.get_token() == token  # cached: an hour left
    assert len(entra.token_requests("refresh_token")) == 0


async def test_refresh_when_expired_is_silent_and_saved(settings: Settings, engine: Engine, entra: FakeEntra) -> None:
    await sign_in(settings, engine, entra)
    source = SignedInTokenSource(settings, engine)
    first = await source.get_token()
    before = row(engine)
    assert before is not None

    entra.expire_access_tokens()
    second = await source.get_token(force_refresh=True)  # what the client does after a 401
    assert second != first and entra.is_valid_access_token(second)

    entra.access_token_lifetime = 60  # below MSAL's five-minute margin: the next call refreshes by itself
    await source.get_token(force_refresh=True)
    third = await SignedInTokenSource(settings, engine).get_token()  # a fresh process reads the saved cache
    assert entra.is_valid_access_token(third)
    after = row(engine)
    assert after is not None and after.state == "signed_in"
    assert after.encrypted_cache != before.encrypted_cache
    assert after.last_refresh_at and before.last_refresh_at and after.last_refresh_at > before.last_refresh_at
    assert len(entra.token_requests("refresh_token")) == 3


async def test_revoked_refresh_token_means_needs_login(settings: Settings, engine: Engine, entra: FakeEntra) -> None:
    await sign_in(settings, engine, entra)
    source = SignedInTokenSource(settings, engine)
    await source.get_token()
    entra.revoke()
    entra.expire_access_tokens()

    with pytest.raises(NotSignedIn) as lost:
        await source.get_token(force_refresh=True)
    assert "invalid_grant" in str(lost.value) and "/login" in str(lost.value)
    stored = row(engine)
    assert stored is not None and stored.state == "needs_login"
    assert stored.failure_reason and "invalid_grant" in stored.failure_reason

    calls = len(entra.requests)
    for _ in range(3):  # later syncs do not even ask Entra ID
        with pytest.raises(NotSignedIn):
            await SignedInTokenSource(settings, engine).get_token()
    assert len(entra.requests) == calls

    await sign_in(settings, engine, entra)  # /login again restores it
    assert entra.is_valid_access_token(await source.get_token())


async def test_no_sign_in_is_not_signed_in(settings: Settings, engine: Engine) -> None:
    with pytest.raises(NotSignedIn) as raised:
        await SignedInTokenSource(settings, engine).get_token()
    assert str(raised.value) == messages.NOT_SIGNED_IN


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"token_cache_key": ""}, "TOKEN_CACHE_KEY is not set"),
        ({"token_cache_key": "not-a-fernet-key"}, "not a valid key"),
        ({"azure_client_id": ""}, "AZURE_CLIENT_ID"),
    ],
)
async def test_login_refuses_without_key_or_client_id(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    sqlite_db: Engine,
    overrides: dict[str, str],
    expected: str,
) -> None:
    manager = SignInManager(make_settings(sqlite_url, **overrides), sqlite_db)
    with pytest.raises(ConfigError) as refused:
        await manager.start()
    assert expected in str(refused.value)
    if "TOKEN_CACHE_KEY" in expected or "valid key" in expected:
        assert messages.MAKE_TOKEN_CACHE_KEY in str(refused.value)
    assert row(sqlite_db) is None


async def test_cache_is_stored_encrypted(
    sqlite_settings: Settings, sqlite_url: str, sqlite_db: Engine, entra: FakeEntra
) -> None:
    await sign_in(sqlite_settings, sqlite_db, entra)
    source = SignedInTokenSource(sqlite_settings, sqlite_db)
    entra.expire_access_tokens()
    await source.get_token(force_refresh=True)
    secrets = entra.issued_secrets()
    assert len(secrets) >= 6  # two of each: access, refresh and id tokens
    fragments = {part for secret in secrets for part in secret.split(".") if len(part) > 16}
    sqlite_db.dispose()
    files = db_files(sqlite_url)
    assert files
    stored = b"".join(path.read_bytes() for path in files)
    assert b"ada@contoso.example" in stored  # the username is stored on purpose: the search itself works
    for fragment in fragments:
        assert fragment.encode() not in stored
    assert b"RefreshToken" not in stored and b"AccessToken" not in stored  # MSAL's cache sections

    encrypted = row(sqlite_db)
    assert encrypted is not None and encrypted.encrypted_cache
    plaintext = Fernet(sqlite_settings.token_cache_key.encode()).decrypt(encrypted.encrypted_cache.encode())
    assert b"RefreshToken" in plaintext  # and it is the MSAL cache, encrypted with TOKEN_CACHE_KEY


async def test_wrong_or_missing_key_is_explained(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    sqlite_db: Engine,
    sqlite_settings: Settings,
    entra: FakeEntra,
) -> None:
    await sign_in(sqlite_settings, sqlite_db, entra)
    other_key = make_settings(sqlite_url, token_cache_key=Fernet.generate_key().decode())
    with pytest.raises(NotSignedIn) as wrong:
        await SignedInTokenSource(other_key, sqlite_db).get_token()
    assert str(wrong.value) == messages.TOKEN_CACHE_KEY_WRONG
    with pytest.raises(NotSignedIn) as missing:
        await SignedInTokenSource(make_settings(sqlite_url, token_cache_key=""), sqlite_db).get_token()
    assert messages.MAKE_TOKEN_CACHE_KEY in str(missing.value)
    stored = row(sqlite_db)
    assert stored is not None and stored.state == "unreadable" and stored.encrypted_cache  # lost, but kept
    assert stored.failure_reason == messages.SIGNIN_UNREADABLE_NO_KEY

    token = await SignedInTokenSource(sqlite_settings, sqlite_db).get_token()  # the right key brings it back
    assert entra.is_valid_access_token(token)
    stored = row(sqlite_db)
    assert stored is not None and stored.state == "signed_in" and stored.failure_reason is None


async def test_new_login_replaces_the_pending_one(settings: Settings, engine: Engine, entra: FakeEntra) -> None:
    manager = SignInManager(settings, engine)
    first = await manager.start()
    first_wait = asyncio.create_task(manager.wait(first))
    assert entra.approve(first.user_code, "old@contoso.example")  # approved, but replaced before it lands
    second = await manager.start()
    assert second.user_code != first.user_code and manager.pending is second
    assert (await first_wait).status == "replaced"

    second_wait = asyncio.create_task(manager.wait(second))
    assert entra.approve(second.user_code, "new@contoso.example")
    outcome = await second_wait
    assert outcome.status == "signed_in" and outcome.username == "new@contoso.example"
    stored = row(engine)
    assert stored is not None and stored.username == "new@contoso.example"


async def test_declined_timeout_and_cancelled(
    make_settings: Callable[..., Settings], sqlite_url: str, sqlite_db: Engine, entra: FakeEntra
) -> None:
    manager = SignInManager(make_settings(sqlite_url), sqlite_db)
    pending = await manager.start()
    entra.approve(pending.user_code, decline=True)
    assert (await manager.wait(pending)).status == "declined"

    entra.device_code_lifetime = 1
    pending = await manager.start()
    assert (await manager.wait(pending)).status == "timeout"

    entra.device_code_lifetime = 900
    pending = await manager.start()
    waiting = asyncio.create_task(manager.wait(pending))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pending.flow["expires_at"] == 0  # MSAL's poll loop ends within a second
    assert row(sqlite_db) is None


async def test_logout_forgets_everything(settings: Settings, engine: Engine, entra: FakeEntra) -> None:
    manager = await sign_in(settings, engine, entra)
    before = await manager.logout()
    assert before is not None and before.username == ADA
    stored = row(engine)
    assert stored is not None and stored.state == "signed_out"
    assert stored.encrypted_cache is None and stored.username is None and not stored.has_refresh_token
    with pytest.raises(NotSignedIn):
        await SignedInTokenSource(settings, engine).get_token()
    assert await manager.logout() is None


async def test_entra_unreachable(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    sqlite_db: Engine,
    sqlite_settings: Settings,
    entra: FakeEntra,
) -> None:
    await sign_in(sqlite_settings, sqlite_db, entra)
    gone = make_settings(sqlite_url, azure_authority_host="https://127.0.0.1:9")
    with pytest.raises(UpstreamUnavailable) as unreachable:
        await SignInManager(gone, sqlite_db).start()
    assert "https://127.0.0.1:9" in str(unreachable.value)
    with pytest.raises(UpstreamUnavailable):
        await SignedInTokenSource(gone, sqlite_db).get_token(force_refresh=True)
    stored = row(sqlite_db)
    assert stored is not None and stored.state == "signed_in"  # a network problem is not a lost sign-in


async def test_admins_are_told_once_per_loss(
    make_settings: Callable[..., Settings], database_url: str, engine: Engine, entra: FakeEntra
) -> None:
    settings = make_settings(database_url, admin_aad_object_ids=["admin-1", "admin-2"])
    sent: list[tuple[str, str]] = []
    reachable = {"admin-1", "admin-2"}

    async def send(admin: str, text: str) -> bool:
        if admin not in reachable:
            return False
        sent.append((admin, text))
        return True

    assert await notify_admins_if_needed(settings, engine, send) == 0  # nothing stored yet
    await sign_in(settings, engine, entra)
    assert await notify_admins_if_needed(settings, engine, send) == 0  # signed in: nothing to say

    entra.revoke()
    with pytest.raises(NotSignedIn):
        await SignedInTokenSource(settings, engine).get_token(force_refresh=True)
    reachable.clear()
    assert await notify_admins_if_needed(settings, engine, send) == 0  # no one reachable: still due
    reachable.update({"admin-1", "admin-2"})
    assert await notify_admins_if_needed(settings, engine, send) == 2
    assert {a for a, _ in sent} == {"admin-1", "admin-2"}
    assert "invalid_grant" in sent[0][1] and "/login" in sent[0][1]
    for _ in range(3):
        assert await notify_admins_if_needed(settings, engine, send) == 0
    assert len(sent) == 2

    await sign_in(settings, engine, entra)  # a new sign-in resets the notice
    entra.revoke()
    with pytest.raises(NotSignedIn):
        await SignedInTokenSource(settings, engine).get_token(force_refresh=True)
    assert await notify_admins_if_needed(settings, engine, send) == 2
    assert len(sent) == 4


async def test_unknown_app_registration_is_explained(
    sqlite_settings: Settings, sqlite_db: Engine, entra: FakeEntra
) -> None:
    entra.allowed_client_ids = frozenset({"some-other-app"})
    with pytest.raises(UpstreamRejected) as refused:
        await SignInManager(sqlite_settings, sqlite_db).start()
    assert str(refused.value).startswith("Entra ID answered unauthorized_client (AADSTS700016")


async def test_each_admin_is_claimed_on_their_own(
    make_settings: Callable[..., Settings], database_url: str, engine: Engine, entra: FakeEntra
) -> None:
    settings = make_settings(database_url, admin_aad_object_ids=["admin-1", "ADMIN-2", "admin-2"])
    sent: list[str] = []
    reachable = {"admin-1"}

    async def send(admin: str, text: str) -> bool:
        if admin.lower() not in reachable:
            return False
        sent.append(admin)
        return True

    await sign_in(settings, engine, entra)
    entra.revoke()
    with pytest.raises(NotSignedIn):
        await SignedInTokenSource(settings, engine).get_token(force_refresh=True)
    assert await notify_admins_if_needed(settings, engine, send) == 1
    assert await notify_admins_if_needed(settings, engine, send) == 0  # admin-2 still can't be reached
    reachable.add("admin-2")
    assert await notify_admins_if_needed(settings, engine, send) == 1
    assert await notify_admins_if_needed(settings, engine, send) == 0
    assert sent == ["admin-1", "ADMIN-2"]  # each once, under the spelling the settings give first
