from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cards.help import help_card
from cards.status import StatusView, status_card
from cards.sync import sync_summary_card
from tests.cards.factories import NOW, all_text, make_channel, make_run, make_sign_in

Check = Callable[[dict[str, Any]], None]


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for el in card["body"] if el["type"] == "FactSet" for f in el["facts"]}


def test_sync_summary_success(assert_valid_card: Check) -> None:
    card = sync_summary_card(make_run())
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[:2] == ["Sync summary", "Success"]
    facts = facts_of(card)
    assert facts["Mode"] == "incremental"
    assert facts["Started"] == "2026-11-22 07:40 UTC"
    assert facts["Finished"] == "2026-11-22 07:41 UTC"
    assert facts["Duration"] == "1 min 5 s"
    expected = {
        "Fetched": "412", "Inserted": "7", "Updated": "12", "Unchanged": "393", "Notified": "5",
        "Leads created": "4", "Leads linked": "6", "Domains scanned": "4", "Requests": "4", "Retries": "1",
        "Pages": "3",
    }  # fmt: skip
    assert {k: facts[k] for k in expected} == expected
    assert facts["outgoing"] == "20"
    assert facts[r"closed\_on\_first\_sight"] == "3"


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("failed", "Failed"),
        ("not_signed_in", "Not signed in"),
        ("not-signed-in", "Not signed in"),
        ("running", "Running"),
    ],
)
def test_sync_summary_states(assert_valid_card: Check, status: str, label: str) -> None:
    run = make_run(status=status, error="HTTP 503 from *Partner Center*", note="retry later", skipped={})
    if status == "running":
        run.finished_at = None
    card = sync_summary_card(run)
    assert_valid_card(card)
    texts = all_text(card)
    assert texts[1] == label
    assert r"Error: HTTP 503 from \*Partner Center\*" in texts
    assert "retry later" in texts
    assert "Skipped" not in texts
    if status == "running":
        assert facts_of(card)["Duration"] == "still running"


def view(**overrides: Any) -> StatusView:
    values: dict[str, Any] = {
        "last_run": make_run(),
        "next_run_at": NOW + timedelta(minutes=7),
        "poller_enabled": True,
        "sign_in": make_sign_in(),
        "static_token": False,
        "sales_channels": [make_channel()],
        "now": NOW,
    }
    values.update(overrides)
    return StatusView(**values)


def test_status_card_healthy(assert_valid_card: Check) -> None:
    card = status_card(view())
    assert_valid_card(card)
    facts = facts_of(card)
    assert facts["Last sync"] == "2026-11-22 07:41 UTC (8 min 55 s ago)"
    assert facts["Result"] == "Success"
    assert facts["Counts"] == "412 fetched, 7 new, 12 updated, 5 notified"
    assert facts["Next sync"] == "2026-11-22 07:57 UTC (in 7 min)"
    assert facts["State"] == r"signed in as pc-admin@fabrikam.onmicrosoft.com"
    assert facts["Access token expires"] == "2026-11-22 08:30 UTC (in 40 min)"
    assert facts["Last refresh"] == "2026-11-22 07:30 UTC"
    assert facts["Refresh token held"] == "yes"
    assert r"• Sales / Co-sell referrals" in all_text(card)


def test_status_card_nothing_yet(assert_valid_card: Check) -> None:
    card = status_card(view(last_run=None, next_run_at=None, sign_in=None, sales_channels=[]))
    assert_valid_card(card)
    facts = facts_of(card)
    assert facts["Last sync"] == "none yet"
    assert facts["Next sync"] == "not scheduled"
    assert facts["State"].startswith("not signed in")
    assert "No sales channel yet: an admin can type `notify here` in a channel." in all_text(card)


def test_status_card_needs_login_static_token_and_poller_off(assert_valid_card: Check) -> None:
    broken = make_sign_in(
        state="needs_login", failure_reason="AADSTS700082: refresh token expired", has_refresh_token=False
    )
    card = status_card(view(sign_in=broken, poller_enabled=False))
    assert_valid_card(card)
    facts = facts_of(card)
    assert facts["State"].startswith("needs login (AADSTS700082: refresh token expired)")
    assert facts["Refresh token held"] == "no"
    assert facts["Next sync"].startswith("scheduled sync is off")
    static = status_card(view(static_token=True, sign_in=None))
    assert_valid_card(static)
    assert facts_of(static)["State"].startswith("using a static token")


def test_status_card_channel_without_names(assert_valid_card: Check) -> None:
    bare = make_channel(team_name=None, channel_name=None, conversation_id="19:x_y@thread.tacv2")
    card = status_card(view(sales_channels=[bare, make_channel(channel_name=None, team_name="**Team**")]))
    assert_valid_card(card)
    texts = all_text(card)
    assert r"• 19:x\_y@thread.tacv2" in texts
    assert r"• \*\*Team\*\*" in texts


def test_help_card(assert_valid_card: Check) -> None:
    entries = [
        ("help", "Show every command with its form.", False),
        (
            "referrals [co-sell|marketplace|ms-lead|all] [new|active|closed] [page N]",
            "List stored referrals by kind and status, a page at a time.",
            False,
        ),
        ("notify here", "Post new co-sell referral cards in this channel.", True),
        ("/login", "Sign in to Partner Center with a device code.", True),
    ]
    card = help_card(entries)
    assert_valid_card(card)
    rows = [all_text(el) for el in card["body"] if el["type"] == "Container"]
    assert len(rows) == 4
    assert rows[0] == ["help", r"Show every command with its form."]
    assert rows[1][0] == r"referrals \[co-sell|marketplace|ms-lead|all\] \[new|active|closed\] \[page N\]"
    assert rows[2] == [r"notify here", r"Post new co-sell referral cards in this channel. (admin only)"]
    assert rows[3][1].endswith("(admin only)")
    assert not rows[0][1].endswith("(admin only)")
    assert_valid_card(help_card([]))
