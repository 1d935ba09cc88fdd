"""Open Lead (with a way back and a Partner Center link) and invalid invoke payloads (they change nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from bot import messages
from storage.models import Referral
from tests.notify.conftest import Harness, card_text, co_sell


async def posted_one(h: Harness) -> tuple[str, str]:
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    return referral["id"], h.card_of(referral["id"]).activity_id


async def test_open_lead_offers_the_way_back_and_partner_center(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    rid, root = await posted_one(h)
    referral = h.referral(rid)
    assert referral.customer_domain and referral.lead_id is not None

    lead = await h.press("openLead", {"referralId": rid}, reply_to_id=root)

    assert referral.customer_domain in card_text(lead)
    actions = lead["actions"]
    back = [a for a in actions if a.get("verb") == "showReferral"]
    assert back and back[0]["data"] == {"referralId": rid} and back[0]["type"] == "Action.Execute"
    links = [a for a in actions if a["type"] == "Action.OpenUrl"]
    assert links and links[0]["url"].endswith("/" + rid)
    assert links[0]["url"].startswith(h.services.settings.partner_center_portal_url)

    again = await h.press("showReferral", {"referralId": rid}, reply_to_id=root)
    assert rid in card_text(again) and "Accept" in card_text(again)
    assert h.pc_requests("PATCH") == []


def snapshot(h: Harness) -> Any:
    referrals = h.query(
        lambda s: [
            (r.id, r.status, r.substatus, r.etag, r.accepted_by_name, r.last_synced_at)
            for r in s.exec(select(Referral))
        ]
    )
    return (
        sorted(referrals),
        [(o.id, o.event, o.done_at) for o in h.outbox()],
        [(p.id, p.card_hash) for p in h.posted()],
    )


@pytest.mark.parametrize(
    ("verb", "data"),
    [
        (None, "REFERRAL"),  # no verb
        ("accept", None),  # no data
        ("accept", "REFERRAL"),  # data not an object
        ("accept", ["REFERRAL"]),
        ("deleteEverything", {"referralId": "REFERRAL"}),  # unknown verb
        ("accept", {}),  # no referral id
        ("accept", {"referralId": 42}),
        ("accept", {"referralId": "no-such-referral"}),  # unknown id
        ("accept", {"referralId": "x" * 500}),  # forged: far too long
        ("accept", {"referralId": "REFERRAL' OR '1'='1"}),  # forged: injection attempt
        ("openLead", {"referralId": "no-such-referral"}),
        ("showReferral", {"referralId": None}),
    ],
)
async def test_invalid_payloads_get_an_error_card_and_change_nothing(
    sqlite_harness: Harness, verb: str | None, data: Any
) -> None:
    h = sqlite_harness
    rid, root = await posted_one(h)
    if data == "REFERRAL":
        data = {"referralId": rid} if verb is None else rid
    elif isinstance(data, list):
        data = [rid]
    elif isinstance(data, dict) and isinstance(data.get("referralId"), str):
        data = {"referralId": data["referralId"].replace("REFERRAL", rid)}
    before = snapshot(h)
    sent_before = len(h.connector.sent)

    card = await h.press(verb, data, reply_to_id=root)

    assert messages.ACTION_INVALID_TITLE in card_text(card)
    assert h.pc_requests("PATCH") == [] and h.pc_requests("GET", rid) == []
    assert snapshot(h) == before
    assert len(h.connector.sent) == sent_before  # no edit, no post
    assert h.store.get(rid)["status"] == "New"  # type: ignore[index]
    # every press of Accept is audited, a forged one too; nothing else is
    assert [a.outcome for a in h.audits()] == (["invalid"] if verb == "accept" else [])
