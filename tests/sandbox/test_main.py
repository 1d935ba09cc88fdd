"""`python -m sandbox` serves the simulator and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def test_python_m_sandbox_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--generate",
        "20",
        "--page-cap",
        "7",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert "25 referrals" in line
        url = line.split(": ", 1)[1].split(" ")[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1.0/engagements/referrals")
        headers = {"Authorization": "Bearer demo"}
        async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as response:
            body = await response.json()
        assert body["@odata.count"] == 25
        assert len(body["value"]) == 7
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        rest = (await process.stdout.read()).decode()
        assert "stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_unreadable_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--seed-file",
        str(bad),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0
    assert "cannot load the seed file" in stderr.decode()
    assert "Traceback" not in stderr.decode()
