"""`/login` through the real bot app against the fake Entra ID: racing `/login`s, `/logout` during one, a
restart while one waits, and token answers without an id token or a refresh token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from bot import messages
from core.settings import Settings
from sandbox.entra import FakeEntra, TlsFiles
from tests.bot.conftest import Simulator
from tests.fakes.activities import ADMIN
from tests.fakes.connector import FakeConnector
from tests.signin.world import ADA, World, code_on, e2e_settings, open_world


def device_code_requests(world: World) -> int:
    return sum(1 for r in world.entra.requests if r.path.endswith("/devicecode"))


async def post_login_held(world: World) -> tuple[asyncio.Task[Any], asyncio.Event]:
    """`/login` whose device-code request Entra holds until the returned event is set."""
    hold = asyncio.Event()
    world.entra.device_code_holds.append(hold)
    before = device_code_requests(world)
    client: TestClient = world.client
    posting = asyncio.create_task(client.post("/api/messages", json=world.teams.message("/login", user=ADMIN)))
    for _ in range(200):
        if device_code_requests(world) > before:
            return posting, hold
        await asyncio.sleep(0.02)
    raise AssertionError("the held /login never asked Entra for a code")


async def test_a_login_replaced_while_asking_for_its_code_shows_no_dead_card(world: World) -> None:
    mark = len(world.connector.sent)
    first, hold = await post_login_held(world)
    second_code, _ = await world.login()  # the newer /login gets its code first
    hold.set()  # now the first one gets its code, already replaced
    assert (await first).status in (200, 201)

    cards = [code_on(s.card) for s in world.connector.sent[mark:] if s.card is not None]
    assert cards == [second_code]  # the dead code is never shown, so the last card is the valid one
    await world.texts_after(mark, lambda t: t == messages.LOGIN_REPLACED)

    await world.approve(second_code, "new@contoso.example")
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert messages.LOGIN_SIGNED_IN.format(username="new@contoso.example") in texts
    assert texts.count(messages.LOGIN_REPLACED) == 1


async def test_logout_during_a_pending_login_says_it_was_cancelled(world: World) -> None:
    code, mark = await world.login()
    assert messages.LOGOUT_NOTHING in await world.say("/logout")
    texts = await world.texts_after(mark, lambda t: t == messages.LOGIN_CANCELLED)
    assert messages.LOGIN_REPLACED not in texts
    await world.approve(code)  # too late: nobody waits for that code any more
    await asyncio.sleep(1.5)  # MSAL's poll loop has ended; it must not have stored anything
    assert world.row() is None

    mark = len(world.connector.sent)
    asking, hold = await post_login_held(world)  # /logout while a /login still asks for its code
    assert messages.LOGOUT_NOTHING in await world.say("/logout")
    hold.set()
    assert (await asking).status in (200, 201)
    texts = await world.texts_after(mark, lambda t: t == messages.LOGIN_CANCELLED)
    assert messages.LOGIN_REPLACED not in texts
    assert not any(s.card for s in world.connector.sent[mark:])  # and its dead code is not shown


async def test_a_sign_in_without_an_id_token_does_not_claim_a_user(world: World) -> None:
    world.entra.omit_from_tokens = frozenset({"id_token"})
    code, mark = await world.login()
    await world.approve(code)
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    assert messages.LOGIN_SIGNED_IN_UNKNOWN in texts
    assert not any("as ?" in t or "None" in t for t in texts)
    [status] = await world.say("status")
    assert "signed in as an unknown account" in status and "Refresh token held | yes" in status
    run = await world.services.sync.run("manual")  # and the sign-in works
    assert run.status == "success", run.error


async def test_a_sign_in_without_a_refresh_token_says_it_cannot_last(world: World) -> None:
    world.entra.omit_from_tokens = frozenset({"refresh_token"})
    code, mark = await world.login()
    await world.approve(code)
    texts = await world.texts_after(mark, lambda t: t.startswith("Signed in"))
    [signed_in] = [t for t in texts if t.startswith("Signed in")]
    assert signed_in.startswith(messages.LOGIN_SIGNED_IN.format(username=ADA))
    assert "no refresh token" in signed_in and "/login" in signed_in and " UTC" in signed_in
    [status] = await world.say("status")
    assert f"signed in as {ADA}" in status and "Refresh token held | no" in status

    sync = world.services.sync
    assert (await sync.run("schedule")).status == "success"  # the access token still works for now
    await world.entra_post("/_sandbox/expire-access-tokens")
    assert (await sync.run("schedule")).status == "not_signed_in"
    [notice] = world.notices_to(ADMIN)
    assert messages.SIGNIN_NO_REFRESH_TOKEN in notice.text


async def test_a_restart_while_a_login_waits_says_so_and_login_works_after(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    entra: FakeEntra,
    entra_url: str,
    tls_files: TlsFiles,
) -> None:
    settings = e2e_settings(make_settings, sqlite_url, simulator.url)
    where = {"simulator": simulator, "connector": connector, "entra": entra, "entra_url": entra_url}
    async with open_world(settings, tls_files=tls_files, **where) as before:
        code, mark = await before.login()
        chat = before.teams.personal_conversation(ADMIN)["id"]
    # the bot process stopped (a deploy, a restart) while the admin still had the code: the admin is told
    told = [s.text for s in connector.sent[mark:] if s.conversation_id == chat and s.text]
    assert told == [messages.LOGIN_SHUTDOWN]

    async with open_world(settings, tls_files=tls_files, installed=(), **where) as after:
        await after.approve(code)  # nobody waits for that code any more: nothing is stored
        await asyncio.sleep(1.5)
        assert after.row() is None
        await after.sign_in()  # and a new /login works
        stored = after.row()
        assert stored is not None and stored.state == "signed_in" and stored.username == ADA
