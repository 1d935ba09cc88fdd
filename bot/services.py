"""What command handlers and card actions get to work with (`req.services`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import Settings
from storage.db import session_scope
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.adapter import Proactive
    from poller.client import PartnerCenterClient
    from poller.service import SyncService

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    proactive: Proactive
    sync: SyncService
    partner_center: PartnerCenterClient
    next_sync_at: Callable[[], datetime | None] = lambda: None
    now: Callable[[], datetime] = utcnow
    extras: dict[str, Any] = field(default_factory=dict)
    wake_dispatcher: Callable[[], None] = lambda: None

    async def db(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a storage function in a worker thread, in its own committed transaction."""

        def call() -> T:
            with session_scope(self.engine) as session:
                return fn(session, *args, **kwargs)

        return await asyncio.to_thread(call)

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a short read-only storage function (a command's query). On SQLite it runs right here: in WAL
        mode a reader never waits for a writer, and the query costs less than the hand-off to a worker thread
        and back (bench/commands.py, 20 concurrent: p95 62 → 40 ms). On PostgreSQL, a network round trip,
        it goes to a worker thread like `db`."""
        if self.engine.dialect.name != "sqlite":
            return await self.db(fn, *args, **kwargs)
        with session_scope(self.engine) as session:
            return fn(session, *args, **kwargs)
