from __future__ import annotations

import pytest

from poller.domains import customer_domain, display_domain, is_consumer_domain, normalize_domain


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        (["Priya.Natarajan@NorthwindTraders.CO.UK"], "northwindtraders.co.uk"),
        (["it@mail.example.co.uk"], "example.co.uk"),
        (["ops@eu.west.contoso.com"], "contoso.com"),
        (["x@bücher-haus.de"], "xn--bcher-haus-9db.de"),
        (["x@xn--bcher-haus-9db.de"], "xn--bcher-haus-9db.de"),
        (["x@BÜCHER-HAUS.DE"], "xn--bcher-haus-9db.de"),
        (["", None, "nobody", "a@b@c", "@contoso.com", "x@", "x@localhost"], None),
        ([None, "", "joe@fabrikam.com"], "fabrikam.com"),
        (["me@gmail.com", "you@hotmail.co.uk", "y@yahoo.fr", "z@gmx.de", "q@outlook.com"], None),
        (["me@gmail.com", "buyer@tailspintoys.com"], "tailspintoys.com"),
        (["x@1.2.3.4"], None),
        ([" spaced@contoso.com "], "contoso.com"),
        ([], None),
    ],
)
def test_customer_domain(emails: list[str | None], expected: str | None) -> None:
    assert customer_domain(emails) == expected


def test_idn_round_trip_for_display() -> None:
    assert display_domain("xn--bcher-haus-9db.de") == "bücher-haus.de"
    assert normalize_domain("bücher-haus.de") == normalize_domain("xn--bcher-haus-9db.de")


@pytest.mark.parametrize("domain", ["gmail.com", "hotmail.com", "hotmail.de", "yahoo.co.jp", "proton.me", "qq.com"])
def test_consumer_domains(domain: str) -> None:
    assert is_consumer_domain(domain)


def test_company_domain_is_not_consumer() -> None:
    assert not is_consumer_domain("contoso.com")
