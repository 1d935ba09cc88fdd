"""A loopback Bot Connector that records what the bot sends, with switchable failures and Teams' throttling."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Sent:
    """One call the bot made to the connector."""

    method: str  # POST | PUT
    op: str  # create | send | reply | update
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str
    reply_to_id: str | None = None
    authorization: str | None = None

    @property
    def text(self) -> str:
        return self.activity.get("text") or ""

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.activity.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None


@dataclass
class FakeConnector:
    """Serve with `await connector.start()`; `url` is the serviceUrl to put in activities."""

    sent: list[Sent] = field(default_factory=list)
    failures: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    throttle: bool = False  # enforce Teams' per-thread limits: 7 per second, 60 per 30 s
    failed: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_700_000_000_000))
    _server: TestServer | None = None
    _history: dict[str, deque[float]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    team_channels: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # team id -> its channels
    # Like Teams: a thread told "429, Retry-After: X" keeps getting 429 until X has passed (and `early` counts it)
    strict_retry_after: bool = False
    early: int = 0
    _blocked: dict[str, float] = field(default_factory=dict)  # thread -> wall-clock time it may be used again
    lose_answers: int = 0  # the next N creates are carried out, then the connection drops with no answer

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conv}/activities", self._send)
        app.router.add_post("/v3/conversations/{conv}/activities/{reply_to}", self._send)
        app.router.add_put("/v3/conversations/{conv}/activities/{activity_id}", self._update)
        app.router.add_get("/v3/teams/{team}/conversations", self._team_channels)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/") + "/"

    def fail_next(
        self, status: int, count: int = 1, *, retry_after: float | None = None, http_date: bool = False
    ) -> None:
        """The next `count` calls get `status`; `http_date` sends Retry-After as an HTTP-date (whole seconds)."""
        for _ in range(count):
            headers: dict[str, str] = {}
            if retry_after is not None:
                headers["Retry-After"] = _http_date(retry_after) if http_date else str(retry_after)
            self.failures.append((status, headers))

    # what tests read -------------------------------------------------------------------------------------
    def of(self, op: str) -> list[Sent]:
        return [s for s in self.sent if s.op == op]

    def texts(self) -> list[str]:
        return [s.text for s in self.sent if s.text]

    def cards(self) -> list[dict[str, Any]]:
        return [c for s in self.sent if (c := s.card) is not None]

    async def wait_for(self, predicate: Callable[[FakeConnector], bool], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"connector never saw what the test waited for; sent: {self.summary()}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))

    def summary(self) -> list[str]:
        return [f"{s.op} {s.conversation_id} {s.text[:60] or (s.card or {}).get('body', [{}])[0]}" for s in self.sent]

    # handlers -------------------------------------------------------------------------------------------
    async def _team_channels(self, request: web.Request) -> web.Response:
        """Teams answers with every channel of the team; General's id is the team's own id."""
        team = request.match_info["team"]
        channels = self.team_channels.get(team, [{"id": team, "name": "General"}])
        return web.json_response({"conversations": channels})

    def _refuse(self, thread: str) -> web.Response | None:
        if self.strict_retry_after and time.time() < self._blocked.get(thread, 0.0):
            self.failed += 1
            self.early += 1
            return web.json_response({"error": {"code": "Throttled", "message": "too early"}}, status=429)
        if self.failures:
            status, headers = self.failures.popleft()
            self.failed += 1
            if status == 429 and "Retry-After" in headers:
                self._blocked[thread] = time.time() + _seconds(headers["Retry-After"])
            return web.json_response(
                {"error": {"code": "Injected", "message": "injected"}}, status=status, headers=headers
            )
        if self.throttle:
            now = time.monotonic()
            history = self._history.setdefault(thread, deque())
            while history and now - history[0] > 30:
                history.popleft()
            last_second = sum(1 for t in history if now - t < 1)
            if last_second >= 7 or len(history) >= 60:
                self.failed += 1
                return web.json_response({"error": {"code": "Throttled"}}, status=429, headers={"Retry-After": "1"})
            history.append(now)
        return None

    def _record(self, request: web.Request, sent: Sent) -> None:
        sent.authorization = request.headers.get("Authorization")
        self.sent.append(sent)
        self.changed.set()

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id", "")
        if (refused := self._refuse(channel)) is not None:
            return refused
        activity_id = str(next(self._ids))
        self._record(request, Sent("POST", "create", channel, body.get("activity") or {}, activity_id))
        if self.lose_answers > 0:  # posted in Teams, but the bot never learns it (a timeout, a dropped link)
            self.lose_answers -= 1
            self.failed += 1
            assert request.transport is not None
            request.transport.abort()
        return web.json_response({"id": f"{channel};messageid={activity_id}", "activityId": activity_id}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conv"]
        if (refused := self._refuse(conversation)) is not None:
            return refused
        activity = await request.json()
        activity_id = str(next(self._ids))
        reply_to = request.match_info.get("reply_to")
        self._record(
            request,
            Sent("POST", "reply" if reply_to else "send", conversation, activity, activity_id, reply_to),
        )
        return web.json_response({"id": activity_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conv"]
        if (refused := self._refuse(conversation)) is not None:
            return refused
        activity_id = request.match_info["activity_id"]
        self._record(request, Sent("PUT", "update", conversation, await request.json(), activity_id))
        return web.json_response({"id": activity_id}, status=200)


def _http_date(seconds: float) -> str:
    """An HTTP-date `seconds` from now, rounded up to the next whole second (it has no fractions)."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return format_datetime(when.replace(microsecond=0) + timedelta(seconds=1), usegmt=True)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
