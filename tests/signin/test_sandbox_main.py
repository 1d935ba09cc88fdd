"""`python -m sandbox` also serves the fake Entra ID: a real device-code sign-in against the running process."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import msal
import pytest
import requests

from tests.signin.conftest import CLIENT_ID, SCOPE

REPO = Path(__file__).resolve().parents[2]


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 30)).decode()


async def test_sandbox_process_serves_entra_and_partner_center_accepts_its_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca" / "sandbox-ca.pem"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--entra-port",
        "0",
        "--ca-file",
        str(ca_file),
        "--entra-tokens-only",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        partner_center = re.search(r"(http://127\.0\.0\.1:\d+)", await _line(process.stdout))
        entra = re.search(r"AZURE_AUTHORITY_HOST=(https://127\.0\.0\.1:\d+)", await _line(process.stdout))
        assert partner_center and entra
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))

        def sign_in() -> str:
            assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
            app = msal.PublicClientApplication(
                CLIENT_ID, authority=f"{entra.group(1)}/organizations", instance_discovery=False
            )
            flow = app.initiate_device_flow(scopes=[SCOPE])
            approved = requests.get(f"{entra.group(1)}/_sandbox/approve?code={flow['user_code']}", timeout=10)
            assert approved.text.strip() == "approved"
            return str(app.acquire_token_by_device_flow(flow)["access_token"])

        token = await asyncio.to_thread(sign_in)
        url = f"{partner_center.group(1)}/v1.0/engagements/referrals"
        good = await asyncio.to_thread(requests.get, url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        bad = await asyncio.to_thread(requests.get, url, headers={"Authorization": "Bearer made-up"}, timeout=10)
        assert (good.status_code, bad.status_code) == (200, 401)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
