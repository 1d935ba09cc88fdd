"""The HTTP surface: health, readiness, bad input, invokes."""

from __future__ import annotations

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
