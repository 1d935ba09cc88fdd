"""`python -m poller --once [--full]`: one sync against the configured Partner Center, then exit.

The last line of standard output is the run summary as one JSON object. Exit status 0 on success; 1 when the
run failed and 2 when nobody is signed in, with the reason on standard error. Settings that are wrong or a
database that cannot be opened exit with 3 and one line on standard error (no summary: no run took place).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx

from core.errors import ConfigError, DatabaseUnavailable
from core.logs import configure_logging
from core.settings import Settings, load_settings
from poller.client import HTTP_TIMEOUT, PartnerCenterClient
from poller.pipeline import run_sync, summary
from poller.service import build_sync_deps
from poller.token import make_token_source
from storage.db import make_engine, migrate
from storage.models import SyncRun

EXIT_CODES = {"success": 0, "failed": 1, "not_signed_in": 2}
EXIT_NO_RUN = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m poller", description="Sync Partner Center referrals.")
    parser.add_argument("--once", action="store_true", required=True, help="run one sync and exit")
    parser.add_argument("--full", action="store_true", help="force a full sweep, not an incremental one")
    return parser.parse_args(argv)


async def sync_once(settings: Settings, *, full: bool) -> SyncRun:
    engine = make_engine(settings.database_url)
    try:
        await asyncio.to_thread(migrate, engine)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            client = PartnerCenterClient.from_settings(http, make_token_source(settings, engine), settings)
            deps = build_sync_deps(settings, engine, client)
            return await run_sync(deps, trigger="manual", force_full=full)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        run = asyncio.run(sync_once(settings, full=args.full))
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"sync not run: {exc}", file=sys.stderr)
        return EXIT_NO_RUN
    if run.status != "success":
        reason = run.note if run.status == "not_signed_in" else run.error
        print(f"sync {run.status}: {reason}", file=sys.stderr)
    print(json.dumps(summary(run), default=str), flush=True)
    return EXIT_CODES.get(run.status, 1)


if __name__ == "__main__":
    sys.exit(main())
