"""Delivery under stress: no sales channel yet, restarts, 429 storms, 5xx bursts, Teams' throttling, reminders."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bot.app import SERVICES, create_app
from sandbox.partner_center.store import format_timestamp
from tests.bot.conftest import bot_settings
from tests.fakes.activities import TEAM
from tests.fakes.connector import FakeConnector, Sent
from tests.notify.conftest import ADMIN, CHANNEL_ID, FAST, Harness, card_text, co_sell

UNLIMITED = ((1.0, 10_000),)


def assert_each_posted_once(h: Harness, referral_ids: list[str]) -> None:
    counts = Counter(rid for s in h.creates() for rid in referral_ids if rid in card_text(s.card or {}))
    assert [rid for rid in referral_ids if counts[rid] != 1] == [], "lost or duplicated cards"
    assert len(h.creates()) == len(referral_ids)
    assert sorted(p.referral_id for p in h.posted()) == sorted(referral_ids)
    assert len({s.activity_id for s in h.creates()}) == len(referral_ids)


async def test_posts_wait_for_a_sales_channel(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    referrals = [co_sell() for _ in range(3)]
    h.store.add_many(referrals)
    await h.start()
    await h.post(h.teams.bot_added_to_team())  # installed, but nobody said `notify here` yet
    await h.sync()
    await h.passes(3)
    assert h.creates() == []
    assert len(h.pending()) == 3  # kept, not lost

    await h.post(h.teams.message("notify here", where="channel", user=ADMIN))
    await h.settle()
    assert_each_posted_once(h, [r["id"] for r in referrals])


async def test_sales_channel_id_setting_is_used_on_install(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.settings_overrides["sales_channel_id"] = CHANNEL_ID
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.post(h.teams.bot_added_to_team())
    await h.sync()
    await h.settle()
    assert_each_posted_once(h, [referral["id"]])


async def test_sales_channel_id_is_learned_when_installed_through_another_channel(sqlite_harness: Harness) -> None:
    """Added to the team from General: the team's channel list says SALES_CHANNEL_ID is there."""
    h = sqlite_harness
    h.settings_overrides["sales_channel_id"] = CHANNEL_ID
    general = TEAM["id"]
    h.connector.team_channels[general] = [{"id": general, "name": "General"}, {"id": CHANNEL_ID, "name": "Sales"}]
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.post(h.teams.bot_added_to_team(general))
    await h.sync()
    await h.settle()
    assert_each_posted_once(h, [referral["id"]])
    assert h.card_of(referral["id"]).conversation_id == CHANNEL_ID


