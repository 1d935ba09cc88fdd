"""Every command through the real `/api/messages`, in personal chat, group chat and a channel."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from sandbox.partner_center.keys import FAULTS_KEY
from storage.models import SyncRun
from tests.bot.conftest import BotUnderTest, Simulator, card_text
from tests.fakes.activities import ADMIN, SELLER

WHERE = ["personal", "groupChat", "channel"]
CO_SELL_ID = "0b1f6f7e-4a7c-4d43-9a0e-2f4b8c6d1a01"


async def synced(bot: BotUnderTest) -> None:
    run = await bot.services.sync.run("manual")
    assert run.status == "success", run.error


@pytest.mark.parametrize("where", WHERE)
async def test_help_lists_every_command_from_the_registry(bot: BotUnderTest, where: str) -> None:
    replies = await bot.say("help", where=where)
    assert len(replies) == 1 and replies[0].startswith("card: ")
    for command in (
        "sync",
        "referrals [co-sell|marketplace|ms-lead|all]",
        "referral <id>",
        "lead <domain>",
        "leads",
        "status",
        "notify here",
        "/login",
        "/logout",
    ):
        assert command in replies[0]


@pytest.mark.parametrize("text", ["HELP", "  Help  ", "<at>Referral Radar</at> help"])
async def test_matching_is_case_insensitive_and_ignores_the_mention(bot: BotUnderTest, text: str) -> None:
    replies = await bot.say(text, mention=False)
    assert replies and "Sync referrals from Partner Center now" in replies[0]


@pytest.mark.parametrize("where", WHERE)
async def test_unknown_command_suggests_the_closest(bot: BotUnderTest, where: str) -> None:
    assert await bot.say("referals co-sell", where=where) == [
        "I don't know `referals co-sell`. Did you mean `referrals`? Type `help` to see every command."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "hello`[click](https://evil.example)`",
        "lead a`**b**`.com",
        "referral x`[x](https://evil.example)`",
        "referrals `[x](https://evil.example)`",
    ],
)
async def test_user_text_echoed_back_cannot_break_out_of_its_code_span(bot: BotUnderTest, text: str) -> None:
    """Replies quote what was typed in `…`; a backtick in it would end the span and the rest render as
    markdown (here: a link)."""
    (reply,) = await bot.say(text)
    assert reply.count("`") % 2 == 0 and "`[" not in reply and "`**" not in reply, reply
    assert "evil.example" not in reply or "'[" in reply


async def test_full_width_and_non_breaking_forms_read_as_the_command(bot: BotUnderTest) -> None:
    """An East Asian IME types full-width letters; a pasted command may carry non-breaking spaces."""
    [full_width] = await bot.say("\uff48\uff45\uff4c\uff50")  # full-width "help"
    [zero_width] = await bot.say("\u200bhe\u200dlp\ufeff")  # pasted with zero-width characters
    assert zero_width.startswith("card: ") and "sync" in zero_width
    [nbsp] = await bot.say("referrals\u00a0co-sell")
    assert full_width.startswith("card: ") and "sync" in full_width
    assert nbsp.startswith("card: Co-sell referrals")


async def test_empty_message_gets_a_hint(bot: BotUnderTest) -> None:
    assert await bot.say("", where="channel") == ["Hi! Type `help` to see what I can do."]


@pytest.mark.parametrize("where", WHERE)
async def test_referrals_lists_open_co_sell_after_a_sync(bot: BotUnderTest, where: str) -> None:
    await synced(bot)
    [reply] = await bot.say("referrals co-sell", where=where)
    assert "Northwind Traders" in reply  # the documented incoming co-sell example
    assert "Tailspin" not in reply  # a marketplace lead


async def test_a_long_list_counts_to_a_thousand_and_still_pages_on(bot: BotUnderTest) -> None:
    """Past COUNT_CAP matches the list says "1,000+" instead of counting every row on every request, and
    the Next button stays as long as there are more."""
    from datetime import timedelta

    from storage.queries import COUNT_CAP
    from storage.sync_repo import insert_referrals
    from storage.types import utcnow

    now = utcnow()
    rows = [
        {
            "id": f"bulk-{i:05d}",
            "kind": "co-sell",
            "direction": "Incoming",
            "status": "New",
            "etag": "e",
            "customer_name": f"Bulk {i}",
            "created_at": now - timedelta(minutes=i),
            "raw": {},
            "first_seen_at": now,
            "last_synced_at": now,
        }
        for i in range(COUNT_CAP + 25)
    ]
    await bot.services.db(insert_referrals, rows)
    before = len(bot.connector.sent)
    [first] = await bot.say("referrals co-sell")
    assert "open (1,000+)" in first and "Page 1 of 100+" in first and "Bulk 0 " in first + " "
    card = bot.connector.sent[before].card
    assert [a["title"] for a in card["actions"]] == ["Next"]
    [far] = await bot.say("referrals co-sell page 102")
    assert "Bulk 1010" in far and "Bulk 1019" in far and "open (1,020+)" in far  # counted through this page
    [last] = await bot.say("referrals co-sell page 103")
    assert "open (1,025)" in last and "Page 103 of 103" in last and "Bulk 1024" in last


async def test_a_list_is_answered_while_a_writer_holds_the_database(bot: BotUnderTest) -> None:
    """Command reads run on the event loop on SQLite (`Services.read`): they must never wait for a writer,
    such as a sync page transaction. Here another connection holds the write lock until the answer is in."""
    import sqlite3
    import threading

    await synced(bot)
    await bot.say("help")  # the conversation's reference is stored: this turn writes nothing
    path = bot.services.engine.url.database
    assert path is not None
    answered, holding = threading.Event(), threading.Event()
    outcome: dict[str, bool] = {}

    def hold_the_write_lock() -> None:
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE referral SET status = status")
        holding.set()
        outcome["answered_while_held"] = answered.wait(timeout=20)
        writer.execute("COMMIT")
        writer.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert await asyncio.to_thread(holding.wait, 20)
    [reply] = await bot.say("referrals co-sell")
    answered.set()
    await asyncio.to_thread(holder.join, 30)
    assert "Northwind Traders" in reply and outcome == {"answered_while_held": True}


async def test_referrals_filters_by_kind_status_and_page(bot: BotUnderTest) -> None:
    await synced(bot)
    [marketplace] = await bot.say("referrals marketplace new")
    assert "Tailspin" in marketplace and "Northwind" not in marketplace
    [closed] = await bot.say("referrals all closed")
    assert "No referrals match" in closed
    [page] = await bot.say("referrals page 2")
    assert "card: " in page


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("referrals co-sel", "I didn't understand `co-sel`."),
        ("referrals page", "The page number must be a whole number of 1 or more."),
        ("referrals page zero", "The page number must be a whole number of 1 or more."),
        ("referral", "Tell me which referral: `referral ID`, with the id from its card or from `referrals`."),
        ("lead", "Tell me which customer domain: `lead contoso.com`."),
        ("lead not a domain", "Tell me which customer domain: `lead contoso.com`."),
        ("lead ???", "`???` doesn't look like a domain."),
        ("leads everything", "`leads` takes no arguments."),
    ],
)
async def test_wrong_arguments_get_the_expected_form(bot: BotUnderTest, text: str, expected: str) -> None:
    [reply] = await bot.say(text)
    assert reply.startswith(expected)
    assert "Usage: `" in reply


@pytest.mark.parametrize("where", WHERE)
async def test_referral_by_id(bot: BotUnderTest, where: str) -> None:
    await synced(bot)
    [card] = await bot.say(f"referral {CO_SELL_ID}", where=where)
    assert "Northwind Traders Ltd" in card and "northwindtraders.co.uk" in card and "Accept" in card
    assert await bot.say("referral nope-123") == [
        "I have no referral with id `nope-123`. Try `referrals` to list them."
    ]


@pytest.mark.parametrize("where", WHERE)
async def test_lead_by_domain_in_any_spelling(bot: BotUnderTest, where: str) -> None:
    await synced(bot)
    for spelling in (
        "northwindtraders.co.uk",
        "NorthwindTraders.CO.UK",
        "it@mail.northwindtraders.co.uk",
        "https://www.northwindtraders.co.uk/about",
    ):
        [card] = await bot.say(f"lead {spelling}", where=where)
        assert "northwindtraders.co.uk" in card and "Northwind Traders" in card
    assert await bot.say("lead example.org") == [
        "I have no lead for `example.org` yet. Leads come from referrals with a customer email domain."
    ]


async def test_html_entities_in_the_text_are_read_as_the_characters(bot: BotUnderTest) -> None:
    """Teams sends a typed `"` or `&` HTML-encoded in the message text."""
    await synced(bot)
    [reply] = await bot.say("lead &quot;northwindtraders.co.uk&quot;")
    assert reply.startswith("card: ") and "northwindtraders.co.uk" in reply


@pytest.mark.parametrize("where", WHERE)
async def test_leads_shows_top_leads_with_their_kind(bot: BotUnderTest, where: str) -> None:
    [empty] = await bot.say("leads", where=where)
    assert "No leads yet" in empty
    await synced(bot)
    [card] = await bot.say("leads", where=where)
    assert "northwindtraders.co.uk" in card and "Co-sell" in card


@pytest.mark.parametrize("where", WHERE)
async def test_status_reports_sync_and_channels(bot: BotUnderTest, where: str) -> None:
    [before] = await bot.say("status", where=where)
    assert "notify here" in before  # no sales channel yet
    await synced(bot)
    [after] = await bot.say("status", where=where)
    assert "static token" in after.lower()
    assert "Success" in after or "success" in after


async def test_sync_answers_at_once_then_posts_the_summary(bot: BotUnderTest) -> None:
    replies = await bot.say("sync", where="channel")
    assert replies[:2] == ["Sync started. I'll post the summary here when it ends.", "<typing>"]
    await bot.connector.wait_for(
        lambda c: any("Inserted" in card_text(x) or "inserted" in card_text(x) for x in c.cards())
    )
    summary = next(card_text(c) for c in bot.connector.cards())
    assert "Success" in summary or "success" in summary


async def test_second_sync_while_one_runs_joins_it(bot: BotUnderTest, simulator: Simulator) -> None:
    simulator.app[FAULTS_KEY].slow(1, delay=1.0)  # the first run is still fetching when the others arrive
    await asyncio.gather(bot.say("sync"), bot.say("sync", where="channel"), bot.say("sync", where="groupChat"))
    acks = sorted(t.split(" (")[0].split(" I'll")[0] for t in bot.connector.texts() if "ync" in t)
    assert acks == ["A sync is already running", "A sync is already running", "Sync started."], acks
    await bot.connector.wait_for(lambda c: len(c.cards()) >= 3)
    runs = await bot.services.db(lambda session: session.exec(select(SyncRun)).all())
    assert len(runs) == 1


@pytest.mark.parametrize("where", ["personal", "groupChat"])
async def test_notify_here_outside_a_channel_explains(bot: BotUnderTest, where: str) -> None:
    assert await bot.say("notify here", where=where, user=ADMIN) == [
        "`notify here` works in a team channel: run it in the channel that should get the cards."
    ]


async def test_notify_here_is_refused_for_non_admins_and_logged(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    assert await bot.say("notify here", where="channel", user=SELLER) == [
        "Sorry, `notify here` is for admins only. Ask one of your bot admins to run it."
    ]
    assert any(
        r.getMessage() == "admin command refused" and getattr(r, "aad_object_id", None) == SELLER["aadObjectId"]
        for r in caplog.records
    )


async def test_notify_here_by_an_admin_makes_the_sales_channel(bot: BotUnderTest) -> None:
    assert await bot.say("notify here", where="channel", user=ADMIN) == [
        "Done: new co-sell referral cards will be posted in this channel."
    ]
    assert await bot.say("notify here", where="channel", user=ADMIN) == [
        "This channel already gets the new co-sell referral cards."
    ]
    [status] = await bot.say("status")
    assert "19:sales-channel@thread.tacv2" in status or "Sales" in status


async def test_login_is_admin_only(bot: BotUnderTest) -> None:
    [reply] = await bot.say("/login", user=SELLER)
    assert reply == "Sorry, `/login` is for admins only. Ask one of your bot admins to run it."
    [channel] = await bot.say("/login", where="channel", user=ADMIN)
    assert "only works in a personal chat" in channel


@pytest.mark.parametrize("text", ["lead", "lead a b", "referral", "referral a b", "leads x", "referrals x"])
async def test_usage_in_a_text_reply_has_no_angle_brackets(bot: BotUnderTest, text: str) -> None:
    """Chat clients read `<id>` in a text message as an HTML tag and drop it, even inside a code span."""
    [reply] = await bot.say(text)
    assert "<" not in reply and ">" not in reply, reply
    if text.startswith("lead "):
        assert reply.endswith("Usage: `lead DOMAIN`")
