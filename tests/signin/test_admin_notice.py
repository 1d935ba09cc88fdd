"""The lost-sign-in notice through the real bot app: each admin is told once, also when the first try fails
or the admin only gets a personal chat with the bot later."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot import messages
from tests.fakes.activities import ADMIN, SELLER
from tests.signin.conftest import MakeWorld
from tests.signin.world import World, pc_calls

ADMIN_2 = {"id": "29:admin2-mri", "name": "Bo Admin", "aadObjectId": "cccccccc-0000-0000-0000-000000000003"}


async def lose_the_sign_in(world: World) -> None:
    """Sign in, then revoke it at Entra: the next sync finds it refused."""
    await world.sign_in()
    await world.entra_post("/_sandbox/revoke")
    await world.entra_post("/_sandbox/expire-access-tokens")


async def test_notice_that_could_not_be_delivered_is_retried_while_paused(world: World) -> None:
    sync = world.services.sync
    await lose_the_sign_in(world)
    world.connector.fail_next(403)  # the admin's chat refuses the first notice
    assert (await sync.run("schedule")).status == "not_signed_in"
    assert world.connector.failed == 1 and world.notices_to(ADMIN) == []
    assert sync.paused

    calls = pc_calls(world)
    for _ in range(3):  # the next scheduled intervals: skipped, but the notice is tried again
        assert (await sync.run("schedule")).status == "not_signed_in"
    assert len(world.notices_to(ADMIN)) == 1
    assert "invalid_grant" in world.notices_to(ADMIN)[0].text
    assert pc_calls(world) == calls  # still no Partner Center call while paused
    assert world.notices_to(SELLER) == []


@pytest.mark.parametrize("later", ["install", "message"])
async def test_an_admin_reached_later_is_told_once_too(make_world: MakeWorld, later: str) -> None:
    world = await make_world(
        admin_aad_object_ids=[ADMIN["aadObjectId"], ADMIN_2["aadObjectId"].upper()], installed=(ADMIN, SELLER)
    )
    sync = world.services.sync
    await lose_the_sign_in(world)
    assert (await sync.run("schedule")).status == "not_signed_in"
    assert len(world.notices_to(ADMIN)) == 1 and world.notices_to(ADMIN_2) == []  # no personal chat yet

    assert (await sync.run("schedule")).status == "not_signed_in"
    assert world.notices_to(ADMIN_2) == []
    if later == "install":
        await world.post(world.teams.personal_install(ADMIN_2))
    else:
        await world.say("help", user=ADMIN_2)
    for _ in range(3):
        assert (await sync.run("schedule")).status == "not_signed_in"
    assert len(world.notices_to(ADMIN_2)) == 1 and "invalid_grant" in world.notices_to(ADMIN_2)[0].text
    assert len(world.notices_to(ADMIN)) == 1  # the first admin is not told again
    assert world.notices_to(SELLER) == []

    await world.sign_in()  # a new sign-in, then a new loss: both admins are told again, once
    await world.entra_post("/_sandbox/revoke")
    await world.entra_post("/_sandbox/expire-access-tokens")
    for _ in range(3):
        await sync.run("schedule")
    assert len(world.notices_to(ADMIN)) == 2 and len(world.notices_to(ADMIN_2)) == 2


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (Fernet.generate_key().decode(), messages.SIGNIN_UNREADABLE_WRONG_KEY),
        ("", messages.SIGNIN_UNREADABLE_NO_KEY),
    ],
    ids=["wrong-key", "no-key"],
)
async def test_a_sign_in_the_key_cannot_read_is_a_lost_sign_in(make_world: MakeWorld, key: str, reason: str) -> None:
    before = await make_world()
    await before.sign_in()
    after = await make_world(token_cache_key=key)  # the bot restarted with another TOKEN_CACHE_KEY

    [status] = await after.say("status")
    assert "signed in as" not in status and reason in status  # before any sync has tried it
    assert "Refresh token held | no" in status

    sync = after.services.sync
    run = await sync.run("schedule")
    assert run.status == "not_signed_in" and "TOKEN_CACHE_KEY" in (run.note or run.error or "")
    for _ in range(3):
        assert (await sync.run("schedule")).status == "not_signed_in"
    [notice] = after.notices_to(ADMIN)
    assert reason in notice.text and "/login" in notice.text
    assert after.notices_to(SELLER) == []
    stored = after.row()
    assert stored is not None and stored.state == "unreadable" and stored.encrypted_cache
    [status] = await after.say("status")
    assert "signed in as" not in status and reason in status

    run = await before.services.sync.run("manual")  # the right key again: the stored sign-in still works
    assert run.status == "success", run.error
    stored = before.row()
    assert stored is not None and stored.state == "signed_in"
    [status] = await before.say("status")
    assert "signed in as ada@contoso.example" in status


async def test_a_token_partner_center_keeps_refusing_is_a_lost_sign_in(world: World) -> None:
    """Entra renews the token, but Partner Center answers 401 even to the renewed one (a wrong
    PARTNER_CENTER_SCOPE, an account that lost its Partner Center access): not a failed run every interval,
    but a lost sign-in: syncs pause, each admin is told once why, and `/login` brings syncing back."""
    from sandbox.partner_center.keys import FAULTS_KEY

    sync = world.services.sync
    await world.sign_in()
    world.simulator.app[FAULTS_KEY].unauthorized(None)
    run = await sync.run("schedule")
    assert run.status == "not_signed_in" and "HTTP 401" in (run.note or "")
    assert sync.paused and len(world.notices_to(ADMIN)) == 1
    assert "refused its token even freshly renewed" in world.notices_to(ADMIN)[0].text
    row = world.row()
    assert row is not None and row.state == "needs_login"

    calls = pc_calls(world)
    for _ in range(2):
        assert (await sync.run("schedule")).status == "not_signed_in"
    assert pc_calls(world) == calls and len(world.notices_to(ADMIN)) == 1

    world.simulator.app[FAULTS_KEY].clear()
    await world.sign_in()
    assert (await sync.run("schedule")).status == "success"
