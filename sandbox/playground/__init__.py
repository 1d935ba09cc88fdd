"""Microsoft 365 Agents Playground for the demo and the browser tests: fixed ids and a launcher.

The ids below are the ones in `.m365agentsplayground.yml` beside this file (the playground reads that file; the
bot is told the admin and the sales channel through its settings before anyone opens the page).

    playground = await start_playground(bot_endpoint, port=56150, workdir=Path(".demo/playground"))
    playground.url        # http://127.0.0.1:<the port it really took>
    await playground.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = Path(__file__).resolve().parent / ".m365agentsplayground.yml"
CLI = ROOT / "tools" / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"

TENANT_ID = "00000000-0000-0000-0000-0000000000001"
BOT_ID = "00000000-0000-0000-0000-00000000000011"
BOT_NAME = "Referral Radar"
ADMIN_ID = "user-id-0"
ADMIN_NAME = "Alex Wilber"
ADMIN_AAD_OBJECT_ID = "00000000-0000-0000-0000-0000000000020"
PERSONAL_CHAT_ID = "a:demo-personal-alex"
GROUP_CHAT_ID = "19:demo-deal-desk@thread.v2"
TEAM_NAME = "Sales"
SALES_CHANNEL_ID = "19:sales-general@thread.tacv2"  # the team's General channel: its id is the team id
SALES_CHANNEL_TREE_NAME = f"{TEAM_NAME} - General"  # how the playground's conversation list names it

_LISTENING = re.compile(r"Listening on (\d+)")


class PlaygroundError(RuntimeError):
    """The playground could not be started (node or the npm package missing, or it exited)."""


@dataclass
class Playground:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def install_in(self, conversation_id: str) -> None:
        """What opening a chat or team in the page does: the bot gets installationUpdate + conversationUpdate."""
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{self.url}/_debug/conversation/{conversation_id}/installation", json={})
            response.raise_for_status()

    async def stop(self, grace: float = 5.0) -> None:
        await stop_process(self.process, grace)


def node_available() -> str | None:
    """Why the playground cannot run here, or None when it can."""
    if not _which("node"):
        return "node is not installed (./dev demo or ./dev test installs it)"
    if not CLI.is_file():
        return f"the playground is not installed at {CLI} (./dev demo or ./dev test installs it)"
    return None


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()  # loaded here: a child between fork and exec must not import anything
_PR_SET_PDEATHSIG = 1


def child_preexec() -> None:
    """Run in a child before exec (with `start_new_session=True`): SIGTERM it when its parent dies (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], *, env: dict[str, str], cwd: Path, log: IO[Any]) -> subprocess.Popen[bytes]:
    """Start a child in its own process group (so Ctrl-C reaches only us; we stop it), output into `log`."""
    return subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=child_preexec,
    )


async def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the child's whole process group, then SIGKILL it if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), grace)
            break
        except TimeoutError:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # anything the child left in its group


async def start_playground(
    bot_endpoint: str, *, port: int, workdir: Path, log_file: Path, timeout: float = 60.0
) -> Playground:
    """Start the playground for `bot_endpoint`; returns once it answers `/_debug/ping` on the port it took."""
    reason = node_available()
    if reason:
        raise PlaygroundError(reason)
    process, offset = _launch(bot_endpoint, port, workdir, log_file)
    try:
        real_port = await _wait_for_port(process, log_file, offset, timeout)
        playground = Playground(process, real_port, log_file)
        await _wait_for_ping(playground, process, timeout)
    except BaseException:
        await stop_process(process)
        raise
    return playground


def _launch(bot_endpoint: str, port: int, workdir: Path, log_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start node with the demo config; returns the process and where its output starts in `log_file`."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",  # otherwise it tries to open a browser and exits
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(CONFIG_FILE),
    }
    args = ["node", str(CLI), "-e", bot_endpoint, "-c", "msteams", "-p", str(port), "--dt"]
    offset = log_file.stat().st_size if log_file.exists() else 0
    with log_file.open("ab") as log:
        return spawn(args, env=env, cwd=workdir, log=log), offset


def _reported_port(log_file: Path, offset: int) -> int | None:
    found = _LISTENING.findall(log_file.read_bytes()[offset:].decode(errors="replace"))
    return int(found[-1]) if found else None


async def _wait_for_port(process: subprocess.Popen[bytes], log_file: Path, offset: int, timeout: float) -> int:
    """The port it listens on, read from its output (it silently takes another one when ours is busy)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = _reported_port(log_file, offset)
        if found:
            return found
        if process.poll() is not None:
            raise PlaygroundError(f"the playground exited ({process.returncode}); see {log_file}")
        await asyncio.sleep(0.2)
    raise PlaygroundError(f"the playground did not report its port within {timeout:.0f} s; see {log_file}")


async def _wait_for_ping(playground: Playground, process: subprocess.Popen[bytes], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{playground.url}/_debug/ping")).text.strip() == "pong":
                    return
            if process.poll() is not None:
                raise PlaygroundError(f"the playground exited ({process.returncode}); see {playground.log_file}")
            await asyncio.sleep(0.3)
    raise PlaygroundError(f"the playground did not answer on {playground.url} within {timeout:.0f} s")