async def test_sales_channel_id_of_another_team_is_not_assumed(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.settings_overrides["sales_channel_id"] = CHANNEL_ID
    h.store.add(co_sell())
    await h.start()
    await h.post(h.teams.bot_added_to_team(TEAM["id"]))  # this team has only General
    await h.sync()
    await asyncio.sleep(0.5)
    assert h.creates() == [] and [r.event for r in h.pending()] == ["post"]


async def test_restart_between_sync_and_dispatch_loses_nothing(harness: Harness) -> None:
    h = harness
    await h.start()
    await h.install()
    await h.stop()
    referrals = [co_sell() for _ in range(30)]
    h.store.add_many(referrals)

    # the sync runs while no dispatcher is running (a bot app that is never started)
    offline = create_app(bot_settings(h.database_url, h.simulator.url))
    run = await offline[SERVICES].sync.run("manual")
    assert run.status == "success", run
    offline.freeze()
    await offline.cleanup()
    assert len(h.pending()) == 30 and h.creates() == []

    await h.start()  # a new bot process on the same database
    await h.settle()
    assert_each_posted_once(h, [r["id"] for r in referrals])
    await h.sync()
    await h.settle()
    assert len(h.creates()) == 30


async def test_restart_in_the_middle_of_dispatch_loses_and_duplicates_nothing(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.options = replace(FAST, limits=((1.0, 4),))  # slow enough to stop half-way
    referrals = [co_sell() for _ in range(24)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()
    await h.sync()
    await h.connector.wait_for(lambda c: len(c.of("create")) >= 6)
    await h.restart()
    assert len(h.creates()) < 24
    await h.settle(timeout=60)
    assert_each_posted_once(h, [r["id"] for r in referrals])


async def test_429_storms_and_5xx_bursts_over_220_cards(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.options = replace(FAST, limits=UNLIMITED)
    referrals = [co_sell() for _ in range(220)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()

    async def storms() -> None:
        bursts = [(429, 5), (503, 4), (502, 7), (429, 9), (504, 3), (412, 2), (500, 6)]
        for n, (status, count) in enumerate(bursts * 3):
            await h.connector.wait_for(partial(posted_at_least, 10 * (n + 1)), timeout=60)
            h.connector.fail_next(status, count, retry_after=0.05 if status == 429 else None)

    def posted_at_least(count: int, connector: FakeConnector) -> bool:
        return len(connector.of("create")) >= count

    storm = asyncio.create_task(storms())
    await h.sync()
    await h.settle(timeout=120)
    await storm
    assert h.connector.failed >= 100
    assert_each_posted_once(h, [r["id"] for r in referrals])
    assert any(row.attempts > 0 for row in h.outbox())  # some rows were put back and retried later
    assert all(row.done_at is not None for row in h.outbox())


async def test_teams_throttling_is_respected(sqlite_harness: Harness) -> None:
    """With Teams' real per-thread limits the throttling connector never has to say 429."""
    h = sqlite_harness
    h.connector.throttle = True
    referrals = [co_sell() for _ in range(20)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()
    await asyncio.sleep(2.1)  # the welcome and `notify here` replies count in the thread's 1 s and 2 s windows too
    await h.sync()
    await h.settle(timeout=60)
    assert_each_posted_once(h, [r["id"] for r in referrals])
    assert h.connector.failed == 0


async def test_throttled_by_teams_waits_for_retry_after(sqlite_harness: Harness) -> None:
    """A limiter looser than Teams' meets 429 Retry-After: 1 and still delivers every card once."""
    h = sqlite_harness
    h.connector.throttle = True
    h.options = replace(FAST, limits=UNLIMITED, inline_attempts=10)
    referrals = [co_sell() for _ in range(16)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle(timeout=60)
    assert h.connector.failed > 0
    assert_each_posted_once(h, [r["id"] for r in referrals])


async def test_edits_survive_failures_and_are_never_reposts(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    referrals = [co_sell() for _ in range(5)]
    h.store.add_many(referrals)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    for r in referrals:
        h.store.update(r["id"], {"status": "Closed", "substatus": "Won"})
    h.connector.fail_next(503, 12)
    await h.sync()
    await h.settle(timeout=60)
    for r in referrals:
        root = h.card_of(r["id"]).activity_id
        assert "Closed / Won" in card_text(h.updates(root)[-1].card or {})
    assert len(h.creates()) == 5


async def test_a_card_deleted_in_teams_is_given_up_not_retried_forever(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    h.store.update(referral["id"], {"status": "Closed", "substatus": "Lost"})
    h.connector.fail_next(404, 1)  # the message was deleted in Teams
    await h.sync()
    await h.settle()
    [row] = [r for r in h.outbox() if r.event == "update"]
    assert row.done_at is not None and row.attempts == 0
    assert h.connector.failed == 1 and h.updates() == []
    assert len(h.creates()) == 1  # never re-posted


async def test_a_channel_that_refuses_the_bot_does_not_hold_the_post_forever(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.start()
    await h.install()
    h.connector.fail_next(403, 1)  # e.g. the bot was removed from the team
    h.store.add(co_sell())
    await h.sync()
    await h.settle()
    assert h.connector.failed == 1 and h.creates() == [] and h.posted() == []
    assert all(r.done_at is not None for r in h.outbox())


async def test_one_reminder_per_card_before_expiry(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.settings_overrides["reminder_hours"] = 24
    soon = format_timestamp(datetime.now(UTC) + timedelta(hours=5))
    expiring = co_sell(expirationDateTime=soon)
    later = co_sell()  # 14 days
    accepted = co_sell(expirationDateTime=soon, status="Active", substatus="Accepted")
    h.store.add_many([expiring, later, accepted])
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    root = h.card_of(expiring["id"]).activity_id
    await h.connector.wait_for(lambda c: bool(c.of("reply")))
    await h.passes(5)
    await h.restart()
    await h.passes(3)

    replies = [s for s in h.connector.of("reply") if "expires in" in s.text]
    assert len(replies) == 1
    assert replies[0].conversation_id == f"{CHANNEL_ID};messageid={root}"
    assert "expires in 4 h" in replies[0].text and "not accepted yet" in replies[0].text
    [card] = h.posted(expiring["id"])
    assert card.reminder_sent_at is not None and h.referral(expiring["id"]).reminder_sent_at is not None
    assert h.posted(later["id"])[0].reminder_sent_at is None


async def test_two_sales_channels_get_one_card_each_and_both_are_edited(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    other = "19:second-sales@thread.tacv2"
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    notify = h.teams.message("notify here", where="channel", user=ADMIN)
    notify["conversation"]["id"] = f"{other};messageid=1759881599999"
    notify["channelData"].update(channel={"id": other}, teamsChannelId=other)
    await h.post(notify)
    await h.sync()
    await h.settle()
    assert sorted(s.conversation_id for s in h.creates()) == sorted([CHANNEL_ID, other])
    h.store.update(referral["id"], {"status": "Closed", "substatus": "Won"})
    await h.sync()
    await h.settle()
    edited = {(s.conversation_id, s.activity_id) for s in h.updates()}
    assert edited == {(s.conversation_id, s.activity_id) for s in h.creates()}
    assert len(h.creates()) == 2


async def test_retry_after_given_as_an_http_date_is_waited_for(sqlite_harness: Harness) -> None:
    """A 429 whose Retry-After is an HTTP-date: the connector sees nothing on that thread before the date."""
    h = sqlite_harness
    h.connector.strict_retry_after = True
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    h.connector.fail_next(429, retry_after=1, http_date=True)
    await h.sync()
    await h.settle()
    assert_each_posted_once(h, [referral["id"]])
    assert h.connector.early == 0  # no try came before the date
    assert h.connector.failed == 1


def expires_in(delta: timedelta) -> tuple[datetime, str]:
    """An expiry `delta` from now, at a whole second (Partner Center's precision), and its wire form."""
    when = (datetime.now(UTC) + delta).replace(microsecond=0)
    return when, format_timestamp(when)


def reminders(h: Harness) -> list[Sent]:
    return [s for s in h.connector.of("reply") if "expires in" in s.text]


def expiry_fact(card: dict[str, Any] | None) -> str:
    [facts] = [e for e in (card or {}).get("body", []) if e.get("type") == "FactSet"]
    return next(f["value"] for f in facts["facts"] if f["title"] == "Expires")


async def test_time_left_on_a_posted_card_is_kept_current_without_edit_storms(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    expires, wire = expires_in(timedelta(days=3, minutes=30))
    referral = co_sell(expirationDateTime=wire)
    h.store.add(referral)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    root = h.card_of(referral["id"]).activity_id
    assert expiry_fact(h.card_of(referral["id"]).card).startswith("3 days left")

    await h.passes(3)
    assert h.updates(root) == []  # the shown value has not changed yet
    h.services.now = lambda: expires - timedelta(days=2, hours=22, minutes=10)  # two hours later
    await h.passes(5)

    [edit] = h.updates(root)
    assert expiry_fact(edit.card).startswith("2 days 22 hours left")
    assert len(h.creates()) == 1 and reminders(h) == []


async def test_the_card_shows_the_reminders_time_left(sqlite_harness: Harness) -> None:
    """The reminder is posted when the card's check is not due: the card is still edited with it."""
    h = sqlite_harness
    h.options = replace(FAST, refresh_every=timedelta(days=365))
    expires, wire = expires_in(timedelta(days=2))
    referral = co_sell(expirationDateTime=wire)
    h.store.add(referral)
    await h.start()
    await h.install()
    await h.sync()
    await h.settle()
    root = h.card_of(referral["id"]).activity_id
    await h.passes(2)

    h.services.now = lambda: expires - timedelta(hours=5, minutes=30)
    await h.connector.wait_for(lambda c: bool(reminders(h)))
    await h.passes(2)

    [reminder] = reminders(h)
    assert "expires in 5 h 30 min" in reminder.text
    [edit] = h.updates(root)
    assert expiry_fact(edit.card).startswith("expires in 5 hours")


async def test_a_post_whose_answer_is_lost_is_posted_again_later_not_in_quick_retries(
    sqlite_harness: Harness,
) -> None:
    """The connector posts the card but the answer never comes back (Teams has no idempotency key, and its
    channel's messages cannot be listed): the card is posted again only after `ambiguous_delay`, so a troubled
    connector costs at most one duplicate per lost answer, not one per quick retry."""
    h = sqlite_harness
    h.options = replace(FAST, ambiguous_delay=timedelta(minutes=2))
    referral = co_sell()
    h.store.add(referral)
    await h.start()
    await h.install()
    h.connector.lose_answers = 100  # in trouble: every card is posted, no answer comes back

    await h.sync()
    await h.connector.wait_for(lambda c: bool(c.of("create")))
    await h.passes(5)
    assert len(h.creates()) == 1  # not re-posted while the connector is in trouble
    [row] = h.pending()
    assert (row.last_error or "").startswith("may have been posted") and h.posted() == []

    h.connector.lose_answers = 0  # the connector is fine again, and the row's time comes
    later = datetime.now(UTC) + timedelta(minutes=3)
    h.services.now = lambda: later
    await h.settle()
    assert len(h.creates()) == 2  # the one known, logged duplicate
    [posted] = h.posted()
    assert posted.activity_id == h.creates()[-1].activity_id
