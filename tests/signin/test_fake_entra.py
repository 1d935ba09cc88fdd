"""The fake Entra ID against real MSAL (nothing patched) and over plain HTTP."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import msal
import pytest
import requests
from cryptography import x509

from sandbox.entra import BackgroundServer, FakeEntra, TlsFiles, create_app
from sandbox.entra.app import DEVICE_CODE_GRANT
from tests.signin.conftest import CLIENT_ID, SCOPE, TENANT_ID, approve_when_pending


def _msal_app(entra_url: str, cache: msal.SerializableTokenCache | None = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        CLIENT_ID,
        authority=f"{entra_url}/{TENANT_ID}",
        token_cache=cache or msal.SerializableTokenCache(),
        instance_discovery=False,
    )


async def _signed_in(
    entra: FakeEntra, entra_url: str, username: str = "ada@contoso.example"
) -> tuple[msal.PublicClientApplication, dict[str, object]]:
    app = await asyncio.to_thread(_msal_app, entra_url)
    flow = await asyncio.to_thread(app.initiate_device_flow, scopes=[SCOPE])
    waiting = asyncio.create_task(asyncio.to_thread(app.acquire_token_by_device_flow, flow))
    await approve_when_pending(entra, username)
    result = await waiting
    return app, result


async def test_device_flow_pending_then_approved_gives_tokens_and_an_account(entra: FakeEntra, entra_url: str) -> None:
    app = await asyncio.to_thread(_msal_app, entra_url)
    flow = await asyncio.to_thread(app.initiate_device_flow, scopes=[SCOPE])
    assert flow["user_code"] and flow["verification_uri"].startswith(entra_url)
    assert flow["interval"] == 1 and flow["expires_in"] == 900 and flow["user_code"] in flow["message"]

    waiting = asyncio.create_task(asyncio.to_thread(app.acquire_token_by_device_flow, flow))
    while not entra.token_requests(DEVICE_CODE_GRANT):  # MSAL polls; the fake says authorization_pending
        await asyncio.sleep(0.05)
    assert not waiting.done()
    entra.approve(flow["user_code"], "ada@contoso.example")
    result = await waiting

    assert "access_token" in result and "refresh_token" in result, result.get("error")
    assert result["id_token_claims"]["preferred_username"] == "ada@contoso.example"
    assert entra.is_valid_access_token(result["access_token"])
    assert not entra.is_valid_access_token("made-up-token")
    accounts = await asyncio.to_thread(app.get_accounts)
    assert [a["username"] for a in accounts] == ["ada@contoso.example"]
    paths = {r.path for r in entra.requests}
    assert f"/{TENANT_ID}/v2.0/.well-known/openid-configuration" in paths  # what MSAL asks first
    assert f"/{TENANT_ID}/oauth2/v2.0/devicecode" in paths


async def test_declined_and_expired_device_codes(entra: FakeEntra, entra_url: str) -> None:
    app = await asyncio.to_thread(_msal_app, entra_url)
    flow = await asyncio.to_thread(app.initiate_device_flow, scopes=[SCOPE])
    waiting = asyncio.create_task(asyncio.to_thread(app.acquire_token_by_device_flow, flow))
    await approve_when_pending(entra, decline=True)
    assert (await waiting)["error"] == "authorization_declined"

    entra.device_code_lifetime = 0
    flow = await asyncio.to_thread(app.initiate_device_flow, scopes=[SCOPE])
    flow["expires_at"] = 0  # MSAL asks once and stops
    result = await asyncio.to_thread(app.acquire_token_by_device_flow, flow)
    assert result["error"] == "expired_token"


async def test_silent_refresh_after_access_token_expiry(entra: FakeEntra, entra_url: str) -> None:
    app, first = await _signed_in(entra, entra_url)
    account = (await asyncio.to_thread(app.get_accounts))[0]

    cached = await asyncio.to_thread(app.acquire_token_silent_with_error, [SCOPE], account)
    assert cached["access_token"] == first["access_token"]  # an hour left: MSAL uses its cache

    assert entra.expire_access_tokens() == 1
    assert not entra.is_valid_access_token(str(first["access_token"]))
    refreshed = await asyncio.to_thread(app.acquire_token_silent_with_error, [SCOPE], account, force_refresh=True)
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != first["access_token"]
    assert entra.is_valid_access_token(refreshed["access_token"])

    entra.access_token_lifetime = 120  # under MSAL's five-minute margin: every silent call refreshes
    await asyncio.to_thread(app.acquire_token_silent_with_error, [SCOPE], account, force_refresh=True)
    again = await asyncio.to_thread(app.acquire_token_silent_with_error, [SCOPE], account)
    assert again["token_source"] == "identity_provider"


async def test_revoked_refresh_token_is_invalid_grant(entra: FakeEntra, entra_url: str) -> None:
    app, _ = await _signed_in(entra, entra_url)
    account = (await asyncio.to_thread(app.get_accounts))[0]
    assert entra.revoke("someone-else@contoso.example") == 0
    assert entra.revoke("ADA@contoso.example") == 1
    result = await asyncio.to_thread(app.acquire_token_silent_with_error, [SCOPE], account, force_refresh=True)
    assert result["error"] == "invalid_grant"
    assert "revoked" in result["error_description"]


async def test_http_controls_and_bad_input(entra: FakeEntra, entra_url: str, tls_files: TlsFiles) -> None:
    connector = aiohttp.TCPConnector(ssl=tls_files.client_context())
    async with aiohttp.ClientSession(entra_url, connector=connector) as http:
        async with http.post(
            f"/{TENANT_ID}/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": SCOPE}
        ) as resp:
            code = await resp.json()
        token_form = {
            "grant_type": DEVICE_CODE_GRANT,
            "client_id": CLIENT_ID,
            "device_code": code["device_code"],
        }
        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=token_form) as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "authorization_pending"

        async with http.post("/_sandbox/approve", data="not json") as resp:
            assert resp.status == 400
        async with http.post("/_sandbox/approve", json={"user_code": "NOSUCHCODE"}) as resp:
            assert resp.status == 404
        async with http.get("/_sandbox/approve") as resp:
            assert resp.status == 400 and "code=" in await resp.text()
        async with http.get("/devicelogin") as resp:
            assert code["user_code"] in await resp.text()
        async with http.get("/_sandbox/approve", params={"code": code["user_code"].lower()}) as resp:
            assert resp.status == 200 and (await resp.text()).strip() == "approved"

        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=token_form) as resp:
            tokens = await resp.json()
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=token_form) as resp:
            assert (await resp.json())["error"] == "invalid_grant"  # a device code is redeemed once
        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data={"grant_type": "password"}) as resp:
            assert (await resp.json())["error"] == "unsupported_grant_type"

        async with http.post("/_sandbox/expire-access-tokens") as resp:
            assert (await resp.json()) == {"expired": 1}
        assert not entra.is_valid_access_token(tokens["access_token"])
        refresh_form = {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": tokens["refresh_token"],
        }
        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=refresh_form) as resp:
            assert entra.is_valid_access_token((await resp.json())["access_token"])
        async with http.post("/_sandbox/revoke") as resp:
            assert (await resp.json())["revoked"] >= 1
        async with http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=refresh_form) as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


def test_certificate_names_and_trust(tls_files: TlsFiles) -> None:
    cert = x509.load_pem_x509_certificate(tls_files.server_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert b"PRIVATE KEY" not in tls_files.ca_cert.read_bytes()
    assert oct(tls_files.server_key.stat().st_mode & 0o777) == "0o600"


def test_background_thread_serves_blocking_msal(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a thread of its own, the fake serves MSAL called straight from (blocking) test code."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_cert))
    entra = FakeEntra(poll_interval=1)
    with BackgroundServer(create_app(entra), ssl_context=tls_files.server_context()) as server:
        app = _msal_app(server.url)
        flow = app.initiate_device_flow(scopes=[SCOPE])
        assert entra.approve(flow["user_code"])
        result = app.acquire_token_by_device_flow(flow)
        assert entra.is_valid_access_token(result["access_token"])
        # the certificate also names localhost
        localhost = server.url.replace("127.0.0.1", "localhost")
        assert requests.get(f"{localhost}/devicelogin", timeout=10).status_code == 200


def test_untrusted_without_the_ca(tls_files: TlsFiles, tmp_path: Path) -> None:
    other_ca = str(_other_ca(tmp_path))
    server = BackgroundServer(create_app(FakeEntra()), ssl_context=tls_files.server_context())
    with server, pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.url}/devicelogin", timeout=10, verify=other_ca)


def _other_ca(tmp_path: Path) -> Path:
    from sandbox.entra import generate_tls

    return generate_tls(tmp_path / "other-ca.pem").ca_cert


def test_client_context_is_strict(tls_files: TlsFiles) -> None:
    context = tls_files.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


async def test_serve_on_the_running_loop(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `python -m sandbox` uses: HTTPS on this loop, MSAL in a worker thread."""
    from sandbox.entra import serve

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_cert))
    entra = FakeEntra(poll_interval=1)
    running = await serve(create_app(entra), ssl_context=tls_files.server_context(), port=0)
    try:
        assert running.url.startswith("https://127.0.0.1:")
        app = await asyncio.to_thread(_msal_app, running.url)
        flow = await asyncio.to_thread(app.initiate_device_flow, scopes=[SCOPE])
        assert entra.approve(flow["user_code"])
        result = await asyncio.to_thread(app.acquire_token_by_device_flow, flow)
        assert entra.is_valid_access_token(result["access_token"])
    finally:
        await running.close()


def _device_flow_over(url: str) -> dict[str, object]:
    flow: dict[str, object] = _msal_app(url).initiate_device_flow(scopes=[SCOPE])
    return flow


def test_msal_trusts_the_fake_through_requests_ca_bundle_not_ssl_cert_file(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MSAL uses `requests`, which reads REQUESTS_CA_BUNDLE and ignores SSL_CERT_FILE; the docs must say so."""
    with BackgroundServer(create_app(FakeEntra()), ssl_context=tls_files.server_context()) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_cert))
        with pytest.raises(requests.exceptions.SSLError):
            _device_flow_over(server.url)
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_cert))
        assert "user_code" in _device_flow_over(server.url)

    root = Path(__file__).resolve().parents[2]
    lines = (root / ".env.example").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("AZURE_AUTHORITY_HOST="))
    start = at
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    comment = " ".join(lines[start:at])
    assert "REQUESTS_CA_BUNDLE" in comment
    assert "/ SSL_CERT_FILE" not in comment and "or SSL_CERT_FILE" not in comment
