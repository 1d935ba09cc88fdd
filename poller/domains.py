"""The customer's domain, from the email addresses of the customer's contacts.

Canonical form: **lower-case ASCII (punycode, IDNA 2008 with UTS #46 mapping)**, e.g. `bücher.example` and
`xn--bcher-kva.example` both become `xn--bcher-kva.example`. ASCII is what DNS asks for and what the `lead`
table is keyed by; show `display_domain()` to people. Use `normalize_domain()` on user input (e.g. the
`lead <domain>` command) so both sides agree.

The registrable domain comes from `tldextract` with its bundled Public Suffix List snapshot only (never
fetched): `it@mail.example.co.uk` → `example.co.uk`. Consumer mail domains are skipped (see below).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import idna
import tldextract

# Free / consumer mailbox providers: an address there says nothing about the customer's organisation.
# Entries ending in ".*" match that name under any public suffix (hotmail.co.uk, yahoo.fr, gmx.de …).
CONSUMER_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "passport.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "web.de",
        "mail.ru",
        "inbox.ru",
        "list.ru",
        "bk.ru",
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "zoho.com",
        "zohomail.com",
        "fastmail.com",
        "tutanota.com",
        "tuta.io",
        "hey.com",
        "mail.com",
        "email.com",
        "gmx.com",
        "t-online.de",
        "freenet.de",
        "libero.it",
        "orange.fr",
        "laposte.net",
        "free.fr",
        "naver.com",
        "daum.net",
        "rediffmail.com",
        "comcast.net",
        "att.net",
        "verizon.net",
        "btinternet.com",
        "sky.com",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
    }
)
CONSUMER_NAMES: frozenset[str] = frozenset({"hotmail", "yahoo", "ymail", "gmx", "yandex", "outlook", "live"})

_EXTRACT = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def is_consumer_domain(domain: str) -> bool:
    """True for free mailbox providers (`gmail.com`, `hotmail.co.uk`, `yahoo.fr` …)."""
    if domain in CONSUMER_DOMAINS:
        return True
    return domain.split(".", 1)[0] in CONSUMER_NAMES


_PLAIN_ASCII_HOST = re.compile(r"(?!.*(?:^|\.)xn--)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+")


@lru_cache(maxsize=65536)
def normalize_domain(text: str) -> str | None:
    """The registrable domain of a host name or domain in canonical form; None when there is none."""
    host = text.strip().rstrip(".").lower()
    if not host or " " in host or "@" in host or ".." in host:
        return None
    if _PLAIN_ASCII_HOST.fullmatch(host):
        ascii_host = host  # nothing for IDNA to do, and it is the costliest step of a sync
    else:
        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    parts = _EXTRACT(ascii_host)
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}"


def display_domain(domain: str) -> str:
    """The Unicode form of a canonical domain, for people."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def email_domain(email: str | None) -> str | None:
    """The registrable, non-consumer domain of one email address; None when unusable."""
    if not email or not isinstance(email, str) or email.count("@") != 1:
        return None
    local, host = email.strip().split("@")
    if not local or not host:
        return None
    domain = normalize_domain(host)
    if domain is None or is_consumer_domain(domain):
        return None
    return domain


def customer_domain(emails: Iterable[str | None]) -> str | None:
    """The first usable domain among the contacts' emails, in their order."""
    for email in emails:
        domain = email_domain(email)
        if domain is not None:
            return domain
    return None
