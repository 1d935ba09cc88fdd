"""Accept on a referral card: If-Match, the 412 re-read, already accepted / closed, Partner Center errors, slow PC."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bot.accept
from bot.accept import ACCEPT_OPS
from sandbox.partner_center.keys import CONFIG_KEY
from tests.fakes.activities import ADMIN
from tests.notify.conftest import Harness, card_text, co_sell


def verbs(card: dict[str, Any]) -> list[str]:
    return [a.get("verb") or a.get("title") for a in card.get("actions", [])]


async def posted(h: Harness, count: int = 1) -> list[tuple[str, str]]:
    """`count` new co-sell referrals synced and posted: (referral id, root message id)."""
    referrals = [co_sell() for _ in range(count)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    return [(r["id"], h.card_of(r["id"]).activity_id) for r in referrals]


async def test_stale_etag_still_new_one_412_then_retry_succeeds(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    old_etag = h.referral(rid).etag
    h.store.update(rid, {"details": {"notes": "Customer called again"}})  # new eTag in PC, still New
    fresh_etag = h.store.get(rid)["eTag"]  # type: ignore[index]
    assert fresh_etag != old_etag

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    patches = h.pc_requests("PATCH", rid)
    assert [(p["status"], p["headers"]["If-Match"]) for p in patches] == [(412, old_etag), (200, fresh_etag)]
    assert all(p["json"] == ACCEPT_OPS for p in patches)
    assert len(h.pc_requests("GET", rid)) == 1
    assert "Accepted by Sam Seller" in card_text(card)
    assert h.store.get(rid)["substatus"] == "Accepted"  # type: ignore[index]
    assert [a.outcome for a in h.audits()] == ["accepted"]
    await h.settle()
    assert "Accepted by Sam Seller" in card_text(h.updates(root)[-1].card or {})


async def test_stale_etag_answered_409_is_handled_like_412(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.simulator.app[CONFIG_KEY].stale_etag_status = 409
    [(rid, root)] = await posted(h)
    h.store.update(rid, {"details": {"notes": "Customer called again"}})

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    assert [p["status"] for p in h.pc_requests("PATCH", rid)] == [409, 200]
    assert "Accepted by Sam Seller" in card_text(card)
    assert [a.outcome for a in h.audits()] == ["accepted"]


async def test_accept_applied_but_its_answer_lost_still_records_who_accepted(sqlite_harness: Harness) -> None:
    """Partner Center carries the PATCH out but a gateway answers 503; the retry's 412 is our own change."""
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    h.faults.lost_answer(1, status=503, method="PATCH")

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)
    if "Accepting…" in card_text(card):
        await h.connector.wait_for(lambda c: any("Accepted by" in card_text(u.card or {}) for u in h.updates(root)))
        card = h.updates(root)[-1].card or {}

    assert [p["status"] for p in h.pc_requests("PATCH", rid)] == [503, 412]
    assert "Accepted by Sam Seller" in card_text(card)
    stored = h.referral(rid)
    assert (stored.substatus, stored.accepted_by_name) == ("Accepted", "Sam Seller")
    assert stored.accepted_by_aad_id is not None
    assert [a.outcome for a in h.audits()] == ["accepted"]


