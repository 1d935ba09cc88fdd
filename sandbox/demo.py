"""`python -m sandbox.demo` (`./dev demo`): the whole product on loopback, no Azure, no Teams, no Partner Center.

One process tree, supervised until Ctrl-C / SIGTERM:
- in this process: the Partner Center simulator (the documented referrals plus generated ones, and a new incoming
  co-sell referral every 45-60 s), the fake Entra ID over HTTPS (its CA under `.demo/`), and a small demo console
  with a plain-HTTP approve link for `/login`;
- `python -m bot` (SQLite under `.demo/`, a scheduled sync every ~15 s, the playground's admin and sales channel);
- Microsoft 365 Agents Playground (`node tools/node_modules/@microsoft/m365agentsplayground/cli.js`).

The browser tests start this same module (`--ready-file`, `--no-trickle`) and read the URLs from the ready file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from cryptography.fernet import Fernet

from sandbox import entra as fake_entra
from sandbox import partner_center, playground
from sandbox.partner_center import ReferralStore, generate_referrals, make_referral
from sandbox.playground import Playground, PlaygroundError, spawn, start_playground, stop_process

ROOT = Path(__file__).resolve().parents[1]
STATIC_TOKEN = "demo-partner-center-token"  # PARTNER_CENTER_ACCESS_TOKEN: syncing works at once
DEMO_CLIENT_ID = "00000000-0000-0000-0000-00000000d3e0"
DEMO_DOMAIN = "northwindtraders.co.uk"  # a documented co-sell referral's customer
HOST = "127.0.0.1"


@dataclass
class DemoOptions:
    state_dir: Path = ROOT / ".demo"
    bot_port: int = 0  # 0: a free one
    playground_port: int = 56150  # the playground moves to a random port when this one is busy
    with_playground: bool = True
    generate: int = 25
    seed: int = 7
    trickle: tuple[float, float] | None = (45.0, 60.0)
    poll_interval: int = 15
    keep_data: bool = False
    scan: bool = False
    ready_file: Path | None = None


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def seeded_store(generate: int, seed: int) -> ReferralStore:
    """The documented referrals (every kind) plus `generate` realistic ones, quirks included."""
    store = ReferralStore.from_file(partner_center.SEED_FILE)
    if generate:
        store.add_many(generate_referrals(generate, seed=seed))
    return store


async def serve_app(app: web.Application, port: int = 0, ssl_context: Any = None) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port, ssl_context=ssl_context).start()
    bound = runner.addresses[0][1]
    return runner, f"{'https' if ssl_context else 'http'}://{HOST}:{bound}"


def console_app(entra: fake_entra.FakeEntra) -> web.Application:
    """`GET /approve?code=XXXX`: approves a `/login` device code at the fake Entra (a plain-HTTP link)."""

    async def approve(request: web.Request) -> web.Response:
        code = request.query.get("code", "").strip()
        username = request.query.get("username") or None
        if entra.approve(code, username):
            return web.Response(text=f"Approved {code}. The bot finishes the sign-in within a few seconds.\n")
        return web.Response(status=404, text=f"No pending sign-in with code {code!r}.\n")

    async def pending(request: web.Request) -> web.Response:
        return web.json_response({"pending": entra.pending_user_codes()})

    app = web.Application()
    app.router.add_get("/approve", approve)
    app.router.add_get("/pending", pending)
    return app


@dataclass
class DemoStack:
    """Everything the demo runs; `start()` brings it up in order, `stop()` takes it down in reverse."""

    options: DemoOptions
    store: ReferralStore = field(init=False)
    entra: fake_entra.FakeEntra = field(
        default_factory=lambda: fake_entra.FakeEntra(poll_interval=2, allowed_client_ids=frozenset({DEMO_CLIENT_ID}))
    )
    urls: dict[str, str] = field(default_factory=dict)
    bot: subprocess.Popen[bytes] | None = None
    playground: Playground | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.options.state_dir / "logs"

    @property
    def ca_file(self) -> Path:
        return self.options.state_dir / "entra-ca.pem"

    async def start(self) -> None:
        state = self.options.state_dir
        self.logs.mkdir(parents=True, exist_ok=True)
        if not self.options.keep_data:
            for name in ("referrals.db", "referrals.db-wal", "referrals.db-shm"):
                (state / name).unlink(missing_ok=True)
        await self._start_sandbox()
        await self._start_bot()
        if self.options.with_playground:
            await self._start_playground()
        self._tasks.append(asyncio.create_task(self._announce_sign_ins(), name="sign-in-links"))
        if self.options.trickle:
            self._tasks.append(asyncio.create_task(self._trickle(*self.options.trickle), name="trickle"))

    async def _start_sandbox(self) -> None:
        self.store = seeded_store(self.options.generate, self.options.seed)
        tls = fake_entra.generate_tls(self.ca_file, self.options.state_dir / "tls", include_public_roots=True)
        runner, self.urls["entra"] = await serve_app(fake_entra.create_app(self.entra), 0, tls.server_context())
        self._runners.append(runner)

        def valid(token: str) -> bool:  # the static demo token, or one the fake Entra issued at /login
            return token == STATIC_TOKEN or self.entra.is_valid_access_token(token)

        simulator = partner_center.create_app(self.store, token_validator=valid)
        runner, self.urls["partner_center"] = await serve_app(simulator)
        self._runners.append(runner)
        runner, self.urls["console"] = await serve_app(console_app(self.entra))
        self._runners.append(runner)

    def bot_env(self, port: int) -> dict[str, str]:
        key_file = self.options.state_dir / "token-cache.key"
        if not key_file.exists() or not self.options.keep_data:
            key_file.write_text(Fernet.generate_key().decode())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "PARTNER_CENTER_", "AZURE_"))}
        env.update(
            {
                "HOST": HOST,
                "PORT": str(port),
                "DATABASE_URL": f"sqlite:///{self.options.state_dir / 'referrals.db'}",
                "BOT_ID": "",
                "PARTNER_CENTER_API_URL": self.urls["partner_center"],
                "PARTNER_CENTER_ACCESS_TOKEN": STATIC_TOKEN,
                "AZURE_CLIENT_ID": DEMO_CLIENT_ID,
                "AZURE_TENANT_ID": fake_entra.DEFAULT_TENANT_ID,
                "AZURE_AUTHORITY_HOST": self.urls["entra"],
                "REQUESTS_CA_BUNDLE": str(self.ca_file),
                "SSL_CERT_FILE": str(self.ca_file),
                "TOKEN_CACHE_KEY": key_file.read_text().strip(),
                "ADMIN_AAD_OBJECT_IDS": playground.ADMIN_AAD_OBJECT_ID,
                "SALES_CHANNEL_ID": playground.SALES_CHANNEL_ID,
                "POLLER_ENABLED": "true",
                "POLL_INTERVAL_SECONDS": str(self.options.poll_interval),
                "SCAN_ENABLED": "true" if self.options.scan else "false",
                "DISPATCH_INTERVAL_SECONDS": "2",
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "text",
                # run from the state directory, so a developer's .env is not read; import the project from here
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            }
        )
        return env

    async def _start_bot(self) -> None:
        port = self.options.bot_port or free_port()
        self.urls["bot"] = f"http://{HOST}:{port}"
        with (self.logs / "bot.log").open("ab") as log:
            self.bot = spawn([sys.executable, "-m", "bot"], env=self.bot_env(port), cwd=self.options.state_dir, log=log)
        await self._wait_ready(f"{self.urls['bot']}/readyz", self.bot, self.logs / "bot.log")

    async def _wait_ready(self, url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=5) as http:
            while loop.time() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"the bot exited ({process.returncode}):\n{tail(log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise RuntimeError(f"the bot did not become ready within {timeout:.0f} s:\n{tail(log)}")

    async def _start_playground(self) -> None:
        self.playground = await start_playground(
            f"{self.urls['bot']}/api/messages",
            port=self.options.playground_port,
            workdir=self.options.state_dir / "playground",
            log_file=self.logs / "playground.log",
        )
        self.urls["playground"] = self.playground.url
        # What adding the bot to the team does in Teams: the bot learns the sales channel and can post there
        # at once, before anyone opens the page (the playground keeps the cards for the first page that opens).
        await self.playground.install_in(playground.SALES_CHANNEL_ID)

    async def _trickle(self, low: float, high: float) -> None:
        """A new incoming co-sell referral every `low`-`high` seconds, as Partner Center would send them."""
        while True:
            await asyncio.sleep(random.uniform(low, high))
            referral = self.store.add(make_referral("co-sell", direction="Incoming"))
            name = (referral.get("customerProfile") or {}).get("name", "?")
            say(
                f"[sandbox] new co-sell referral from {name}: its card follows the next sync "
                f"(every {self.options.poll_interval} s)"
            )

    async def _announce_sign_ins(self) -> None:
        """Print an approve link for every `/login` device code the fake Entra hands out."""
        seen: set[str] = set()
        while True:
            for code in self.entra.pending_user_codes():
                if code not in seen:
                    seen.add(code)
                    say(
                        f"[entra] /login is waiting for code {code}. Approve it: "
                        f"{self.urls['console']}/approve?code={code}"
                    )
            await asyncio.sleep(1)

    def dead_child(self) -> str | None:
        """Which child exited on its own, if one did."""
        if self.bot is not None and self.bot.poll() is not None:
            return f"the bot exited ({self.bot.returncode}):\n{tail(self.logs / 'bot.log')}"
        if self.playground is not None and self.playground.process.poll() is not None:
            code = self.playground.process.returncode
            return f"the playground exited ({code}):\n{tail(self.logs / 'playground.log')}"
        return None

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.playground is not None:
            await self.playground.stop()
        if self.bot is not None:
            await stop_process(self.bot, grace=10)
        for runner in reversed(self._runners):
            await runner.cleanup()

    def ready_info(self) -> dict[str, Any]:
        return {
            **self.urls,
            "ca_file": str(self.ca_file),
            "token": STATIC_TOKEN,
            "pid": os.getpid(),
            "children": [p.pid for p in (self.bot, self.playground and self.playground.process) if p],
        }


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def banner(stack: DemoStack) -> str:
    urls = stack.urls
    lines = [
        "",
        "Referral Radar demo is running (no Azure, no Teams, no Partner Center).",
        "",
        f"  Partner Center simulator  {urls['partner_center']}{partner_center.API_PREFIX}"
        f"  ({len(stack.store)} referrals)",
        f"  fake Entra ID (HTTPS)     {urls['entra']}  (CA: {stack.ca_file})",
        f"  bot                       {urls['bot']}/api/messages  (logs: {stack.logs / 'bot.log'})",
    ]
    if "playground" in urls:
        lines += [
            f"  Agents Playground         {urls['playground']}",
            "",
            f"Open {urls['playground']} in a browser.",
            f"  * Personal Chat (you are {playground.ADMIN_NAME}, an admin): type",
            "      help",
            "      referrals co-sell",
            f"      lead {DEMO_DOMAIN}",
            "      /login      then open the approve link printed here",
            f"  * Teams Channel 'General' (team {playground.TEAM_NAME}), the sales channel: new co-sell referral"
            " cards arrive by themselves;",
            "    press Accept or Open Lead on one. To talk to the bot in the channel, mention it first:",
            f"    type @, pick '{playground.BOT_NAME}', then e.g. 'referrals co-sell', and press Post.",
        ]
    else:
        lines += ["", "No playground (--no-playground): talk to the bot at its /api/messages endpoint."]
    if stack.options.trickle:
        low, high = stack.options.trickle
        lines.append(f"  * A new incoming co-sell referral arrives every {low:.0f}-{high:.0f} s.")
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


async def run(options: DemoOptions) -> int:
    stack = DemoStack(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status = 0
    try:
        await _until(stop, stack.start())
        if stop.is_set():
            return 130
        say(banner(stack))
        if options.ready_file:
            options.ready_file.write_text(json.dumps(stack.ready_info()))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            problem = stack.dead_child()
            if problem:
                say(f"Stopping: {problem}")
                status = 1
                break
    except (PlaygroundError, RuntimeError, OSError, httpx.HTTPError) as exc:
        say(f"The demo could not start: {exc}")
        status = 1
    finally:
        say("Stopping the demo...")
        await stack.stop()
        say("Demo stopped.")
    return status


async def _until(stop: asyncio.Event, work: Awaitable[None]) -> None:
    """Run `work`, but give up (cancel it) when Ctrl-C comes first."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    task.result()


