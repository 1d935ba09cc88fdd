"""Browser tests: the whole demo (`python -m sandbox.demo`) driven through Agents Playground in headless Chromium.

The stack runs once per module as a child process (the same command as `./dev demo`, with `--ready-file` and
no trickle); every test gets a fresh page. The Python `playwright` package drives Debian's `chromium` (never a
downloaded browser); its sync API is used from plain `def` tests, outside pytest-asyncio's loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.playground import child_preexec, node_available
from tests.e2e.playground_page import ChatPage

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POLL_SECONDS = 3  # the bot's scheduled sync in the tests: a new referral's card follows within a few seconds


def _why_not() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian chromium is not installed (./dev test installs it)"
    reason = node_available()
    if reason:
        return reason
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python playwright package is not installed (./dev setup installs the dev extra)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _why_not()
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Stack:
    """The running demo: its URLs (from the ready file) and a few calls the tests make around the browser."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.playground_url: str = info["playground"]
        self.partner_center_url: str = info["partner_center"]
        self.token: str = info["token"]
        self.console_url: str = info["console"]

    def pending_sign_in_codes(self) -> list[str]:
        codes: list[str] = httpx.get(f"{self.console_url}/pending", timeout=10).json()["pending"]
        return codes

    def approve_sign_in(self, code: str) -> None:
        """What the person does on the sign-in page: the demo console's plain-HTTP approve link."""
        response = httpx.get(f"{self.console_url}/approve", params={"code": code}, timeout=10)
        assert response.status_code == 200, response.text

    def add_referral(self, referral: dict[str, Any]) -> None:
        response = httpx.post(f"{self.partner_center_url}/_sandbox/referrals", json=referral, timeout=10)
        assert response.status_code == 201, response.text

    def change_referral(self, referral_id: str, changes: dict[str, Any]) -> None:
        """A change made in Partner Center itself (not through the bot)."""
        response = httpx.patch(f"{self.partner_center_url}/_sandbox/referrals/{referral_id}", json=changes, timeout=10)
        assert response.status_code == 200, response.text

    def referral(self, referral_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.partner_center_url}/v1.0/engagements/referrals/{referral_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("demo")
    ready = state / "ready.json"
    log = (state / "demo.out").open("wb")
    args = [
        sys.executable,
        "-m",
        "sandbox.demo",
        "--state-dir",
        str(state),
        "--ready-file",
        str(ready),
        "--no-trickle",
        "--generate",
        "5",
        "--poll-interval",
        str(POLL_SECONDS),
        "--playground-port",
        str(_free_port()),
    ]
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=child_preexec,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not start:\n{(state / 'demo.out').read_text(errors='replace')}")
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        yield Stack(info)
    finally:
        _stop(process)
        log.close()
    left = [pid for pid in info.get("children", []) if _alive(pid)]
    assert not left, f"the demo left processes behind: {left}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a supervisor would send; the demo stops its children itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie still answers kill(0); it is not running
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    return True


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def chat(stack: Stack, browser: Any, request: pytest.FixtureRequest) -> Iterator[ChatPage]:
    """A fresh page on the playground (a new page also re-installs the bot in the personal chat)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    chat = ChatPage(page, stack.playground_url)
    try:
        chat.open()
    except Exception:
        _screenshot(page, f"{request.node.name}-setup")
        context.close()
        raise
    yield chat
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        _screenshot(page, request.node.name)
    context.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
