"""Synthetic referrals shaped exactly like the documented examples, quirks included, deterministic per seed.

    generate_referrals(n, *, seed=0, now=None) -> list[dict]
    make_referral(kind="co-sell", *, seed=None, now=None, direction="Incoming", ...) -> dict

Kinds (INTRO's three-key rule, section 2 of the reference):
    co-sell              type Shared, SalesQualified/None, invited by a partner org (or our own org when Outgoing)
    co-sell-independent  type Independent, SalesQualified/None, invited by a partner org
    marketplace          type Independent, Direct, invited by msft (or invitedBy null)
    ms-lead              type Independent, SalesQualified/MarketingQualified, invited by msft
    other                matches no row of the rule (Independent, qualification None, invited by msft)

Quirks (see QUIRKS): null expirationDateTime, empty/null customer emails, consumer mail domains, mixed-case and
subdomain emails, IDN domains, unknown enum values, extra unknown fields, `team` as a bare object, PascalCase
consent keys, and a few malformed referrals (no id, or a status that is not a string).
Every referral has a quoted eTag and 7-digit fractional timestamps.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

OUR_ORG_ID = "7d23e5ca-19dc-4eaa-aac8-5e6b559f0d1d"
OUR_ORG_NAME = "Contoso Company"
OUR_MPN_ID = "4863040"
API_BASE = "https://api.partner.microsoft.com/v1.0/engagements/referrals"

KINDS = ("co-sell", "co-sell-independent", "marketplace", "ms-lead", "other")
STATUSES = (
    ("New", "Pending"),
    ("New", "Received"),
    ("Active", "Accepted"),
    ("Closed", "Won"),
    ("Closed", "Lost"),
    ("Closed", "Declined"),
    ("Closed", "Expired"),
)
UNKNOWN_STATUSES = (("Active", "Engaged"), ("Closed", "Error"), ("Error", "None"))
QUIRKS = (
    "null-expiration",
    "empty-email",
    "null-email",
    "consumer-domain",
    "mixed-case-email",
    "subdomain-email",
    "idn-domain",
    "extra-fields",
    "team-object",
    "pascal-consent",
    "missing-id",
    "status-wrong-type",
)
_QUIRK_RATES = {
    "null-expiration": 0.08,
    "empty-email": 0.04,
    "null-email": 0.04,
    "consumer-domain": 0.05,
    "mixed-case-email": 0.05,
    "subdomain-email": 0.04,
    "idn-domain": 0.02,
    "extra-fields": 0.05,
    "team-object": 0.02,
    "pascal-consent": 0.03,
    "missing-id": 0.005,
    "status-wrong-type": 0.005,
}
CONSUMER_DOMAINS = ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "live.com", "icloud.com", "gmx.de")

_COMPANY_WORDS = (
    "Northwind",
    "Fabrikam",
    "Tailspin",
    "Adatum",
    "Litware",
    "Proseware",
    "Wingtip",
    "Woodgrove",
    "Alpine",
    "Coho",
    "Lucerne",
    "Margie",
    "Fourth Coffee",
    "Blue Yonder",
    "Trey",
    "Relecloud",
    "Humongous",
    "Bellows",
    "Datum",
    "Graphic Design",
    "Lamna",
    "Munson",
    "Nod",
    "Southridge",
    "Wide World",
    "VanArsdel",
    "Liberty",
    "Contoso Pharma",
    "Tasmanian",
    "Fincher",
)
_COMPANY_SUFFIXES = (
    ("Traders", "traders"),
    ("Toys", "toys"),
    ("Bank", "bank"),
    ("Labs", "labs"),
    ("Systems", "systems"),
    ("Logistics", "logistics"),
    ("Health", "health"),
    ("Foods", "foods"),
    ("Energy", "energy"),
    ("Group", "group"),
    ("Airlines", "air"),
    ("Insurance", "insurance"),
    ("Motors", "motors"),
)
_PLACES = (  # (tld, country, city, postal code, locale, currency)
    ("com", "US", "Seattle", "98101", "en-us", "USD"),
    ("co.uk", "GB", "Leeds", "LS1 4AP", "en-gb", "GBP"),
    ("de", "DE", "Berlin", "10115", "de-de", "EUR"),
    ("fr", "FR", "Lyon", "69001", "fr-fr", "EUR"),
    ("com.au", "AU", "Sydney", "2000", "en-au", "AUD"),
    ("nl", "NL", "Utrecht", "3511", "nl-nl", "EUR"),
    ("io", "US", "Austin", "73301", "en-us", "USD"),
    ("com.br", "BR", "Sao Paulo", "01310-100", "pt-br", "BRL"),
    ("co.jp", "JP", "Osaka", "530-0001", "ja-jp", "JPY"),
    ("es", "ES", "Madrid", "28001", "es-es", "EUR"),
    ("ca", "CA", "Toronto", "M5H 2N2", "en-ca", "CAD"),
    ("net", "US", "Denver", "80202", "en-us", "USD"),
)
_IDN_CUSTOMERS = (  # (name, domain, country, city, postal, locale, currency)
    ("München Bau GmbH", "münchen-bau.de", "DE", "München", "80331", "de-de", "EUR"),
    ("Zürich Versicherungen AG", "zürich-versicherung.ch", "CH", "Zürich", "8001", "de-ch", "CHF"),
    ("Ørsted Nordic ApS", "ørsted-nordic.dk", "DK", "København", "1050", "da-dk", "DKK"),
    ("Café Société SARL", "café-société.fr", "FR", "Paris", "75001", "fr-fr", "EUR"),
)
_FIRST = (
    "Priya",
    "Diego",
    "Sue",
    "Joe",
    "Avery",
    "Lucas",
    "Camila",
    "Marta",
    "Kenji",
    "Amara",
    "Liam",
    "Noor",
    "Sofia",
    "Mateo",
    "Hannah",
    "Yusuf",
    "Elena",
    "Tom",
    "Aisha",
    "Jonas",
)
_LAST = (
    "Natarajan",
    "Ramirez",
    "Smith",
    "Hansen",
    "Chen",
    "Oliveira",
    "Souza",
    "Kowalski",
    "Tanaka",
    "Okafor",
    "Murphy",
    "Haddad",
    "Rossi",
    "Garcia",
    "Schmidt",
    "Demir",
    "Petrova",
    "Baker",
    "Khan",
    "Berg",
)
_SIZES = (
    "1to9employees",
    "10to50employees",
    "51to250employees",
    "251to1000employees",
    "1001to5000employees",
    "5001to10000employees",
    "Morethan20000employees",
)
_PRODUCTS = ("Azure", "Microsoft365", "Dynamics365Enterprise", "Teams", "SQL", "EnterpriseMobilityAndSecurity")
_INDUSTRIES = ("Manufacturing", "Financial Services", "Retail & Consumer Goods", "Education", "Healthcare")
_SERVICES = ("DeploymentOrMigration", "ConsultingAndProfessional", "ManagedServices", "LearningAndCertification")
_PROJECTS = (
    "Azure migration",
    "Copilot rollout",
    "Dynamics 365 supply chain",
    "Security modernization",
    "Data platform",
    "Teams Phone",
    "AVD pilot",
    "Fabric analytics",
)
_PARTNERS = (
    "Fabrikam Solutions",
    "Alpine Ski Consulting",
    "Trey Research Partners",
    "Lamna Cloud",
    "Bellows Digital",
    "Southridge IT",
)
_CALLS_TO_ACTION = ("ContactMe", "FreeTrial", "TestDrive", "GetItNow")


@dataclass(frozen=True)
class Customer:
    name: str
    domain: str
    country: str
    city: str
    postal_code: str
    locale: str
    currency: str


@dataclass
class _Plan:
    kind: str
    direction: str
    status: tuple[Any, str]
    quirks: set[str] = field(default_factory=set)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(moment: datetime, rng: random.Random) -> str:
    """7 fractional digits, the 7th one random, as in real data."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}{rng.randrange(10)}Z"


