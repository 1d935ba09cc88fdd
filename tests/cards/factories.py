"""Realistic in-memory rows (no database) and small helpers to look inside cards."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.models import ConversationRef, DomainScan, Lead, Referral, SignIn, SyncRun

NOW = datetime(2026, 11, 22, 7, 50, tzinfo=UTC)
PORTAL = "https://partner.microsoft.com/dashboard/referrals/v2/leads/"
MAX_CARD_BYTES = 80_000


def card_size(card: dict[str, Any]) -> int:
    """Bytes of the card as sent, with every non-ASCII character spelled \\uXXXX (an upper bound)."""
    return len(json.dumps(card, ensure_ascii=True).encode("ascii"))


def all_text(node: Any) -> list[str]:
    """Every `text`, fact title/value and action title anywhere in a card."""
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("text", "title", "value"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        for value in node.values():
            found += all_text(value)
    elif isinstance(node, list):
        for item in node:
            found += all_text(item)
    return found


def actions_of(node: Any) -> list[dict[str, Any]]:
    """Every action anywhere in a card (card actions, ActionSets, selectActions)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found += actions_of(value)
    elif isinstance(node, list):
        for item in node:
            found += actions_of(item)
    return found


def make_referral(**overrides: Any) -> Referral:
    values: dict[str, Any] = {
        "id": "7d1c5c2e-3f7a-4a7e-9b1c-0e8f2b6a9d41",
        "engagement_id": "e3b0c442-98fc-1c14-9afb-f4c8996fb924",
        "name": "Contoso – Azure migration (phase 2)",
        "kind": "co-sell",
        "direction": "Incoming",
        "status": "New",
        "substatus": "Pending",
        "referral_type": "Shared",
        "qualification": "SalesQualified",
        "invited_by_org_id": "0a1b2c3d-0000-4000-8000-000000000001",
        "invited_by_org_name": "Fabrikam Partners",
        "customer_name": "Contoso Ltd",
        "customer_domain": "contoso.com",
        "country": "US",
        "deal_value": 1250000.0,
        "currency": "USD",
        "notes": "Customer wants to move 40 VMs before the end of the quarter.",
        "etag": '"0x1"',
        "created_at": NOW - timedelta(days=2),
        "updated_at": NOW - timedelta(hours=3),
        "expires_at": NOW + timedelta(days=3, hours=4, minutes=10),
    }
    values.update(overrides)
    return Referral(**values)


def make_lead(**overrides: Any) -> Lead:
    values: dict[str, Any] = {
        "id": 1,
        "domain": "contoso.com",
        "company": "Contoso Ltd",
        "segment": "SMB",
        "score": 72,
        "score_reasons": ["Mail on Microsoft 365 (+30)", "Co-sell referral (+15)", "DMARC enforced (+5)"],
        "created_at": NOW - timedelta(days=10),
        "updated_at": NOW - timedelta(days=1),
    }
    values.update(overrides)
    return Lead(**values)


def make_scan(**overrides: Any) -> DomainScan:
    values: dict[str, Any] = {
        "domain": "contoso.com",
        "provider": "m365",
        "mx_hosts": ["contoso-com.mail.protection.outlook.com"],
        "spf": "v=spf1 include:spf.protection.outlook.com -all",
        "dmarc": "v=DMARC1; p=reject; rua=mailto:dmarc@contoso.com",
        "scanned_at": NOW - timedelta(hours=5),
    }
    values.update(overrides)
    return DomainScan(**values)


def make_run(**overrides: Any) -> SyncRun:
    values: dict[str, Any] = {
        "id": 12,
        "trigger": "schedule",
        "mode": "incremental",
        "status": "success",
        "started_at": NOW - timedelta(minutes=10),
        "finished_at": NOW - timedelta(minutes=8, seconds=55),
        "pages": 3,
        "requests": 4,
        "retries": 1,
        "fetched": 412,
        "inserted": 7,
        "updated": 12,
        "unchanged": 393,
        "notified": 5,
        "leads_created": 4,
        "leads_linked": 6,
        "scanned": 4,
        "skipped": {"outgoing": 20, "closed_on_first_sight": 3},
    }
    values.update(overrides)
    return SyncRun(**values)


def make_sign_in(**overrides: Any) -> SignIn:
    values: dict[str, Any] = {
        "id": 1,
        "username": "pc-admin@fabrikam.onmicrosoft.com",
        "state": "signed_in",
        "has_refresh_token": True,
        "signed_in_at": NOW - timedelta(days=3),
        "last_refresh_at": NOW - timedelta(minutes=20),
        "access_token_expires_at": NOW + timedelta(minutes=40),
    }
    values.update(overrides)
    return SignIn(**values)


def make_channel(**overrides: Any) -> ConversationRef:
    values: dict[str, Any] = {
        "conversation_id": "19:abc123def456@thread.tacv2",
        "conversation_type": "channel",
        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "team_id": "19:team@thread.tacv2",
        "team_name": "Sales",
        "channel_name": "Co-sell referrals",
        "service_url": "https://smba.trafficmanager.net/emea/",
        "is_sales_channel": True,
    }
    values.update(overrides)
    return ConversationRef(**values)
