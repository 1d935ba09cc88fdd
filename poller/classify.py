"""Referral kinds by the documented three-key rule (`type`, `qualification`, `invitedBy.organizationId`).

| kind        | rule                                                                                   |
|-------------|----------------------------------------------------------------------------------------|
| co-sell     | type Shared; or Independent + SalesQualified/None invited by a partner org (not msft)   |
| marketplace | Independent + Direct, invited by msft or nobody                                        |
| ms-lead     | Independent + SalesQualified/MarketingQualified, invited by msft                       |
| other       | anything else                                                                          |

Comparisons ignore case (`MSFT`, `shared`); a missing inviteContext means "invited by nobody".
"""

from __future__ import annotations

from typing import Literal

from poller.records import ReferralRecord

Kind = Literal["co-sell", "marketplace", "ms-lead", "other"]
KINDS: tuple[Kind, ...] = ("co-sell", "marketplace", "ms-lead", "other")
MICROSOFT_ORG_ID = "msft"


def classify_fields(referral_type: str | None, qualification: str | None, invited_by: str | None) -> Kind:
    """The rule on the three raw values."""
    rtype = (referral_type or "").strip().lower()
    qual = (qualification or "").strip().lower()
    inviter = (invited_by or "").strip().lower()
    by_msft = inviter == MICROSOFT_ORG_ID
    by_partner = bool(inviter) and not by_msft
    if rtype == "shared":
        return "co-sell"
    if rtype != "independent":
        return "other"
    if qual in ("salesqualified", "none") and by_partner:
        return "co-sell"
    if qual == "direct" and (by_msft or not inviter):
        return "marketplace"
    if qual in ("salesqualified", "marketingqualified") and by_msft:
        return "ms-lead"
    return "other"


def classify(record: ReferralRecord) -> Kind:
    return classify_fields(record.referral_type, record.qualification, record.invited_by_org_id)
