"""Inbound Bot Framework authentication: every failure is a 401, a properly signed token is accepted."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from botframework.connector.auth import ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.app import SERVICES, create_app
from storage.models import ConversationRef
from tests.bot.conftest import Simulator, bot_settings
from tests.fakes.activities import Teams
from tests.fakes.connector import FakeConnector

BOT_APP_ID = "11111111-2222-3333-4444-555555555555"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key-1"


class _OpenIdServer:
    """Bot Framework's OpenID metadata and keys, on loopback, in a thread (the SDK fetches them synchronously)."""

    def __init__(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
        jwk.update(kid=KID, use="sig", endorsements=["msteams"])
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/openid"):
                    body: Any = {
                        "issuer": "https://api.botframework.com",
                        "jwks_uri": f"{server.url}/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                else:
                    body = {"keys": [jwk]}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{uuid.uuid4().hex}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def openid() -> Iterator[_OpenIdServer]:
    server = _OpenIdServer()
    yield server
    server.httpd.shutdown()


def token(service_url: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://api.botframework.com",
        "aud": BOT_APP_ID,
        "serviceurl": service_url,
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
async def secured(
    sqlite_url: str,
    simulator: Simulator,
    connector: FakeConnector,
    openid: _OpenIdServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[TestClient, Teams, Any]]:
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", f"{openid.url}/openid")
    settings = bot_settings(
        sqlite_url,
        simulator.url,
        bot_id=BOT_APP_ID,
        bot_password="not-used",
        bot_type="SingleTenant",
        bot_tenant_id="b28fdbfd-2b78-4f93-b0f8-8881793f0f8f",
    )
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, Teams(connector.url), app[SERVICES]
    await client.close()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer garbage",
        "Basic dXNlcjpwYXNz",
        "expired",
        "wrong-audience",
        "wrong-service-url",
        "wrong-issuer",
        "unknown-key",
    ],
)
async def test_every_authentication_failure_is_401(secured: tuple[TestClient, Teams, Any], header: str | None) -> None:
    client, teams, _ = secured
    activity = teams.installation()
    now = int(time.time())
    headers = {
        "expired": f"Bearer {token(teams.service_url, exp=now - 3600, nbf=now - 7200, iat=now - 7200)}",
        "wrong-audience": f"Bearer {token(teams.service_url, aud='someone-else')}",
        "wrong-service-url": f"Bearer {token('https://elsewhere.example/')}",
        "wrong-issuer": f"Bearer {token(teams.service_url, iss='https://evil.example')}",
        "unknown-key": "Bearer "
        + jwt.encode(
            {"aud": BOT_APP_ID},
            rsa.generate_private_key(65537, 2048),
            algorithm="RS256",
            headers={"kid": "other"},
        ),
    }
    sent = {"Authorization": headers.get(header or "", header or "")} if header else {}
    response = await client.post("/api/messages", json=activity, headers=sent)
    assert response.status == 401


async def test_a_properly_signed_token_is_accepted(secured: tuple[TestClient, Teams, Any]) -> None:
    client, teams, services = secured
    response = await client.post(
        "/api/messages",
        json=teams.installation(),
        headers={"Authorization": f"Bearer {token(teams.service_url)}"},
    )
    assert response.status in (200, 201)
    row = await services.db(lambda s: s.get(ConversationRef, "19:sales-channel@thread.tacv2"))
    assert row is not None and row.service_url == teams.service_url


BAD_BODIES: list[tuple[str, str]] = [
    ("text/plain", "hello"),
    ("application/json", "{nope"),
    ("application/json", "[" * 100_000 + "]" * 100_000),
    ("application/json", '{"text": "help"}'),
    ("application/json", '{"type": "message", "timestamp": "not a time"}'),
]


@pytest.mark.parametrize(("content_type", "body"), BAD_BODIES, ids=["plain", "json", "nested", "untyped", "unreadable"])
@pytest.mark.parametrize("header", [None, "Bearer garbage"])
async def test_without_a_valid_token_even_a_bad_body_is_401(
    secured: tuple[TestClient, Teams, Any], content_type: str, body: str, header: str | None
) -> None:
    """The token is judged first: whoever has none learns nothing about the body, and never sees a 500."""
    client, _, _ = secured
    headers = {"Content-Type": content_type, **({"Authorization": header} if header else {})}
    response = await client.post("/api/messages", data=body, headers=headers)
    assert response.status == 401


@pytest.mark.parametrize(("content_type", "body"), BAD_BODIES, ids=["plain", "json", "nested", "untyped", "unreadable"])
async def test_with_a_valid_token_a_bad_body_gets_its_4xx(
    secured: tuple[TestClient, Teams, Any], content_type: str, body: str
) -> None:
    client, teams, _ = secured
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {token(teams.service_url)}"}
    response = await client.post("/api/messages", data=body, headers=headers)
    assert response.status in (400, 415), await response.text()
