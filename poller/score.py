"""Lead segment and score, with the reasons a person can read.

Segment from the mail provider the domain scan found:
- `m365` → **Existing** (already a Microsoft 365 customer: expansion, upsell)      base 60
- `google` → **Migration** (Google Workspace: a migration opportunity)             base 50
- `other` / `none` → **Cold**                                                      base 20
- not scanned (yet, or scanning is off) → **Unscanned**                            base 10
Plus `co_sell_boost` (default 15) when the lead has a linked co-sell referral.
"""

from __future__ import annotations

from dataclasses import dataclass

SEGMENT_BASES: dict[str, tuple[str, int]] = {
    "m365": ("Existing", 60),
    "google": ("Migration", 50),
    "other": ("Cold", 20),
    "none": ("Cold", 20),
}
UNSCANNED: tuple[str, int] = ("Unscanned", 10)

_PROVIDER_TEXT = {
    "m365": "Microsoft 365 mail",
    "google": "Google Workspace mail",
    "other": "Other mail provider",
    "none": "No MX record",
}


@dataclass(frozen=True, slots=True)
class LeadScore:
    segment: str
    score: int
    reasons: list[str]


def score_lead(
    provider: str | None, *, mx_hosts: list[str] | None = None, has_co_sell: bool, co_sell_boost: int = 15
) -> LeadScore:
    """Score one lead from its scan's provider (None = not scanned) and whether it has co-sell referrals."""
    if provider is None:
        segment, base = UNSCANNED
        reasons = [f"Domain not scanned → {segment} +{base}"]
    else:
        segment, base = SEGMENT_BASES.get(provider, SEGMENT_BASES["other"])
        text = _PROVIDER_TEXT.get(provider, _PROVIDER_TEXT["other"])
        mx = f" (MX {mx_hosts[0]})" if mx_hosts else ""
        reasons = [f"{text}{mx} → {segment} +{base}"]
    score = base
    if has_co_sell and co_sell_boost:
        score += co_sell_boost
        reasons.append(f"Co-sell referral +{co_sell_boost}")
    return LeadScore(segment, score, reasons)
