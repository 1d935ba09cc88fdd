"""The bot in Microsoft 365 Agents Playground, as a person uses it: commands in the personal chat and the sales
channel, a new co-sell referral's card arriving by itself, Accept and Open Lead on it.

The run also refreshes the pictures in docs/screenshots/ (`./dev screenshots` runs just this module).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sandbox.partner_center import Customer, make_referral
from sandbox.playground import ADMIN_NAME
from tests.e2e.conftest import ChatPage, Stack
from tests.e2e.playground_page import THREAD, button

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# Pictures go to tests/artifacts/screenshots/; `./dev screenshots` sets E2E_SCREENSHOTS=docs to refresh the docs'.
SCREENSHOTS = ROOT / (
    "docs/screenshots" if os.environ.get("E2E_SCREENSHOTS") == "docs" else "tests/artifacts/screenshots"
)
SEEDED_DOMAIN = "northwindtraders.co.uk"  # a documented co-sell referral (New) in the simulator's seed
SEEDED_COMPANY = "Northwind Traders"
CARD_WAIT_MS = 45_000  # a scheduled sync (every 3 s here) plus a dispatcher pass


def new_co_sell(stack: Stack, company: str, domain: str) -> str:
    """Put a new incoming co-sell referral into the simulator, for a customer no other test uses.

    The stack (database, playground) is fresh for this module, so the customer's name is this run's own.
    """
    customer = Customer(company, domain, "US", "Seattle", "98052", "en-US", "USD")
    referral = make_referral("co-sell", customer=customer)
    stack.add_referral(referral)
    referral_id: str = referral["id"]
    return referral_id


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / name))


def buttons(card: Any) -> list[str]:
    return [b.get_attribute("aria-label") for b in card.locator(".ac-actionSet button").all()]


# -- personal chat ----------------------------------------------------------------------------------------


def test_help_in_personal_chat(chat: ChatPage) -> None:
    card = chat.say("help", expect="Commands")
    text = card.inner_text()
    for command in ("referrals", "lead", "leads", "status", "notify here", "/login"):
        assert command in text, f"help card lacks {command!r}:\n{text}"


def test_referrals_co_sell_in_personal_chat(chat: ChatPage) -> None:
    card = chat.say("referrals co-sell", expect=SEEDED_COMPANY)
    text = card.inner_text()
    assert "co-sell" in text.lower()
    assert "Tailspin Toys" not in text  # a marketplace referral: not in the co-sell list


def test_lead_in_personal_chat(chat: ChatPage) -> None:
    card = chat.say(f"lead {SEEDED_DOMAIN}", expect=SEEDED_COMPANY)
    assert SEEDED_DOMAIN in card.inner_text()
    unknown = chat.say("lead nobody-here.com", expect="no lead")
    assert "nobody-here.com" in unknown.inner_text()


def test_login_with_a_device_code(chat: ChatPage, stack: Stack) -> None:
    card = chat.say("/login", expect="Sign in to Partner Center")
    codes = stack.pending_sign_in_codes()
    assert len(codes) == 1, codes
    assert codes[0] in card.inner_text()  # the card shows the code the person types on the sign-in page
    assert "Open sign-in page" in buttons(card)

    stack.approve_sign_in(codes[0])
    done = chat.say_nothing(expect="Signed in to Partner Center as", timeout=30_000)
    assert "admin@contoso.example" in done.inner_text()


# -- the sales channel (every message @mentions the bot through the @ popup) ------------------------------


def test_commands_in_sales_channel(chat: ChatPage) -> None:
    chat.open_sales_channel()
    thread = chat.post("help", expect="Commands")
    assert "notify here" in thread.inner_text()
    thread = chat.post("referrals co-sell", expect=SEEDED_COMPANY)
    assert "Tailspin Toys" not in thread.inner_text()
    thread = chat.post(f"lead {SEEDED_DOMAIN}", expect="Why this score")
    assert SEEDED_COMPANY in thread.inner_text()


# -- a new co-sell referral: its card arrives by itself; Accept; Open Lead -------------------------------


def test_new_co_sell_card_arrives_and_accept_changes_it(chat: ChatPage, stack: Stack) -> None:
    chat.open_sales_channel()
    company, domain = "Zephyr Robotics", "zephyrrobotics.com"
    referral_id = new_co_sell(stack, company, domain)

    thread = chat.thread(company)
    # nobody typed anything: the scheduled sync and the dispatcher posted it
    thread.wait_for(timeout=CARD_WAIT_MS)
    card = thread.locator(".ac-adaptiveCard").first
    text = card.inner_text()
    assert domain in text and "New" in text
    assert {"Accept", "Open Lead"} <= set(buttons(card)), buttons(card)
    shot(thread, "referral-card.png")
    shot(chat.page, "sales-channel.png")

    response = chat.press(thread, "Accept")
    assert response.status == 200, response.text()
    thread.locator(".ac-adaptiveCard").filter(has_text=f"Accepted by {ADMIN_NAME}").first.wait_for()
    card = thread.locator(".ac-adaptiveCard").first
    assert card.locator(button("Accept")).count() == 0, "Accept is still offered after accepting"
    assert "Open Lead" in buttons(card)
    shot(thread, "accepted-card.png")

    accepted = stack.referral(referral_id)  # Partner Center itself moved on
    assert (accepted["status"], accepted["substatus"]) == ("Active", "Accepted")


def test_open_lead_shows_the_lead_card(chat: ChatPage, stack: Stack) -> None:
    chat.open_sales_channel()
    company, domain = "Aurora Wind Power", "aurorawindpower.com"
    new_co_sell(stack, company, domain)
    thread = chat.thread(company)
    thread.wait_for(timeout=CARD_WAIT_MS)

    response = chat.press(thread, "Open Lead")
    assert response.status == 200, response.text()
    lead = thread.locator(".ac-adaptiveCard").filter(has_text="Why this score").first
    lead.wait_for()
    text = lead.inner_text()
    assert company in text and domain in text
    assert "co-sell" in text.lower()
    shot(thread, "lead-card.png")


def test_card_is_edited_in_place_when_partner_center_changes(chat: ChatPage, stack: Stack) -> None:
    chat.open_sales_channel()
    company, domain = "Borealis Mining", "borealismining.com"
    referral_id = new_co_sell(stack, company, domain)
    thread = chat.thread(company)
    thread.wait_for(timeout=CARD_WAIT_MS)
    assert "Accept" in buttons(thread.locator(".ac-adaptiveCard").first)

    stack.change_referral(referral_id, {"status": "Closed", "substatus": "Lost"})  # closed in Partner Center

    card = thread.locator(".ac-adaptiveCard").filter(has_text="Closed / Lost").first
    card.wait_for(timeout=CARD_WAIT_MS)  # the next sync saw it; the dispatcher edited the posted card
    assert "Accept" not in buttons(card)
    assert chat.page.locator(THREAD).filter(has_text=company).count() == 1  # edited, not posted again
