"""Conversation references as the dispatcher uses them: removed on uninstall, refreshed by any incoming activity."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from storage.models import ConversationRef
from tests.fakes.activities import SELLER, Teams
from tests.fakes.connector import FakeConnector
from tests.notify.conftest import Harness, card_text, co_sell


def references(h: Harness) -> list[str]:
    return h.query(lambda s: [r.conversation_id for r in s.exec(select(ConversationRef))])


def bot_removed_from_team(teams: Teams) -> dict[str, Any]:
    activity = teams.bot_added_to_team()
    activity["membersRemoved"] = activity.pop("membersAdded")
    activity["channelData"]["eventType"] = "teamMemberRemoved"
    return activity


async def status_text(h: Harness) -> str:
    before = len(h.connector.sent)
    await h.post(h.teams.message("status", user=SELLER))
    await h.connector.wait_for(lambda c: len(c.sent) > before)
    return card_text(h.connector.sent[-1].card or {})


@pytest.mark.parametrize("how", ["installationUpdate remove", "conversationUpdate membersRemoved"])
async def test_uninstall_forgets_the_sales_channel_and_new_cards_wait_for_a_new_one(
    sqlite_harness: Harness, how: str
) -> None:
    h = sqlite_harness
    first = co_sell()
    h.store.add(first)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    assert len(h.creates()) == 1

    removal = h.teams.installation("remove") if how.startswith("installation") else bot_removed_from_team(h.teams)
    await h.post(removal)
    assert references(h) == []
    assert "notify here" in await status_text(h)  # no sales channel any more

    second = co_sell()
    h.store.add(second)
    await h.sync()
    await h.passes(3)
    assert len(h.creates()) == 1  # nowhere to post: the card waits (pending), it is not lost
    assert [(r.referral_id, r.event) for r in h.pending()] == [(second["id"], "post")]

    await h.install()  # added back, and an admin names the channel again
    await h.settle()
    assert len(h.creates()) == 2 and h.card_of(second["id"])


async def test_the_dispatcher_uses_the_service_url_of_the_latest_activity_in_the_channel(
    sqlite_harness: Harness,
) -> None:
    """Teams moved the team to another Bot Connector region: any activity in the channel (here a button press)
    carries the new serviceUrl, and later posts and edits go there."""
    h = sqlite_harness
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    root = h.card_of(referral["id"]).activity_id
    moved = await FakeConnector().start()
    try:
        await h.post(Teams(moved.url).invoke("openLead", {"referralId": referral["id"]}, reply_to_id=root))
        h.store.update(referral["id"], {"status": "Closed", "substatus": "Won"})
        h.store.add(co_sell())
        await h.sync()
        await h.settle()
        assert sorted(s.op for s in moved.sent if s.op in ("create", "update")) == ["create", "update"]
        assert "Closed / Won" in card_text(moved.of("update")[0].card or {})
        assert len(h.creates()) == 1 and h.updates() == []  # nothing more went to the old address
    finally:
        await moved.close()
