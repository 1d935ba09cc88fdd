from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cards.lead import lead_card, leads_card
from tests.cards.factories import actions_of, all_text, card_size, make_lead, make_referral, make_scan

Check = Callable[[dict[str, Any]], None]


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for el in card["body"] if el["type"] == "FactSet" for f in el["facts"]}


def test_lead_card_with_scan_and_referrals(assert_valid_card: Check) -> None:
    referrals = [
        make_referral(),
        make_referral(id="r-2", kind="marketplace", status="Active", deal_value=None),
    ]
    card = lead_card(make_lead(), scan=make_scan(), referrals=referrals)
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == "Contoso Ltd"
    facts = facts_of(card)
    assert facts["Domain"] == r"contoso.com"
    assert facts["Segment"] == "SMB"
    assert facts["Score"] == "72"
    assert r"• Mail on Microsoft 365 (+30)" in texts
    assert facts["Provider"] == "Microsoft 365"
    assert facts["MX"] == r"contoso-com.mail.protection.outlook.com"
    assert facts["SPF"].startswith(r"v=spf1 include:spf.protection")
    assert facts["DMARC"].startswith("v=DMARC1; p=reject")
    assert facts["Scanned"] == "2026-11-22 02:50 UTC"
    assert "Referrals (2)" in texts
    assert "Marketplace" in texts and "Co-sell" in texts
    assert "Active · —" in texts
    assert [a["verb"] for a in actions_of(card)] == ["showReferral", "showReferral"]
    assert "actions" not in card


def test_lead_card_not_scanned_no_referrals_and_back_button(assert_valid_card: Check) -> None:
    lead = make_lead(company=None, score_reasons=[], segment="Unknown")
    card = lead_card(lead, scan=None, referrals=[], back_referral_id="ref-1")
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == r"contoso.com"
    assert "Not scanned yet." in texts
    assert "No linked referrals." in texts
    assert card["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Back to referral",
            "verb": "showReferral",
            "data": {"referralId": "ref-1"},
        }
    ]


def test_provider_labels(assert_valid_card: Check) -> None:
    expected = {
        "google": "Google Workspace",
        "other": "Another mail provider",
        "none": "No mail servers (no MX)",
    }
    for provider, label in expected.items():
        card = lead_card(make_lead(), scan=make_scan(provider=provider, mx_hosts=[], spf=None), referrals=[])
        assert_valid_card(card)
        assert facts_of(card)["Provider"] == label
        assert facts_of(card)["MX"] == "none"
        assert facts_of(card)["SPF"] == "none"
    failed = lead_card(make_lead(), scan=make_scan(error="SERVFAIL from 10.0.0.53"), referrals=[])
    assert facts_of(failed)["Scan problem"] == r"SERVFAIL from 10.0.0.53"


def test_lead_with_1000_referrals_stays_small(assert_valid_card: Check) -> None:
    referrals = [
        make_referral(id=f"ref-{i}", name="<at>x</at>" * 500, notes="n" * 50_000, customer_name="c" * 5000)
        for i in range(1000)
    ]
    lead = make_lead(company="[Big](http://evil) " * 100, score_reasons=["**why**"] * 300)
    scan = make_scan(mx_hosts=[f"mx{i}.contoso.com" for i in range(500)], spf="v=spf1 " + "a " * 5000)
    card = lead_card(lead, scan=scan, referrals=referrals, back_referral_id="ref-1")
    assert_valid_card(card)
    texts = all_text(card)
    assert "Referrals (1000)" in texts
    assert "and 980 more" in texts
    assert "and 280 more" in texts
    assert len([a for a in actions_of(card) if a["verb"] == "showReferral"]) == 21
    assert card_size(card) < 80_000
    blob = json.dumps(texts)
    assert "<at>" not in blob and "**why**" not in blob and "[Big](" not in blob


def test_leads_card(assert_valid_card: Check) -> None:
    rows = [
        (
            make_lead(id=2, domain="fabrikam.com", company="Fabrikam", score=40, segment="Enterprise"),
            "ms-lead",
        ),
        (make_lead(), "co-sell"),
        (make_lead(id=3, domain="tailspin.io", company=None, score=10, segment="Unknown"), None),
    ]
    card = leads_card(rows)
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[0] == "Top leads (3)"
    rows_out = [all_text(el) for el in card["body"] if el["type"] == "ColumnSet"]
    assert rows_out[0] == ["72", "Contoso Ltd", r"contoso.com · SMB", "Co-sell"]
    assert rows_out[1] == ["40", "Fabrikam", r"fabrikam.com · Enterprise", "MS lead"]
    assert rows_out[2] == ["10", r"tailspin.io", "Unknown", "no referral"]


def test_leads_card_empty_and_large(assert_valid_card: Check) -> None:
    empty = leads_card([])
    assert_valid_card(empty)
    assert "No leads yet." in all_text(empty)
    many = leads_card(
        [(make_lead(id=i, domain=f"d{i}.com", company="x" * 10_000, score=i), "co-sell") for i in range(500)]
    )
    assert_valid_card(many)
    assert card_size(many) < 80_000
    assert all_text(many)[0] == "Top leads (50)"
