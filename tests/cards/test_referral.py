from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cards.referral import referral_card, referral_list_card
from tests.cards.factories import NOW, PORTAL, actions_of, all_text, card_size, make_lead, make_referral

Check = Callable[[dict[str, Any]], None]
RID = "7d1c5c2e-3f7a-4a7e-9b1c-0e8f2b6a9d41"


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for el in card["body"] if el["type"] == "FactSet" for f in el["facts"]}


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["title"]: a for a in actions_of(card)}


def test_new_co_sell_referral_card(assert_valid_card: Check) -> None:
    card = referral_card(make_referral(), lead=make_lead(), portal_url=PORTAL, now=NOW)
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == "Co-sell"
    assert texts[1] == r"Contoso – Azure migration (phase 2)"
    facts = facts_of(card)
    assert facts["Customer"] == "Contoso Ltd"
    assert facts["Domain"] == r"contoso.com"
    assert facts["Deal value"] == "1,250,000 USD"
    assert facts["Country"] == "US"
    assert facts["Status"] == "New / Pending"
    assert facts["Created"] == "2026-11-20 07:50 UTC"
    assert facts["Expires"] == "3 days 4 hours left (2026-11-25 12:00 UTC)"
    assert facts["Lead"] == "score 72 · SMB"
    assert list(buttons(card)) == ["Accept", "Open Lead", "Open in Partner Center"]
    accept = buttons(card)["Accept"]
    assert accept == {
        "type": "Action.Execute",
        "title": "Accept",
        "verb": "accept",
        "data": {"referralId": RID},
    }
    assert buttons(card)["Open Lead"]["verb"] == "openLead"
    assert buttons(card)["Open Lead"]["data"] == {"referralId": RID}
    assert buttons(card)["Open in Partner Center"] == {
        "type": "Action.OpenUrl",
        "title": "Open in Partner Center",
        "url": "https://partner.microsoft.com/dashboard/referrals/v2/leads/" + RID,
    }


@pytest.mark.parametrize(("status", "substatus"), [("Active", "Accepted"), ("Closed", "Won"), ("Closed", "Expired")])
def test_accept_only_while_new(assert_valid_card: Check, status: str, substatus: str) -> None:
    card = referral_card(make_referral(status=status, substatus=substatus), lead=None, portal_url=PORTAL, now=NOW)
    assert_valid_card(card)
    assert "Accept" not in buttons(card)
    assert not [a for a in actions_of(card) if a.get("verb") == "accept"]
    assert facts_of(card)["Status"] == f"{status} / {substatus}"
    assert "Lead" not in facts_of(card)


def test_no_domain_says_so_and_has_no_open_lead(assert_valid_card: Check) -> None:
    card = referral_card(make_referral(customer_domain=None), lead=None, portal_url=PORTAL, now=NOW)
    assert_valid_card(card)
    assert facts_of(card)["Domain"] == "No customer domain found"
    assert "Open Lead" not in buttons(card)
    assert not [a for a in actions_of(card) if a.get("verb") == "openLead"]
    assert list(buttons(card)) == ["Accept", "Open in Partner Center"]


def test_accepting_shows_progress_and_no_accept(assert_valid_card: Check) -> None:
    card = referral_card(make_referral(), lead=None, portal_url=PORTAL, now=NOW, accepting=True)
    assert_valid_card(card)
    assert "Accepting…" in all_text(card)
    assert "Accept" not in buttons(card)


def test_accepted_by_and_note(assert_valid_card: Check) -> None:
    referral = make_referral(
        status="Active",
        substatus="Accepted",
        accepted_by_name="Ada *Lovelace*",
        accepted_in_teams_at=NOW - timedelta(minutes=5),
    )
    card = referral_card(referral, lead=None, portal_url=PORTAL, now=NOW, note="Already accepted by [Bob](http://evil)")
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == r"Already accepted by \[Bob\](http://evil)"
    assert r"Accepted by Ada \*Lovelace\* on 2026-11-22 07:45 UTC" in texts


def test_missing_values_and_expiry(assert_valid_card: Check) -> None:
    referral = make_referral(name=None, deal_value=None, currency=None, country=None, expires_at=None, notes=None)
    card = referral_card(referral, lead=None, portal_url="https://pc.example/leads", now=NOW)
    assert_valid_card(card)
    facts = facts_of(card)
    assert facts["Deal value"] == "—"
    assert facts["Country"] == "—"
    assert facts["Expires"] == "no expiry date"
    assert all_text(card)[1] == r"Referral 7d1c5c2e-3f7a-4a7e-9b1c-0e8f2b6a9d41"
    assert buttons(card)["Open in Partner Center"]["url"] == "https://pc.example/leads/" + RID
    expired = referral_card(make_referral(expires_at=NOW - timedelta(hours=1)), lead=None, portal_url=PORTAL, now=NOW)
    assert facts_of(expired)["Expires"].startswith("expired (")
    soon = referral_card(make_referral(expires_at=NOW + timedelta(hours=5)), lead=None, portal_url=PORTAL, now=NOW)
    assert facts_of(soon)["Expires"].startswith("expires in 5 hours")


