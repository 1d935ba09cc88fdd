"""The real bot app (dispatcher running) on loopback with the Partner Center simulator and the fake connector.

`Harness` can close the bot app and start a new one on the same database (a restart), and waits for the
dispatcher by watching the database and the connector, never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import Session, col, select

from bot.app import SERVICES, create_app
from bot.dispatcher import Dispatcher, DispatchOptions
from bot.services import Services
from sandbox.partner_center.app import create_app as create_simulator
from sandbox.partner_center.faults import Faults
from sandbox.partner_center.generator import make_referral
from sandbox.partner_center.keys import FAULTS_KEY
from sandbox.partner_center.store import ReferralStore
from storage.db import make_engine
from storage.models import AcceptAudit, NotificationOutbox, PostedCard, Referral
from tests.bot.conftest import TOKEN, Simulator, bot_settings, card_text
from tests.fakes.activities import ADMIN, CHANNEL_ID, Teams
from tests.fakes.connector import FakeConnector, Sent

FAST = DispatchOptions(
    backoff_base=0.02,
    backoff_cap=0.2,
    row_backoff_base=0.05,
    row_backoff_cap=0.5,
    stop_grace=2.0,
    ambiguous_delay=timedelta(seconds=0.2),
)

__all__ = ["ADMIN", "CHANNEL_ID", "Harness", "Sent", "card_text", "co_sell"]


def co_sell(**changes: Any) -> dict[str, Any]:
    """A new incoming co-sell referral (New/Pending) created a minute ago, with `changes` merged in."""
    referral = make_referral("co-sell", now=datetime.now(UTC) - timedelta(minutes=1))
    referral.update(changes)
    return referral


@dataclass
class Harness:
    database_url: str
    simulator: NotifySimulator
    connector: FakeConnector
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    options: DispatchOptions = FAST
    client: TestClient | None = None
    teams: Teams = field(init=False)

    def __post_init__(self) -> None:
        self.teams = Teams(self.connector.url)
        self.engine = make_engine(self.database_url)

    # -- the bot app ------------------------------------------------------------------------------------
    async def start(self) -> Harness:
        settings = bot_settings(self.database_url, self.simulator.url, **self.settings_overrides)
        app = create_app(settings)
        app[SERVICES].extras["dispatch_options"] = self.options
        self.client = TestClient(TestServer(app, host="127.0.0.1"))
        await self.client.start_server()
        return self

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher = getattr(self.services.wake_dispatcher, "__self__", None)
        assert isinstance(dispatcher, Dispatcher)
        return dispatcher

    async def passes(self, count: int = 3) -> None:
        """Let the dispatcher run `count` more passes."""
        target = self.dispatcher.passes + count
        while self.dispatcher.passes < target:
            self.dispatcher.wake()
            await asyncio.sleep(0.02)

    @property
    def services(self) -> Services:
        assert self.client is not None
        return self.client.app[SERVICES]

    async def post(self, activity: dict[str, Any]) -> Any:
        assert self.client is not None
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()
        return await response.json() if response.status == 200 else None

    async def install(self) -> None:
        """Bot added to the team, then an admin types `notify here` in the channel."""
        await self.post(self.teams.bot_added_to_team())
        await self.post(self.teams.message("notify here", where="channel", user=ADMIN))

    async def sync(self) -> Any:
        return await self.services.sync.run("manual")

    async def press(self, verb: str | None, data: Any, *, reply_to_id: str, **kwargs: Any) -> dict[str, Any]:
        """Press a card button; returns the card the presser sees next."""
        body = await self.post(self.teams.invoke(verb, data, reply_to_id=reply_to_id, **kwargs))
        assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
        card: dict[str, Any] = body["value"]
        return card

    # -- the simulator ------------------------------------------------------------------------------------
    @property
    def store(self) -> ReferralStore:
        return self.simulator.store

    @property
    def faults(self) -> Faults:
        return self.simulator.app[FAULTS_KEY]

    def pc_requests(self, method: str, referral_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.simulator.requests
            if r["method"] == method and (referral_id is None or r["path"].split("?")[0].endswith("/" + referral_id))
        ]

    # -- the database ---------------------------------------------------------------------------------------
    def query(self, fn: Callable[[Session], Any]) -> Any:
        with Session(self.engine, expire_on_commit=False) as session:
            return fn(session)

    def referral(self, referral_id: str) -> Referral:
        row = self.query(lambda s: s.get(Referral, referral_id))
        assert row is not None, referral_id
        return row

    def posted(self, referral_id: str | None = None) -> list[PostedCard]:
        def fn(s: Session) -> list[PostedCard]:
            q = select(PostedCard).order_by(col(PostedCard.id))
            if referral_id is not None:
                q = q.where(PostedCard.referral_id == referral_id)
            return list(s.exec(q).all())

        return self.query(fn)

    def outbox(self) -> list[NotificationOutbox]:
        return self.query(lambda s: list(s.exec(select(NotificationOutbox).order_by(col(NotificationOutbox.id)))))

    def audits(self) -> list[AcceptAudit]:
        return self.query(lambda s: list(s.exec(select(AcceptAudit).order_by(col(AcceptAudit.id)))))

    def pending(self) -> list[NotificationOutbox]:
        return [row for row in self.outbox() if row.done_at is None]

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every outbox row is done (the dispatcher has caught up)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pending():
            if asyncio.get_running_loop().time() > deadline:
                left = [(r.referral_id, r.event, r.last_error) for r in self.pending()]
                raise AssertionError(f"outbox never drained: {left}")
            await asyncio.sleep(0.05)

    # -- the connector --------------------------------------------------------------------------------------
    def creates(self) -> list[Sent]:
        return self.connector.of("create")

    def updates(self, activity_id: str | None = None) -> list[Sent]:
        return [s for s in self.connector.of("update") if activity_id is None or s.activity_id == activity_id]

    def card_of(self, referral_id: str) -> Sent:
        """The create op that posted this referral's card."""
        found = [s for s in self.creates() if s.card is not None and referral_id in card_text(s.card)]
        assert len(found) == 1, f"{len(found)} cards for {referral_id}"
        return found[0]


@dataclass
class NotifySimulator(Simulator):
    tokens: set[str] = field(default_factory=lambda: {TOKEN})  # remove TOKEN to make Partner Center answer 401


@pytest.fixture
async def simulator() -> AsyncIterator[NotifySimulator]:
    store = ReferralStore()
    tokens = {TOKEN}
    app = create_simulator(store, token_validator=lambda token: token in tokens)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield NotifySimulator(store, app, server, tokens)
    await server.close()


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.close()


@pytest.fixture
async def harness(database_url: str, simulator: NotifySimulator, connector: FakeConnector) -> AsyncIterator[Harness]:
    """SQLite and PostgreSQL: the bot app started, nothing installed yet."""
    h = Harness(database_url, simulator, connector)
    yield h
    await h.stop()
    h.engine.dispose()


@pytest.fixture
async def sqlite_harness(
    sqlite_url: str, simulator: NotifySimulator, connector: FakeConnector
) -> AsyncIterator[Harness]:
    h = Harness(sqlite_url, simulator, connector)
    yield h
    await h.stop()
    h.engine.dispose()
