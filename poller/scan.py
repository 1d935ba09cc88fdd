"""Domain scan: who hosts a customer's mail, from DNS (MX, SPF at the domain, DMARC at `_dmarc.<domain>`).

Provider:
- `m365`: an MX under `mail.protection.outlook.com`, or SPF `include:spf.protection.outlook.com`
- `google`: an MX under `google.com` / `googlemail.com` (aspmx.l.google.com …),
  or SPF `include:_spf.google.com`
- `other`: some other MX
- `none`: no MX (NXDOMAIN, no answer, a null MX, or the lookup failed; the failure is kept in `error`)

Resolvers: `DNS_NAMESERVERS` (`host:port`, `[v6]:port`, or a bare host for port 53); empty = the system's.
Each query has `dns_timeout_seconds`; at most `scan_concurrency` domains are scanned at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from core.settings import Settings, parse_nameserver

log = logging.getLogger(__name__)

M365_MX_SUFFIX = "mail.protection.outlook.com"
GOOGLE_MX_SUFFIXES = ("google.com", "googlemail.com")
M365_SPF_INCLUDE = "spf.protection.outlook.com"
GOOGLE_SPF_INCLUDE = "_spf.google.com"


@dataclass(slots=True)
class ScanResult:
    domain: str
    provider: str = "none"
    mx_hosts: list[str] = field(default_factory=list)
    spf: str | None = None
    dmarc: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) if self.errors else None


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def spf_includes(spf: str | None) -> set[str]:
    if not spf:
        return set()
    return {token.split(":", 1)[1].lower() for token in spf.split() if token.lower().startswith("include:")}


def provider_from(mx_hosts: list[str], spf: str | None) -> str:
    includes = spf_includes(spf)
    if any(_under(h, M365_MX_SUFFIX) for h in mx_hosts) or M365_SPF_INCLUDE in includes:
        return "m365"
    if any(_under(h, s) for h in mx_hosts for s in GOOGLE_MX_SUFFIXES) or GOOGLE_SPF_INCLUDE in includes:
        return "google"
    return "other" if mx_hosts else "none"


class DomainScanner:
    """Scans domains with dnspython's async resolver, bounded in time and concurrency."""

    def __init__(self, *, nameservers: Iterable[str] = (), timeout: float = 3.0, concurrency: int = 20) -> None:
        servers = [parse_nameserver(s) for s in nameservers]
        self._servers = servers
        self._timeout = timeout
        self._semaphore = asyncio.Semaphore(concurrency)
        self._resolver: dns.asyncresolver.Resolver | None = None
        self.queries = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> DomainScanner:
        return cls(
            nameservers=settings.dns_nameservers,
            timeout=settings.dns_timeout_seconds,
            concurrency=settings.scan_concurrency,
        )

    def _get_resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self._servers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in self._servers]
            else:
                resolver = dns.asyncresolver.Resolver(configure=True)
            resolver.timeout = self._timeout
            resolver.lifetime = self._timeout
            self._resolver = resolver
        return self._resolver

    async def scan_many(self, domains: Iterable[str]) -> list[ScanResult]:
        return list(await asyncio.gather(*(self.scan(d) for d in domains)))

    async def scan(self, domain: str) -> ScanResult:
        """MX, SPF and DMARC of one domain; never raises for DNS trouble (it goes into `errors`)."""
        result = ScanResult(domain)
        async with self._semaphore:
            try:
                resolver = self._get_resolver()
            except dns.resolver.NoResolverConfiguration as exc:
                result.errors.append(f"no resolver: {exc}")
                return result
            mx, txt, dmarc = await asyncio.gather(
                self._query(resolver, domain, "MX", result),
                self._query(resolver, domain, "TXT", result),
                self._query(resolver, f"_dmarc.{domain}", "TXT", result),
            )
        hosts = []
        for rdata in sorted(mx, key=lambda r: r.preference):
            host = rdata.exchange.to_text(omit_final_dot=True).lower()
            if host and host != ".":  # a null MX ("0 .") means: no mail here
                hosts.append(host)
        result.mx_hosts = hosts
        result.spf = _first_txt(txt, "v=spf1")
        result.dmarc = _first_txt(dmarc, "v=dmarc1")
        result.provider = provider_from(hosts, result.spf)
        return result

    async def _query(
        self, resolver: dns.asyncresolver.Resolver, name: str, rdtype: str, result: ScanResult
    ) -> list[Any]:
        self.queries += 1
        try:
            answer = await resolver.resolve(name, rdtype, lifetime=self._timeout)
        except dns.resolver.NXDOMAIN:
            if not name.startswith("_dmarc."):  # no DMARC record is normal, not a failure
                result.errors.append(f"{rdtype} {name}: NXDOMAIN")
        except dns.resolver.NoAnswer:
            pass  # the name exists but has no such record: not an error
        except dns.exception.Timeout:
            result.errors.append(f"{rdtype} {name}: timeout")
        except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
            result.errors.append(f"{rdtype} {name}: {type(exc).__name__}")
        except OSError as exc:
            result.errors.append(f"{rdtype} {name}: {exc}")
        else:
            return list(answer)
        return []


def _first_txt(records: list[Any], prefix: str) -> str | None:
    for rdata in records:
        text = b"".join(rdata.strings).decode("utf-8", "replace").strip()
        if text.lower().startswith(prefix):
            return text
    return None
