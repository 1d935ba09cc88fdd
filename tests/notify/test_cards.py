"""New co-sell referral cards: posted once per channel, edited in place, never re-posted (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from bot.accept import ACCEPT_OPS
from tests.fakes.activities import SELLER
from tests.notify.conftest import CHANNEL_ID, Harness, card_text, co_sell


def verbs(card: dict[str, Any]) -> list[str]:
    return [a.get("verb") or a.get("title") for a in card.get("actions", [])]


async def test_main_flow_post_once_edit_in_place_accept(harness: Harness) -> None:
    new = [co_sell() for _ in range(3)]
    active = co_sell(status="Active", substatus="Accepted")
    others = [
        co_sell(type="Independent", qualification="Direct", inviteContext=None),  # marketplace
        co_sell(
            type="Independent",
            qualification="MarketingQualified",
            inviteContext={"invitedBy": {"organizationId": "msft", "organizationName": "Microsoft"}},
        ),
    ]
    harness.store.add_many([*new, active, *others])
    await harness.start()
    await harness.install()
    await harness.post(harness.teams.message("sync", where="channel"))
    await harness.connector.wait_for(lambda c: len(c.of("create")) >= 4)
    await harness.services.sync.wait()
    await harness.settle()

    # exactly one card per new incoming co-sell referral, in the sales channel, none for other kinds
    creates = harness.creates()
    assert sorted(c.conversation_id for c in creates) == [CHANNEL_ID] * 4
    for referral in [*new, active]:
        harness.card_of(referral["id"])
    for referral in others:
        assert not any(referral["id"] in card_text(c.card or {}) for c in creates)
    assert [harness.referral(r["id"]).kind for r in others] != ["co-sell", "co-sell"]
    assert len(harness.posted()) == 4
    # Accept only while New: the referral first seen as Active has none
    assert "accept" in verbs(harness.card_of(new[0]["id"]).card or {})
    assert "accept" not in verbs(harness.card_of(active["id"]).card or {})

    # a second sync posts nothing
    await harness.sync()
    await harness.settle()
    assert len(harness.creates()) == 4

    # closed in Partner Center → the next sync edits the same card, never re-posts
    closed = new[1]["id"]
    harness.store.update(closed, {"status": "Closed", "substatus": "Lost", "statusReason": "Customer chose another"})
    await harness.sync()
    await harness.connector.wait_for(lambda c: bool(harness.updates(harness.card_of(closed).activity_id)))
    await harness.settle()
    edit = harness.updates(harness.card_of(closed).activity_id)[-1]
    assert "Closed / Lost" in card_text(edit.card or {})
    assert "accept" not in verbs(edit.card or {})
    assert len(harness.creates()) == 4

    # Accept: one PATCH with the stored eTag, the card edited for everyone showing who accepted
    target = new[0]["id"]
    root = harness.card_of(target).activity_id
    etag = harness.referral(target).etag
    card = await harness.press("accept", {"referralId": target}, reply_to_id=root)
    assert "Accepted by Sam Seller" in card_text(card)
    assert "accept" not in verbs(card)
    patches = harness.pc_requests("PATCH", target)
    assert len(patches) == 1
    assert patches[0]["headers"]["If-Match"] == etag
    assert patches[0]["headers"]["Prefer"] == "return=representation"
    assert patches[0]["json"] == ACCEPT_OPS and patches[0]["status"] == 200
    assert harness.store.get(target)["status"] == "Active"  # type: ignore[index]
    stored = harness.referral(target)
    assert (stored.status, stored.substatus, stored.accepted_by_name) == ("Active", "Accepted", "Sam Seller")
    assert stored.accepted_by_aad_id == SELLER["aadObjectId"] and stored.accepted_in_teams_at is not None
    assert stored.etag == harness.store.get(target)["eTag"]  # type: ignore[index]
    await harness.settle()
    edits = harness.updates(root)
    assert edits and all(e.conversation_id.startswith(CHANNEL_ID) for e in edits)
    assert "Accepted by Sam Seller" in card_text(edits[-1].card or {})
    assert "accept" not in verbs(edits[-1].card or {})

    # a second Accept sends no PATCH and says who accepted
    again = await harness.press("accept", {"referralId": target}, reply_to_id=root)
    assert "Already accepted by Sam Seller" in card_text(again)
    assert len(harness.pc_requests("PATCH", target)) == 1
    assert [a.outcome for a in harness.audits()] == ["accepted", "already_accepted"]
    assert len(harness.creates()) == 4
