"""The lead card (a customer: segment, score and why, mail signals, referrals) and the top leads card."""

from __future__ import annotations

from collections.abc import Sequence

from cards.common import (
    DASH,
    Card,
    Element,
    badge,
    card,
    execute,
    fact_set,
    format_datetime,
    format_money,
    subtle,
    text_block,
    title_block,
)
from cards.text import plain
from storage.models import DomainScan, Lead, Referral

MAX_REASONS = 20
MAX_LINKED = 20
MAX_MX = 10
MAX_LEADS = 50

PROVIDER_LABELS = {
    "m365": "Microsoft 365",
    "google": "Google Workspace",
    "other": "Another mail provider",
    "none": "No mail servers (no MX)",
}


def provider_label(provider: str | None) -> str:
    return PROVIDER_LABELS.get((provider or "").lower(), plain(provider, 32) or DASH)


def _scan_section(scan: DomainScan | None) -> list[Element]:
    header = text_block("Mail signals", weight="Bolder", separator=True)
    if scan is None:
        return [header, subtle("Not scanned yet.")]
    mx = [plain(host, 120) for host in scan.mx_hosts[:MAX_MX]]
    if len(scan.mx_hosts) > MAX_MX:
        mx.append(f"and {len(scan.mx_hosts) - MAX_MX} more")
    facts = [
        ("Provider", provider_label(scan.provider)),
        ("MX", ", ".join(mx) if mx else "none"),
        ("SPF", plain(scan.spf, 300) or "none"),
        ("DMARC", plain(scan.dmarc, 300) or "none"),
        ("Scanned", format_datetime(scan.scanned_at)),
    ]
    if scan.error:
        facts.append(("Scan problem", plain(scan.error, 300)))
    return [header, fact_set(facts)]


def _linked_row(referral: Referral) -> Element:
    name = plain(referral.name, 80) or plain(referral.customer_name, 80) or plain(referral.id, 64)
    detail = f"{plain(referral.status, 32)} · {format_money(referral.deal_value, referral.currency)}"
    return {
        "type": "ColumnSet",
        "selectAction": execute("Details", "showReferral", {"referralId": referral.id}),
        "columns": [
            {"type": "Column", "width": "auto", "items": [badge(referral.kind)]},
            {"type": "Column", "width": "stretch", "items": [text_block(name)]},
            {"type": "Column", "width": "auto", "items": [text_block(detail, isSubtle=True)]},
        ],
    }


def _referrals_section(referrals: Sequence[Referral]) -> list[Element]:
    section: list[Element] = [text_block(f"Referrals ({len(referrals)})", weight="Bolder", separator=True)]
    if not referrals:
        section.append(subtle("No linked referrals."))
    section.extend(_linked_row(r) for r in referrals[:MAX_LINKED])
    if len(referrals) > MAX_LINKED:
        section.append(subtle(f"and {len(referrals) - MAX_LINKED} more"))
    return section


def lead_card(
    lead: Lead,
    *,
    scan: DomainScan | None,
    referrals: Sequence[Referral],
    back_referral_id: str | None = None,
) -> Card:
    """Who the customer is, how good a lead it is and why, what its mail setup says, and its referrals."""
    body: list[Element] = [
        title_block(plain(lead.company, 200) or plain(lead.domain, 255)),
        fact_set(
            [
                ("Domain", plain(lead.domain, 255)),
                ("Segment", plain(lead.segment, 32)),
                ("Score", str(lead.score)),
            ]
        ),
    ]
    reasons = lead.score_reasons[:MAX_REASONS]
    if reasons:
        body.append(text_block("Why this score", weight="Bolder", separator=True))
        body.extend(subtle(f"• {plain(reason, 200)}") for reason in reasons)
        if len(lead.score_reasons) > MAX_REASONS:
            body.append(subtle(f"and {len(lead.score_reasons) - MAX_REASONS} more"))
    body.extend(_scan_section(scan))
    body.extend(_referrals_section(referrals))
    actions: list[Element] = []
    if back_referral_id:
        actions.append(execute("Back to referral", "showReferral", {"referralId": back_referral_id}))
    return card(body, actions)


def _lead_row(lead: Lead, kind: str | None) -> Element:
    name = plain(lead.company, 80)
    domain = plain(lead.domain, 120)
    return {
        "type": "ColumnSet",
        "separator": True,
        "columns": [
            {
                "type": "Column",
                "width": "auto",
                "items": [text_block(str(lead.score), size="Large", weight="Bolder", color="Accent")],
            },
            {
                "type": "Column",
                "width": "stretch",
                "items": [
                    text_block(name or domain, weight="Bolder"),
                    subtle(f"{domain} · {plain(lead.segment, 32)}" if name else plain(lead.segment, 32)),
                ],
            },
            {
                "type": "Column",
                "width": "auto",
                "items": [badge(kind) if kind else subtle("no referral")],
            },
        ],
    }


def leads_card(rows: Sequence[tuple[Lead, str | None]]) -> Card:
    """The top leads by score, each with the kind badge of its referral."""
    if not rows:
        return card([title_block("Top leads"), text_block("No leads yet.")])
    shown = sorted(rows, key=lambda row: -row[0].score)[:MAX_LEADS]
    body: list[Element] = [title_block(f"Top leads ({len(shown)})")]
    body.append(subtle("Score, company and segment; the badge is the lead's referral kind.", size="Small"))
    body.extend(_lead_row(lead, kind) for lead, kind in shown)
    return card(body)
