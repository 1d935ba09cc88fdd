"""A loopback DNS server (dnslib, UDP, in a thread) serving MX and TXT records for test domains.

    with FakeDNS({"contoso.com": {"MX": [(10, "contoso-com.mail.protection.outlook.com")],
                                  "TXT": ["v=spf1 include:spf.protection.outlook.com -all"]},
                  "_dmarc.contoso.com": {"TXT": ["v=DMARC1; p=reject"]}}) as dns:
        settings = Settings(dns_nameservers=[dns.address])      # "127.0.0.1:<port>"
        ...
        dns.queries_for("contoso.com")                          # how many questions were asked about it

A name absent from the zones gets NXDOMAIN; a name present without the asked type gets an empty answer.
Names in `silent` get no reply at all (the client times out).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from dnslib import MX, QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

Zones = Mapping[str, Mapping[str, list[Any]]]


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, owner: FakeDNS) -> None:
        self.owner = owner

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord | None:
        qname = _norm(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        with self.owner.lock:
            self.owner.queries[(qname, qtype)] += 1
        if qname in self.owner.silent:
            return None
        reply = request.reply()
        zone = self.owner.zones.get(qname)
        if zone is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in zone.get(qtype, []):
            if qtype == "MX":
                preference, host = value
                reply.add_answer(RR(request.q.qname, QTYPE.MX, rdata=MX(host, preference), ttl=60))
            elif qtype == "TXT":
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply


class _UDPHandler(DNSHandler):  # type: ignore[misc]
    """Answers over UDP; sends nothing when the resolver returns None (so the client times out)."""

    def handle(self) -> None:
        data, connection = self.request
        try:
            reply = self.server.resolver.resolve(DNSRecord.parse(data), self)
        except Exception:  # a garbage packet: no answer
            return
        if reply is not None:
            connection.sendto(reply.pack(), self.client_address)


class FakeDNS:
    """The server; use as a context manager or call start()/stop()."""

    def __init__(self, zones: Zones, *, silent: Iterable[str] = ()) -> None:
        self.zones = {_norm(name): dict(records) for name, records in zones.items()}
        self.silent = {_norm(name) for name in silent}
        self.queries: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self._server = DNSServer(
            _Resolver(self), port=0, address="127.0.0.1", logger=DNSLogger("-"), handler=_UDPHandler
        )

    @property
    def port(self) -> int:
        return int(self._server.server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def queries_for(self, domain: str) -> int:
        """Questions asked about `domain` itself or `_dmarc.<domain>`."""
        name = _norm(domain)
        with self.lock:
            return sum(n for (qname, _), n in self.queries.items() if qname in (name, f"_dmarc.{name}"))

    def start(self) -> FakeDNS:
        self._server.start_thread()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()

    def __enter__(self) -> FakeDNS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
