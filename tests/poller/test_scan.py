"""The domain scan against a loopback DNS server (tests/fakes/dns_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from poller.client import PartnerCenterClient
from poller.pipeline import SyncDeps, run_sync
from poller.scan import DomainScanner, parse_nameserver, provider_from
from storage.models import DomainScan, Lead
from tests.fakes.dns_server import FakeDNS
from tests.poller.conftest import StartSimulator, make_settings
from tests.poller.helpers import make_referral

MakeClient = Callable[..., PartnerCenterClient]

ZONES = {
    "contoso-m365.com": {
        "MX": [(0, "contoso-m365-com.mail.protection.outlook.com")],
        "TXT": ["v=spf1 include:spf.protection.outlook.com -all", "google-site-verification=abc"],
    },
    "_dmarc.contoso-m365.com": {"TXT": ["v=DMARC1; p=reject"]},
    "fabrikam-google.com": {
        "MX": [(10, "alt1.aspmx.l.google.com"), (1, "aspmx.l.google.com")],
        "TXT": ["v=spf1 include:_spf.google.com ~all"],
    },
    "spf-only-m365.com": {"MX": [(10, "mx.example-relay.net")], "TXT": ["v=spf1 include:spf.protection.outlook.com"]},
    "other-mail.com": {"MX": [(10, "mx1.mailhost.example")]},
    "nomail.com": {"TXT": ["hello"]},
    "null-mx.com": {"MX": [(0, ".")]},
}


@pytest.fixture
def dns_server() -> Iterator[FakeDNS]:
    with FakeDNS(ZONES, silent=["blackhole.com"]) as server:
        yield server


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("contoso-m365.com", "m365"),
        ("fabrikam-google.com", "google"),
        ("spf-only-m365.com", "m365"),
        ("other-mail.com", "other"),
        ("nomail.com", "none"),
        ("null-mx.com", "none"),
        ("does-not-exist.com", "none"),
        ("blackhole.com", "none"),
    ],
)
async def test_scan_provider(dns_server: FakeDNS, domain: str, provider: str) -> None:
    scanner = DomainScanner(nameservers=[dns_server.address], timeout=0.3, concurrency=4)
    result = await scanner.scan(domain)
    assert result.provider == provider
    if domain == "contoso-m365.com":
        assert result.mx_hosts == ["contoso-m365-com.mail.protection.outlook.com"]
        assert result.spf == "v=spf1 include:spf.protection.outlook.com -all"
        assert result.dmarc == "v=DMARC1; p=reject" and result.error is None
    if domain == "fabrikam-google.com":
        assert result.mx_hosts == ["aspmx.l.google.com", "alt1.aspmx.l.google.com"] and result.dmarc is None
    if domain == "does-not-exist.com":
        assert result.error is not None and "NXDOMAIN" in result.error
    if domain == "blackhole.com":
        assert result.error is not None and "timeout" in result.error
    if domain in ("nomail.com", "null-mx.com"):
        assert result.error is None and result.mx_hosts == []


def test_provider_rule_and_nameserver_parsing() -> None:
    assert provider_from(["mx.googlemail.com"], None) == "google"
    assert provider_from([], "v=spf1 include:_spf.google.com ~all") == "google"
    assert provider_from(["evil-mail.protection.outlook.com.example"], None) == "other"
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:5300") == ("::1", 5300)
    assert parse_nameserver("10.0.0.1") == ("10.0.0.1", 53)


async def test_each_domain_is_scanned_once(
    engine: Engine, dns_server: FakeDNS, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    referrals = [
        make_referral(email="a@contoso-m365.com"),
        make_referral(email="b@Contoso-M365.com", type="Independent", invited_by="msft"),
        make_referral(email="c@fabrikam-google.com", type="Independent", invited_by="msft"),
        make_referral(email="d@does-not-exist.com"),
    ]
    sim = await start_simulator(referrals, page_cap=1)
    settings = make_settings(scan_enabled=True, dns_nameservers=[dns_server.address], dns_timeout_seconds=0.5)
    client = make_client(sim)

    def deps() -> SyncDeps:
        return SyncDeps(settings, engine, client, DomainScanner.from_settings(settings))

    run = await run_sync(deps())
    assert run.status == "success" and run.scanned == 3
    assert dns_server.queries_for("contoso-m365.com") == 3  # MX, TXT, DMARC: once, for two referrals

    with Session(engine) as session:
        scans = {s.domain: s for s in session.scalars(select(DomainScan))}
        leads = {lead.domain: lead for lead in session.scalars(select(Lead))}
    assert scans["contoso-m365.com"].provider == "m365"
    assert scans["does-not-exist.com"].error and "NXDOMAIN" in scans["does-not-exist.com"].error
    assert (leads["contoso-m365.com"].segment, leads["contoso-m365.com"].score) == ("Existing", 75)
    assert leads["contoso-m365.com"].score_reasons[0].startswith("Microsoft 365 mail (MX contoso-m365-com.mail")
    assert (leads["fabrikam-google.com"].segment, leads["fabrikam-google.com"].score) == ("Migration", 50)
    assert leads["does-not-exist.com"].segment == "Cold"

    sim.store.update(referrals[0]["id"], {"status": "Active", "substatus": "Accepted"})
    again = await run_sync(deps(), force_full=True)
    assert again.updated == 1 and again.scanned == 0
    assert dns_server.queries_for("contoso-m365.com") == 3


async def test_scan_disabled_skips_the_stage(
    engine: Engine, dns_server: FakeDNS, start_simulator: StartSimulator, make_client: MakeClient
) -> None:
    sim = await start_simulator([make_referral(email="a@contoso-m365.com")])
    settings = make_settings(scan_enabled=False, dns_nameservers=[dns_server.address])
    run = await run_sync(SyncDeps(settings, engine, make_client(sim), DomainScanner.from_settings(settings)))
    assert run.scanned == 0 and dns_server.queries_for("contoso-m365.com") == 0
    with Session(engine) as session:
        (lead,) = session.scalars(select(Lead))
    assert lead.segment == "Unscanned"
