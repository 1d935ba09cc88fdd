"""The HTTP surface: health, readiness, bad input, invokes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import BotUnderTest, card_text


async def test_healthz_and_readyz(bot: BotUnderTest) -> None:
    assert (await bot.client.get("/healthz")).status == 200
    ready = await bot.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_not_json_is_a_clear_400_or_415(bot: BotUnderTest) -> None:
    bad = await bot.client.post("/api/messages", data="{nope", headers={"Content-Type": "application/json"})
    assert bad.status == 400 and "not valid JSON" in (await bad.json())["error"]
    plain = await bot.client.post("/api/messages", data="hello", headers={"Content-Type": "text/plain"})
    assert plain.status == 415
    untyped = await bot.client.post("/api/messages", json={"text": "help"})
    assert untyped.status == 400 and "'type'" in (await untyped.json())["error"]
    listed = await bot.client.post("/api/messages", json=[1, 2])
    assert listed.status == 400
    nested = "[" * 100_000 + "]" * 100_000  # deeper than the JSON parser recurses: was HTTP 500
    deep = await bot.client.post("/api/messages", data=nested, headers={"Content-Type": "application/json"})
    assert deep.status == 400 and "not valid JSON" in (await deep.json())["error"]


async def test_card_action_invoke_is_answered_200_with_a_card(bot: BotUnderTest) -> None:
    await bot.services.sync.run("manual")
    invoke = bot.teams.invoke(
        "referralsPage", {"kind": "co-sell", "status": None, "page": 1}, reply_to_id="1", where="personal"
    )
    response = await bot.post(invoke)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Northwind" in card_text(body["value"])


async def test_invalid_invokes_get_an_error_card(bot: BotUnderTest) -> None:
    for verb, data in [
        (None, {"referralId": "x"}),
        ("explode", {}),
        ("showReferral", "nope"),
        ("showReferral", {"referralId": "forged-id"}),
        ("referralsPage", {"page": -1}),
        ("referralsPage", {"kind": "all", "status": ["x"], "page": 1}),  # unhashable: was HTTP 501
        ("referralsPage", {"kind": {"a": 1}, "status": {"a": 1}, "page": 1}),
        ("referralsPage", {"kind": "all", "status": None, "page": 10**30}),  # beyond a database integer
        ("referralsPage", {"kind": "all", "status": None, "page": True}),
    ]:
        response = await bot.post(bot.teams.invoke(verb, data, reply_to_id="1"))
        assert response.status == 200
        body = await response.json()
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        assert "didn't work" in card_text(body["value"])


async def test_references_keep_the_tenant_id(bot: BotUnderTest) -> None:
    from storage.models import ConversationRef

    await bot.post(bot.teams.bot_added_to_team())
    row = await bot.services.db(lambda s: s.get(ConversationRef, "19:sales-channel@thread.tacv2"))
    assert row is not None and row.tenant_id == "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
    assert row.reference["conversation"]["tenantId"] == "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
    assert row.service_url == bot.connector.url
    assert "Hi team!" in bot.connector.texts()[-1]


async def test_a_new_service_url_is_stored_at_once_even_for_a_conversation_just_seen(bot: BotUnderTest) -> None:
    """References seen unchanged are not rewritten every turn, but a changed one is, on the very next turn."""
    from storage.models import ConversationRef
    from tests.fakes.activities import Teams
    from tests.fakes.connector import FakeConnector

    assert await bot.say("help")
    moved = await FakeConnector().start()
    try:
        replies_before = len(moved.sent)
        response = await bot.post(Teams(moved.url).message("help"))
        assert response.status in (200, 201)
        row = await bot.services.db(lambda s: s.get(ConversationRef, bot.teams.message("x")["conversation"]["id"]))
        assert row is not None and row.service_url == moved.url
        assert len(moved.sent) > replies_before  # and the answer went to the new address
    finally:
        await moved.close()


async def test_install_activities_arriving_together_store_one_reference(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from sqlmodel import delete, select

    from storage.models import ConversationRef

    for attempt in range(5):  # the race needs the two inserts to overlap; a few rounds make that likely
        await bot.services.db(lambda s, n=attempt: s.exec(delete(ConversationRef)))
        activities = [bot.teams.installation(), bot.teams.bot_added_to_team()] * 4
        responses = await asyncio.gather(*(bot.post(a) for a in activities))
        assert [r.status for r in responses] == [201] * len(activities)
    assert sum("Hi team!" in text for text in bot.connector.texts()) == 5 * 4  # every bot-added turn greeted
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error in a bot turn"]
    rows = await bot.services.db(lambda s: s.exec(select(ConversationRef)).all())
    assert [r.conversation_id for r in rows] == ["19:sales-channel@thread.tacv2"]


async def test_odd_page_numbers_get_the_usage_not_an_internal_error(bot: BotUnderTest) -> None:
    for text in ["referrals page ½", "referrals page 99999999999999999999999", "referrals page 0", "referrals page"]:
        replies = await bot.say(text)
        assert any("page number must be a whole number" in r for r in replies), (text, replies)


@pytest.mark.parametrize(
    "entity",
    [
        {"type": "mention", "mentioned": None, "text": "<at>Referral Radar</at>"},
        {"type": "mention", "text": "<at>Referral Radar</at>"},
        {"type": "mention", "mentioned": "bot", "text": "<at>Referral Radar</at>"},
        {"type": None},
    ],
)
async def test_malformed_mention_entities_do_not_break_the_command(bot: BotUnderTest, entity: dict[str, Any]) -> None:
    activity = bot.teams.message("<at>Referral Radar</at> help", where="channel")
    activity["entities"] = [entity]
    before = len(bot.connector.sent)
    response = await bot.post(activity)
    assert response.status in (200, 201)
    replies = bot.connector.sent[before:]
    assert len(replies) == 1 and replies[0].card is not None and "sync" in card_text(replies[0].card)


@pytest.mark.parametrize("part", ["team", "channel", "settings", "tenant"])
async def test_channel_data_parts_that_are_not_objects_do_not_break_a_command(bot: BotUnderTest, part: str) -> None:
    activity = bot.teams.message("help", where="channel")
    activity["channelData"][part] = "x"
    before = len(bot.connector.sent)
    response = await bot.post(activity)
    assert response.status in (200, 201)
    replies = bot.connector.sent[before:]
    assert len(replies) == 1 and replies[0].card is not None and "sync" in card_text(replies[0].card)