async def test_stale_and_accepted_elsewhere_sends_no_second_patch(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    h.store.update(rid, {"status": "Active", "substatus": "Accepted", "acceptedDateTime": "2026-11-22T08:00:00Z"})

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    assert [p["status"] for p in h.pc_requests("PATCH", rid)] == [412]
    assert "Already accepted in Partner Center" in card_text(card)
    assert "accept" not in verbs(card) and "Active / Accepted" in card_text(card)
    stored = h.referral(rid)
    assert (stored.status, stored.substatus, stored.accepted_by_name) == ("Active", "Accepted", None)
    assert stored.etag == h.store.get(rid)["eTag"]  # type: ignore[index]
    assert [a.outcome for a in h.audits()] == ["already_accepted"]
    # every posted copy is edited to show the referral is accepted
    await h.connector.wait_for(lambda c: bool(h.updates(root)))
    await h.settle()
    assert "Active / Accepted" in card_text(h.updates(root)[-1].card or {})
    assert "accept" not in verbs(h.updates(root)[-1].card or {})


async def test_closed_referral_is_not_patched(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    [(synced, synced_root), (stale, stale_root)] = await posted(h, 2)
    h.store.update(synced, {"status": "Closed", "substatus": "Declined"})
    await h.sync()
    await h.settle()
    h.store.update(stale, {"status": "Closed", "substatus": "Expired"})  # not synced yet: stored New, stale eTag

    locally_closed = await h.press("accept", {"referralId": synced}, reply_to_id=synced_root)
    found_closed = await h.press("accept", {"referralId": stale}, reply_to_id=stale_root)

    assert h.pc_requests("PATCH", synced) == []
    assert [p["status"] for p in h.pc_requests("PATCH", stale)] == [412]
    assert "This referral is closed (Declined)" in card_text(locally_closed)
    assert "This referral is closed (Expired)" in card_text(found_closed)
    assert "accept" not in verbs(locally_closed) + verbs(found_closed)
    assert h.store.get(synced)["status"] == "Closed" and h.store.get(stale)["substatus"] == "Expired"  # type: ignore[index]
    assert h.referral(stale).status == "Closed"
    assert [a.outcome for a in h.audits()] == ["closed", "closed"]


@pytest.mark.parametrize(
    ("status", "note"),
    [(401, "Partner Center refused the bot's sign-in"), (503, "Partner Center isn't answering")],
)
async def test_partner_center_errors_change_nothing(sqlite_harness: Harness, status: int, note: str) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    before = h.referral(rid)
    if status == 401:
        h.simulator.tokens.clear()
    else:
        h.faults.server_error(None, status=status, retry_after=0.01, method="PATCH")
    outbox_before = len(h.outbox())

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)
    if "Accepting…" in card_text(card):  # PC's retries took longer than the invoke may wait: edit follows
        await h.connector.wait_for(lambda c: any(note in card_text(u.card or {}) for u in h.updates(root)))
        card = h.updates(root)[-1].card or {}

    assert note in card_text(card)
    assert "accept" in verbs(card)  # still New: the button stays
    after = h.referral(rid)
    assert (after.status, after.etag, after.accepted_by_name) == (before.status, before.etag, None)
    assert h.store.get(rid)["status"] == "New"  # type: ignore[index]
    assert all(p["status"] == status for p in h.pc_requests("PATCH", rid))
    assert len(h.outbox()) == outbox_before
    assert [a.outcome for a in h.audits()] == ["error"]
    assert str(status) in (h.audits()[0].detail or "")


async def test_403_on_accept_says_the_account_lacks_permission_not_to_sign_in(sqlite_harness: Harness) -> None:
    """Signed in, but the account may not accept (role or deal scope): /login would not help, so it isn't advised;
    a 401 (the sign-in itself refused) still advises it."""
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    h.faults.forbidden(1, method="PATCH")

    forbidden = await h.press("accept", {"referralId": rid}, reply_to_id=root)
    h.simulator.tokens.clear()
    refused = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    statuses = [p["status"] for p in h.pc_requests("PATCH", rid)]
    assert statuses[0] == 403 and set(statuses[1:]) == {401}  # 403 is not retried; a 401 once, with a new token
    assert "isn't allowed to accept" in card_text(forbidden) and "/login" not in card_text(forbidden)
    assert "`/login`" in card_text(refused) and "isn't allowed" not in card_text(refused)
    assert "accept" in verbs(forbidden) and h.referral(rid).status == "New"
    assert [(a.outcome, (a.detail or "").split(":")[0]) for a in h.audits()] == [
        ("error", "UpstreamAuthError 403"),
        ("error", "UpstreamAuthError 401"),
    ]


async def test_slow_partner_center_answers_accepting_then_edits_the_card(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_harness
    monkeypatch.setattr(bot.accept, "SLOW_SECONDS", 0.3)
    [(rid, root)] = await posted(h)
    h.faults.slow(1, delay=1.5, method="PATCH")

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    assert "Accepting…" in card_text(card) and "accept" not in verbs(card)
    assert h.referral(rid).status == "New"  # not done yet
    await h.connector.wait_for(
        lambda c: any("Accepted by Sam Seller" in card_text(u.card or {}) for u in h.updates(root))
    )
    await h.settle()
    assert h.referral(rid).accepted_by_name == "Sam Seller"
    assert len(h.pc_requests("PATCH", rid)) == 1
    assert [a.outcome for a in h.audits()] == ["accepted"]


async def test_two_presses_at_once_patch_once(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    first, second = await asyncio.gather(
        h.press("accept", {"referralId": rid}, reply_to_id=root),
        h.press("accept", {"referralId": rid}, reply_to_id=root, user=ADMIN),
    )
    assert len(h.pc_requests("PATCH", rid)) == 1
    texts = card_text(first) + card_text(second)
    assert "Already accepted by" in texts
    assert sorted(a.outcome for a in h.audits()) == ["accepted", "already_accepted"]


FAIL_REFERRAL_WRITES = """
CREATE TRIGGER referral_writes_fail BEFORE UPDATE ON referral
BEGIN SELECT RAISE(ABORT, 'disk on fire'); END
"""


def break_referral_writes(h: Harness) -> None:
    """From now on the database refuses to change a referral (an unexpected failure, not a Partner Center one)."""
    with h.engine.begin() as conn:
        conn.exec_driver_sql(FAIL_REFERRAL_WRITES)


async def test_forged_and_unknown_referral_ids_are_audited_and_change_nothing(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    presses: list[Any] = [{"referralId": "no-such-referral"}, {"referralId": 42}, {"referralId": "x" * 500}, {}, "junk"]

    cards = [await h.press("accept", data, reply_to_id=root) for data in presses]

    assert all("That button didn't work" in card_text(card) for card in cards)
    assert h.pc_requests("PATCH") == []
    assert h.referral(rid).status == "New"
    audits = h.audits()
    assert [a.outcome for a in audits] == ["invalid"] * len(presses)
    assert [a.referral_id for a in audits] == ["no-such-referral", "42", "x" * 64, "", ""]
    assert all(a.user_name == "Sam Seller" and a.detail for a in audits)


async def test_an_unexpected_failure_is_audited_and_the_presser_sees_the_card_as_stored(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    [(rid, root)] = await posted(h)
    break_referral_writes(h)

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)

    assert "Accept didn't finish" in card_text(card) and "accept" in verbs(card)
    [audit] = h.audits()
    assert audit.outcome == "failed" and "disk on fire" in (audit.detail or "")


async def test_a_slow_accept_that_fails_never_leaves_the_card_on_accepting(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_harness
    monkeypatch.setattr(bot.accept, "SLOW_SECONDS", 0.3)
    [(rid, root)] = await posted(h)
    h.faults.slow(1, delay=1.0, method="PATCH")
    break_referral_writes(h)

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)
    assert "Accepting…" in card_text(card)
    await h.connector.wait_for(lambda c: bool(h.updates(root)))

    edited = h.updates(root)[-1].card or {}
    assert "Accept didn't finish" in card_text(edited) and "Accepting…" not in card_text(edited)
    assert "accept" in verbs(edited)  # stored as New: the button is back
    [audit] = h.audits()
    assert audit.outcome == "failed" and "disk on fire" in (audit.detail or "")


async def test_a_slow_accept_whose_edit_keeps_failing_is_left_to_the_dispatcher(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partner Center refuses (the card says so) and the Bot Connector refuses every direct edit: the dispatcher,
    which retries, puts the card back; it never stays on "Accepting…"."""
    h = sqlite_harness
    monkeypatch.setattr(bot.accept, "SLOW_SECONDS", 0.3)
    monkeypatch.setattr(bot.accept, "EDIT_BACKOFF", 0.01)
    [(rid, root)] = await posted(h)
    h.faults.slow(1, delay=1.0, method="PATCH")
    h.faults.forbidden(1, method="PATCH")
    h.connector.fail_next(503, bot.accept.EDIT_ATTEMPTS)

    card = await h.press("accept", {"referralId": rid}, reply_to_id=root)
    assert "Accepting…" in card_text(card)
    await h.connector.wait_for(lambda c: bool(h.updates(root)), timeout=30)

    edited = h.updates(root)[-1].card or {}
    assert "Accepting…" not in card_text(edited) and "accept" in verbs(edited)
    assert h.connector.failed == bot.accept.EDIT_ATTEMPTS
    assert [a.outcome for a in h.audits()] == ["error"]
