"""The lost-sign-in notice through the real bot app: each admin is told once, also when the first try fails
or the admin only gets a personal chat with the bot later."""

from __future__ import annotations

import pytest

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
