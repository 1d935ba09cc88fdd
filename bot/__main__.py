"""`python -m bot`: serve the Teams bot on HOST:PORT with the poller and the notification dispatcher."""

from __future__ import annotations

import sys

from aiohttp import web

from bot.app import create_app
from core.errors import ConfigError
from core.logs import configure_logging
from core.settings import Settings


def main() -> int:
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"Invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