def parse_args(argv: list[str] | None = None) -> DemoOptions:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--no-playground", action="store_true", help="run without Agents Playground (headless)")
    parser.add_argument("--playground-port", type=int, default=56150)
    parser.add_argument("--bot-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".demo", help="database, CA, logs (default .demo)")
    parser.add_argument("--generate", type=int, default=25, help="generated referrals besides the documented 5")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--poll-interval", type=int, default=15, help="seconds between scheduled syncs")
    parser.add_argument("--no-trickle", action="store_true", help="no new co-sell referral every 45-60 s")
    parser.add_argument("--keep-data", action="store_true", help="keep the database of the last run")
    parser.add_argument("--scan", action="store_true", help="scan customer domains (needs DNS)")
    parser.add_argument("--ready-file", type=Path, help="write the URLs here as JSON once everything is up")
    args = parser.parse_args(argv)
    return DemoOptions(
        state_dir=args.state_dir.resolve(),
        bot_port=args.bot_port,
        playground_port=args.playground_port,
        with_playground=not args.no_playground,
        generate=args.generate,
        seed=args.seed,
        trickle=None if args.no_trickle else (45.0, 60.0),
        poll_interval=args.poll_interval,
        keep_data=args.keep_data,
        scan=args.scan,
        ready_file=args.ready_file,
    )


def hold_state_dir(state_dir: Path) -> Any:
    """An exclusive lock on `state_dir` for this process's life (the OS drops it when we die); None when another
    demo holds it: a second demo on the same state would delete its database and replace its CA."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "demo.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "?"
        handle.close()
        say(f"A demo is already running on {state_dir} (pid {other}). Stop it first, or give this one --state-dir.")
        return None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.with_playground and not shutil.which("node"):
        say("node is not installed: run ./dev demo (it installs it), or pass --no-playground.")
        return 2
    lock = hold_state_dir(options.state_dir)
    if lock is None:
        return 2
    with lock:
        return asyncio.run(run(options))


if __name__ == "__main__":
    sys.exit(main())
