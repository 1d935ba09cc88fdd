"""`python -m bot`: serve the Teams bot on HOST:PORT with the poller and the notification dispatcher."""

from __future__ import annotations

import sys

from aiohttp import web

from bot.app import create_app
from core.errors import ConfigError, DatabaseUnavailable
from core.logs import configure_logging
from core.settings import load_settings


def main() -> int:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        app = create_app(settings)
    except (ConfigError, OSError) as exc:  # OSError: e.g. the SQLite file's folder cannot be created
        print(f"bot not started: {exc}", file=sys.stderr)
        return 2
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None)
    except DatabaseUnavailable as exc:
        print(f"bot not started: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # most often the port is taken, or HOST is not an address of this machine
        print(f"bot not started on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
