"""/login to scheduled syncs and back, through the real bot app's `/api/messages`, the fake Bot Connector, the
fake Entra ID (real MSAL) and the Partner Center simulator that accepts only the fake Entra's access tokens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import messages
from bot.app import create_app
from core.settings import Settings
from tests.bot.conftest import Simulator, card_text
from tests.fakes.activities import ADMIN, SELLER, Teams
from tests.fakes.connector import FakeConnector
from tests.signin.world import ADA, NOTICE, World, e2e_settings, pc_calls


async def test_login_sync_refresh_revoke_notice_and_login_again(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sync = world.services.sync

    code, mark = await world.login()
    card = card_text(world.connector.cards()[-1])
    assert code in card and "Open sign-in page" in card and "UTC" in card
    await world.approve(code)
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert messages.LOGIN_SIGNED_IN.format(username=ADA) in texts

    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert pc_calls(world) > 0 and all(r.get("status") != 401 for r in world.simulator.requests)

    await world.entra_post("/_sandbox/expire-access-tokens")
    refreshes = len(world.entra.token_requests("refresh_token"))
    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert len(world.entra.token_requests("refresh_token")) == refreshes + 1  # silent, no one was asked

    await world.entra_post("/_sandbox/revoke")
    await world.entra_post("/_sandbox/expire-access-tokens")
    admin_before = len(world.sent_to(ADMIN))
    run = await sync.run("schedule")
    assert run.status == "not_signed_in"
    await world.connector.wait_for(lambda c: any(NOTICE in s.text for s in world.sent_to(ADMIN)))
    stored = world.row()
    assert stored is not None and stored.state == "needs_login" and stored.admins_notified_at is not None

    calls, entra_calls = pc_calls(world), len(world.entra.requests)
    for _ in range(3):  # the next scheduled intervals
        assert (await sync.run("schedule")).status == "not_signed_in"
    await asyncio.sleep(0.3)
    assert pc_calls(world) == calls and len(world.entra.requests) == entra_calls
    notices = [s for s in world.sent_to(ADMIN)[admin_before:] if NOTICE in s.text]
    assert len(notices) == 1 and "invalid_grant" in notices[0].text
    assert not any(NOTICE in s.text for s in world.sent_to(SELLER))  # admins only

    code, mark = await world.login()
    await world.approve(code, "ada@contoso.example")
    await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    run = await sync.run("schedule")
    assert run.status == "success", run.error
    assert pc_calls(world) > calls
    stored = world.row()
    assert stored is not None and stored.state == "signed_in" and stored.admins_notified_at is None

    _assert_no_plaintext_tokens(world, caplog, Path.cwd())


def _assert_no_plaintext_tokens(world: World, caplog: pytest.LogCaptureFixture, folder: Path) -> None:
    """No access, refresh or id token in the database, the logs or any file the bot wrote."""
    secrets = world.entra.issued_secrets()
    assert len(secrets) >= 8
    fragments = {part for secret in secrets for part in secret.split(".") if len(part) > 16}
    world.services.engine.dispose()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name.startswith("referrals.db") for p in files)
    written = b"".join(p.read_bytes() for p in files)
    logged = caplog.text + "".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert ADA in logged  # the search can find what is there
    for fragment in fragments:
        assert fragment.encode() not in written
        assert fragment not in logged


async def test_login_is_for_admins_in_a_personal_chat(world: World) -> None:
    assert await world.say("/login", user=SELLER) == [messages.ADMIN_ONLY.format(command="/login")]
    assert await world.say("/login", where="channel") == [messages.LOGIN_PERSONAL_ONLY]
    assert await world.say("/login", where="groupChat") == [messages.LOGIN_PERSONAL_ONLY]
    assert await world.say("/logout", user=SELLER) == [messages.ADMIN_ONLY.format(command="/logout")]
    assert await world.say("/logout", where="channel") == [messages.LOGOUT_PERSONAL_ONLY]
    usage = messages.USAGE_ERROR.format(reason=messages.NO_ARGUMENTS.format(command="/login"), usage="/login")
    assert await world.say("/login please") == [usage]
    assert world.entra.pending_user_codes() == []


async def test_second_login_replaces_the_first(world: World) -> None:
    first, mark = await world.login()
    second, _ = await world.login()
    assert first != second
    await world.texts_after(mark, lambda t: t == messages.LOGIN_REPLACED)
    await world.approve(first, "old@contoso.example")  # too late: nobody waits for it any more
    await world.approve(second, "new@contoso.example")
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert texts.count(messages.LOGIN_SIGNED_IN.format(username="new@contoso.example")) == 1
    await asyncio.sleep(1.5)  # the first MSAL poll loop has ended; it must not have stored anything
    stored = world.row()
    assert stored is not None and stored.username == "new@contoso.example"
    assert not any("old@contoso.example" in t for t in world.connector.texts())


async def test_declined_login_and_logout(world: World) -> None:
    code, mark = await world.login()
    await world.approve(code, decline=True)
    await world.texts_after(mark, lambda t: t == messages.LOGIN_DECLINED)
    assert world.row() is None
    assert await world.say("/logout") == [messages.LOGOUT_NOTHING]

    code, mark = await world.login()
    await world.approve(code)
    await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert await world.say("/logout") == [
        messages.LOGOUT_DONE.format(who=messages.LOGOUT_DONE_WHO.format(username=ADA))
    ]
    stored = world.row()
    assert stored is not None and stored.state == "signed_out" and stored.encrypted_cache is None
    run = await world.services.sync.run("manual")
    assert run.status == "not_signed_in"
    [status] = await world.say("status")
    assert "signed" in status.lower()


async def test_help_describes_login_and_logout(world: World) -> None:
    [help_card] = await world.say("help")
    assert "Sign in to Partner Center with a device code." in help_card
    assert "Forget the stored Partner Center sign-in." in help_card


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"token_cache_key": ""}, messages.TOKEN_CACHE_KEY_MISSING),
        ({"token_cache_key": "too-short"}, messages.TOKEN_CACHE_KEY_MALFORMED),
        ({"azure_client_id": ""}, messages.AZURE_CLIENT_ID_MISSING),
        ({"partner_center_scope": " "}, messages.PARTNER_CENTER_SCOPE_UNUSABLE.format(scope="")),
        ({"partner_center_scope": "openid"}, messages.PARTNER_CENTER_SCOPE_UNUSABLE.format(scope="openid")),
        (
            {"partner_center_scope": "Offline_Access"},
            messages.PARTNER_CENTER_SCOPE_UNUSABLE.format(scope="Offline_Access"),
        ),
    ],
)
async def test_login_without_settings_says_what_to_set(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    overrides: dict[str, str],
    expected: str,
) -> None:
    app = create_app(e2e_settings(make_settings, sqlite_url, simulator.url, **overrides))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        teams = Teams(connector.url)
        response = await client.post("/api/messages", json=teams.message("/login", user=ADMIN))
        assert response.status in (200, 201)
        assert connector.texts() == [expected]