def _etag(rng: random.Random, moment: datetime) -> str:
    return f'"{rng.getrandbits(32):08x}-0000-0100-0000-{int(moment.timestamp()):08x}0000"'


def _default_now() -> datetime:
    """Now, truncated to the hour, so that two runs in the same hour generate the same data."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------------------------------- customers


def _new_customer(rng: random.Random, used: set[str], idn: bool = False) -> Customer:
    if idn:
        name, domain, country, city, postal, locale, currency = rng.choice(_IDN_CUSTOMERS)
        return Customer(name, domain, country, city, postal, locale, currency)
    for attempt in range(1000):
        word = rng.choice(_COMPANY_WORDS)
        suffix, slug = rng.choice(_COMPANY_SUFFIXES)
        tld, country, city, postal, locale, currency = rng.choice(_PLACES)
        number = "" if attempt < 4 else str(rng.randrange(10, 10_000))
        name = f"{word} {suffix}{' ' + number if number else ''}"
        if name not in used:  # distinct names, hence distinct domains
            used.add(name)
            domain = f"{word.lower().replace(' ', '')}{slug}{number}.{tld}"
            return Customer(name, domain, country, city, postal, locale, currency)
    raise RuntimeError("could not invent a distinct customer domain")


class _Customers:
    """Mostly new customers, sometimes one seen before (several referrals for one customer)."""

    def __init__(self, rng: random.Random, repeat_rate: float = 0.2) -> None:
        self.rng = rng
        self.repeat_rate = repeat_rate
        self.used_names: set[str] = set()
        self.seen: list[Customer] = []

    def pick(self, idn: bool = False) -> Customer:
        if not idn and self.seen and self.rng.random() < self.repeat_rate:
            return self.rng.choice(self.seen)
        customer = _new_customer(self.rng, self.used_names, idn)
        self.seen.append(customer)
        return customer


# ---------------------------------------------------------------------------------------------- building


def _member(
    rng: random.Random,
    email_domain: str | None,
    locale: str | None,
    *,
    title: bool = False,
    mixed_case: bool = False,
    mailbox: str | None = None,
) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    if email_domain is None:
        email = None
    else:
        local = mailbox or f"{first}.{last}".lower()
        email = f"{local}@{email_domain}"
        if mixed_case:
            local = mailbox.upper() if mailbox else f"{first}.{last}"
            email = f"{local}@{email_domain.title()}"
    return {
        "firstName": first,
        "lastName": last,
        "phoneNumber": f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}",
        "email": email,
        "title": rng.choice(("IT Director", "CIO", "Procurement Lead")) if title else None,
        "contactPreference": {"locale": locale, "disableNotifications": False},
    }


def _customer_team(rng: random.Random, customer: Customer, quirks: set[str]) -> Any:
    domain = rng.choice(CONSUMER_DOMAINS) if "consumer-domain" in quirks else customer.domain
    team = [_member(rng, domain, customer.locale, title=True, mixed_case="mixed-case-email" in quirks)]
    if rng.random() < 0.4 or quirks & {"empty-email", "null-email", "subdomain-email"}:
        team.append(_member(rng, domain, customer.locale))
    if "subdomain-email" in quirks:
        team[-1]["email"] = f"it@mail.{customer.domain}"
    if "empty-email" in quirks:
        team[0]["email"] = ""
    if "null-email" in quirks:
        team[-1]["email"] = None
        team[-1]["contactPreference"] = {"locale": None, "disableNotifications": None}
    return team[0] if "team-object" in quirks else team


def _invited_by(rng: random.Random, plan: _Plan) -> dict[str, Any] | None:
    if plan.kind in ("co-sell", "co-sell-independent"):
        if plan.direction == "Outgoing":
            return {"organizationId": OUR_ORG_ID, "organizationName": OUR_ORG_NAME}
        index = rng.randrange(len(_PARTNERS))
        partner_id = str(uuid.UUID(int=(index + 1) * 0x1F2E3D4C5B6A79881726354453627180, version=4))
        return {"organizationId": partner_id, "organizationName": _PARTNERS[index]}
    if plan.kind == "marketplace" and rng.random() < 0.2:
        return None
    return {"organizationId": "msft", "organizationName": "Microsoft"}


def _type_and_qualification(rng: random.Random, kind: str) -> tuple[str, str]:
    if kind == "co-sell":
        return "Shared", rng.choice(("SalesQualified", "SalesQualified", "None"))
    if kind == "co-sell-independent":
        return "Independent", rng.choice(("SalesQualified", "None"))
    if kind == "marketplace":
        return "Independent", "Direct"
    if kind == "ms-lead":
        return "Independent", rng.choice(("SalesQualified", "MarketingQualified"))
    return "Independent", "None"


def _times(rng: random.Random, plan: _Plan, now: datetime, days: int) -> dict[str, Any]:
    status = plan.status[0]
    fresh = status == "New" and plan.direction == "Incoming"
    span = timedelta(days=min(days, 13) if fresh else days)
    created = now - timedelta(seconds=rng.uniform(60, span.total_seconds()))
    created = created.replace(microsecond=rng.randrange(1_000_000))
    stays_new = plan.status == ("New", "Pending")
    updated = created if stays_new else created + (now - created) * rng.uniform(0.05, 1.0)
    accepted = closed = None
    if plan.direction == "Outgoing":
        accepted = created
    elif status in ("Active", "Closed") and plan.status[1] not in ("Declined", "Expired"):
        accepted = created + (updated - created) * rng.uniform(0.1, 0.9)
    if status == "Closed":
        closed = updated
    expiration = created + timedelta(days=14) if fresh and "null-expiration" not in plan.quirks else None
    return {
        "createdDateTime": _stamp(created, rng),
        "updatedDateTime": _stamp(updated, rng) if updated != created else None,
        "expirationDateTime": _stamp(expiration, rng) if expiration else None,
        "acceptedDateTime": _stamp(accepted, rng) if accepted else None,
        "closedDateTime": _stamp(closed, rng) if closed else None,
        "_updated": updated,
    }


def _details(rng: random.Random, customer: Customer, kind: str) -> dict[str, Any]:
    products = rng.sample(_PRODUCTS, rng.randrange(1, 3))
    solution_id = f"SOL-{rng.randrange(10_000, 99_999)}-{''.join(rng.choices('ABCDEFGHJKLMNPQRSTUVWXYZ', k=3))}"
    return {
        "notes": f"{customer.name} is interested in {', '.join(products)}.",
        "dealValue": 0 if kind == "marketplace" else rng.randrange(5, 800) * 1000,
        "currency": customer.currency,
        "closingDateTime": None if kind == "marketplace" else "2026-12-31T00:00:00Z",
        "customerRequestedContact": True if kind == "marketplace" else None,
        "customerAction": None,
        "incentiveLevel": None,
        "requirements": {
            "industries": [{"id": rng.choice(_INDUSTRIES)}],
            "products": [{"id": p} for p in products],
            "services": [{"id": rng.choice(_SERVICES)}] if kind != "marketplace" else [],
            "solutions": [
                {
                    "id": solution_id,
                    "name": "Contoso Accelerator",
                    "type": "Name",
                    "price": None,
                    "quantity": None,
                    "currency": None,
                    "publisherName": OUR_ORG_NAME,
                    "solutionType": None,
                    "closingDateTime": None,
                }
            ],
            "offers": [],
            "salesPlays": [],
            "additionalRequirements": {"iot": {}, "attributes": []},
        },
    }


def _build(rng: random.Random, plan: _Plan, customer: Customer, now: datetime, days: int = 30) -> dict[str, Any]:
    referral_id, engagement_id = _uuid(rng), _uuid(rng)
    referral_type, qualification = _type_and_qualification(rng, plan.kind)
    times = _times(rng, plan, now, days)
    updated_moment: datetime = times.pop("_updated")
    if times["updatedDateTime"] is None:
        times["updatedDateTime"] = times["createdDateTime"]
    status, substatus = plan.status
    project = rng.choice(_PROJECTS)
    invited_by = _invited_by(rng, plan)
    related = engagement_id if rng.random() < 0.1 else f"'{engagement_id}'"  # real data: often unquoted
    consent = {
        "consentToToShareInfoWithOthers": True,
        "consentToContact": True,
        "consentToShareReferralWithMicrosoftSellers": plan.kind != "marketplace",
    }
    if "pascal-consent" in plan.quirks:
        consent = {key[0].upper() + key[1:]: value for key, value in consent.items()}
        consent["ConsentToMicrosoftToContactSpecificPartners"] = False
    referral: dict[str, Any] = {
        "id": referral_id,
        "engagementId": engagement_id,
        "name": f"{customer.name} - {project}",
        "organizationId": OUR_ORG_ID,
        "organizationName": OUR_ORG_NAME,
        "lastModifiedVia": None,
        "lastRunId": None,
        "externalReferenceId": None,
        "createdDateTime": times["createdDateTime"],
        "updatedDateTime": times["updatedDateTime"],
        "expirationDateTime": times["expirationDateTime"],
        "status": status,
        "substatus": substatus,
        "statusReason": "Customer chose another vendor" if substatus in ("Lost", "Declined") else None,
        "qualification": qualification,
        "type": referral_type,
        "referralSource": "Marketplace" if plan.kind == "marketplace" else None,
        "eTag": _etag(rng, updated_moment),
        "favorite": False,
        "campaignId": None,
        "salesStage": None,
        "quality": "Unknown",
        "isSpam": False,
        "direction": plan.direction,
        "mpnId": OUR_MPN_ID,
        "referralProgram": None,
        "dealSensitivity": "None",
        "createdVia": None,
        "tags": [],
        "acceptedDateTime": times["acceptedDateTime"],
        "closedDateTime": times["closedDateTime"],
        "callToAction": rng.choice(_CALLS_TO_ACTION) if plan.kind == "marketplace" else None,
        "registrationStatus": "None",
        "target": [],
        "customerProfile": {
            "name": customer.name,
            "size": rng.choice(_SIZES),
            "isMatchingComplete": rng.random() < 0.6,
            "address": {
                "addressLine1": f"{rng.randrange(1, 999)} Main Street",
                "addressLine2": rng.choice(("", None, "Suite 100")),
                "city": customer.city,
                "state": None,
                "postalCode": customer.postal_code,
                "country": customer.country,
                "region": None,
            },
            "team": _customer_team(rng, customer, plan.quirks),
            "ids": [{"profileType": "Duns", "id": str(rng.randrange(100_000_000, 999_999_999))}],
        },
        "consent": consent,
        "details": _details(rng, customer, plan.kind),
        "team": [],
        "inviteContext": {
            "notes": None if plan.kind == "marketplace" else "Could you help this customer?",
            "assistanceRequestCode": "Unknown",
            "invitedMpnId": None,
            "invitedBy": invited_by,
        },
        "links": {
            "relatedReferrals": {
                "uri": f"{API_BASE}?$filter=engagementId eq {related}",
                "method": "GET",
            },
            "self": {"uri": f"{API_BASE}/{referral_id}", "method": "GET"},
        },
        "trackingInfo": {
            "microsoftMsxId": None,
            "microsoftUSFedOpportunityId": None,
            "microsoftUSFedLeadId": None,
            "migratedPSCDealId": None,
            "migratedPSCPartnerDealId": None,
        },
        "registrations": [],
    }
    if plan.direction == "Outgoing":  # created by us: accepted at creation
        referral["acceptedDateTime"] = referral["createdDateTime"]
        referral["team"] = [_member(rng, "contoso-partner.com", "en-us")]
        referral["target"] = [{"type": "BusinessProfileLocation", "id": "msft"}]
    _apply_structural_quirks(rng, referral, plan.quirks)
    return referral


def _apply_structural_quirks(rng: random.Random, referral: dict[str, Any], quirks: set[str]) -> None:
    if "extra-fields" in quirks:
        referral["partnerRole"] = None
        referral["solutionArea"] = "AI Business Solutions"
        referral["futureSignals"] = {"score": rng.randrange(100), "labels": ["beta"]}
        referral["customerProfile"]["emailValidationStatus"] = "Unknown"
    if "missing-id" in quirks:
        del referral["id"]
    if "status-wrong-type" in quirks:
        referral["status"] = rng.choice((2, {"value": referral["status"]}, None))


# ---------------------------------------------------------------------------------------------- public API


def _random_plan(rng: random.Random) -> _Plan:
    kind = rng.choices(KINDS, weights=(35, 10, 20, 25, 10))[0]
    direction = "Outgoing" if kind == "co-sell" and rng.random() < 0.2 else "Incoming"
    if direction == "Outgoing":
        status: tuple[Any, str] = rng.choices(STATUSES[2:5], weights=(70, 15, 15))[0]
    elif rng.random() < 0.02:
        status = rng.choice(UNKNOWN_STATUSES)
    else:
        status = rng.choices(STATUSES, weights=(40, 10, 20, 8, 8, 7, 7))[0]
    quirks = {quirk for quirk, rate in _QUIRK_RATES.items() if rng.random() < rate}
    return _Plan(kind, direction, status, quirks)


def _coverage_overrides() -> list[dict[str, Any]]:
    """One override per thing every data set of a reasonable size must contain at least once."""
    overrides: list[dict[str, Any]] = [{"kind": kind} for kind in KINDS]
    overrides += [{"status": status} for status in STATUSES + UNKNOWN_STATUSES]
    overrides += [{"kind": "co-sell", "direction": "Outgoing", "status": ("Active", "Accepted")}]
    overrides += [{"kind": "co-sell-independent", "direction": "Incoming", "status": ("New", "Pending")}]
    overrides += [{"quirks": {quirk}} for quirk in QUIRKS]
    return overrides


def generate_referrals(n: int, *, seed: int = 0, now: datetime | None = None, days: int = 30) -> list[dict[str, Any]]:
    """`n` referrals created over the last `days` days before `now`; same seed and `now` → same data.

    With n >= 30 every kind, status/substatus combination (documented and unknown) and quirk occurs at least once.
    """
    rng = random.Random(seed)
    now = (now or _default_now()).astimezone(UTC)
    plans = [_random_plan(rng) for _ in range(n)]
    overrides = _coverage_overrides()
    for position, override in zip(rng.sample(range(n), min(n, len(overrides))), overrides, strict=False):
        plan = plans[position]
        plan.kind = override.get("kind", plan.kind)
        plan.direction = override.get("direction", "Incoming" if "kind" in override else plan.direction)
        plan.status = override.get("status", plan.status)
        plan.quirks |= override.get("quirks", set())
        if plan.direction == "Outgoing" and plan.kind != "co-sell":
            plan.direction = "Incoming"
    customers = _Customers(rng)
    return [_build(rng, plan, customers.pick(idn="idn-domain" in plan.quirks), now, days) for plan in plans]


def make_referral(
    kind: str = "co-sell",
    *,
    seed: int | None = None,
    now: datetime | None = None,
    direction: str = "Incoming",
    status: str | None = None,
    substatus: str | None = None,
    customer: Customer | None = None,
    quirks: Collection[str] = (),
) -> dict[str, Any]:
    """One new referral created at `now` (default: the current time), e.g. an incoming co-sell for the demo.

    Without a seed, ids and details are random. Defaults: Incoming → New/Pending, Outgoing → Active/Accepted.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    unknown = set(quirks) - set(QUIRKS)
    if unknown:
        raise ValueError(f"unknown quirk(s): {', '.join(sorted(unknown))}")
    rng = random.Random(seed)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    default = ("New", "Pending") if direction == "Incoming" else ("Active", "Accepted")
    plan = _Plan(kind, direction, (status or default[0], substatus or default[1]), set(quirks))
    customer = customer or _new_customer(rng, set(), idn="idn-domain" in plan.quirks)
    referral = _build(rng, plan, customer, moment + timedelta(minutes=1), days=0)
    stamp = _stamp(moment, rng)
    referral["createdDateTime"] = referral["updatedDateTime"] = stamp
    if referral["expirationDateTime"] is not None:
        referral["expirationDateTime"] = _stamp(moment + timedelta(days=14), rng)
    if referral["acceptedDateTime"] is not None:
        referral["acceptedDateTime"] = stamp
    if referral["closedDateTime"] is not None:
        referral["closedDateTime"] = stamp
    return referral