def test_hostile_referral_text_is_escaped_and_capped(assert_valid_card: Check) -> None:
    evil = "[click](http://evil) **bold** <at>everyone</at> "
    referral = make_referral(
        name=evil * 50,
        customer_name=evil,
        customer_domain="evil_domain.com",
        notes=evil * 10_000,
        substatus="<at>x</at>",
    )
    card = referral_card(referral, lead=None, portal_url=PORTAL, now=NOW)
    assert_valid_card(card)
    blob = json.dumps(all_text(card))
    assert "[click](" not in blob
    assert "**bold**" not in blob
    assert "<at>" not in blob
    assert r"evil\\_domain.com" in blob  # JSON doubles the backslash
    assert card_size(card) < 10_000
    assert max(len(t) for t in all_text(card)) < 1500


def test_non_co_sell_badges(assert_valid_card: Check) -> None:
    for kind, label in [("marketplace", "Marketplace"), ("ms-lead", "MS lead"), ("other", "Other")]:
        card = referral_card(make_referral(kind=kind), lead=None, portal_url=PORTAL, now=NOW)
        assert_valid_card(card)
        assert all_text(card)[0] == label


def make_page(count: int, notes_len: int = 0) -> list[Any]:
    return [
        make_referral(
            id=f"{i:08d}-aaaa-4bbb-8ccc-{i:012d}",
            customer_name=f"Customer {i} " + "x" * notes_len,
            name="n" * notes_len,
            notes="<at>n</at>" * (notes_len // 10),
            invite_notes="i" * notes_len,
        )
        for i in range(count)
    ]


def test_list_card_rows_and_paging(assert_valid_card: Check) -> None:
    page = make_page(10)
    card = referral_list_card(page, kind="co-sell", status=None, page=2, total=35, page_size=10, now=NOW)
    assert_valid_card(card)
    assert all_text(card)[0] == "Co-sell referrals — open (35)"
    rows = [el for el in card["body"] if el["type"] == "Container"]
    assert len(rows) == 10
    first = rows[0]["selectAction"]
    assert first["verb"] == "showReferral"
    assert first["data"] == {"referralId": page[0].id}
    row_text = all_text(rows[0])
    assert "Co-sell" in row_text
    assert "Customer 0" in row_text
    assert any("1,250,000 USD" in t and "New / Pending" in t and r"00000000…" in t for t in row_text)
    paging = {a["title"]: a for a in card["actions"]}
    assert paging["Previous"] == {
        "type": "Action.Execute",
        "title": "Previous",
        "verb": "referralsPage",
        "data": {"kind": "co-sell", "status": None, "page": 1},
    }
    assert paging["Next"]["data"] == {"kind": "co-sell", "status": None, "page": 3}


def test_list_card_first_and_last_pages(assert_valid_card: Check) -> None:
    first = referral_list_card(make_page(10), kind="all", status="new", page=1, total=12, page_size=10, now=NOW)
    assert_valid_card(first)
    assert all_text(first)[0] == "All referrals — new (12)"
    assert [a["title"] for a in first["actions"]] == ["Next"]
    assert first["actions"][0]["data"] == {"kind": "all", "status": "new", "page": 2}
    last = referral_list_card(make_page(2), kind="ms-lead", status="closed", page=2, total=12, page_size=10, now=NOW)
    assert_valid_card(last)
    assert all_text(last)[0] == "MS lead referrals — closed (12)"
    assert [a["title"] for a in last["actions"]] == ["Previous"]
    only = referral_list_card(make_page(3), kind="marketplace", status=None, page=1, total=3, page_size=10, now=NOW)
    assert_valid_card(only)
    assert "actions" not in only


def test_empty_list_card(assert_valid_card: Check) -> None:
    card = referral_list_card([], kind="co-sell", status="active", page=1, total=0, page_size=10, now=NOW)
    assert_valid_card(card)
    assert all_text(card) == ["Co-sell referrals — active (0)", "No referrals match."]
    beyond = referral_list_card([], kind="co-sell", status=None, page=9, total=12, page_size=10, now=NOW)
    assert_valid_card(beyond)
    assert beyond["actions"][0]["data"]["page"] == 2


def test_list_card_stays_small_with_huge_texts(assert_valid_card: Check) -> None:
    """100 referrals with very long names and notes: one page of 10 rows, well under 80 KB."""
    referrals = make_page(100, notes_len=20_000)
    card = referral_list_card(referrals, kind="co-sell", status=None, page=1, total=100, page_size=10, now=NOW)
    assert_valid_card(card)
    assert len([el for el in card["body"] if el["type"] == "Container"]) == 10
    assert card_size(card) < 80_000
    single = referral_card(referrals[0], lead=make_lead(), portal_url=PORTAL, now=NOW)
    assert_valid_card(single)
