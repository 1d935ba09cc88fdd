"""The Partner Center Referrals API client: paging, retries, token refresh and error mapping.

Retries (tenacity): 429 waits for `Retry-After` (seconds or an HTTP-date); a wait longer than
max(backoff_cap, 60) s is not slept inside a run but ends it with `UpstreamUnavailable` saying so, and the
next poll tries again. 500/502/503/504 (also honouring a Retry-After they carry), timeouts and
transport errors back off exponentially with full jitter; a malformed or truncated JSON body is retried a
couple of times. Every bounded: afterwards `UpstreamUnavailable` (or `UpstreamProtocolError` for bodies).
A 401 asks the token source for a fresh token once, then gives up with `UpstreamAuthError`.
The bearer token is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from core.errors import (
    NotSignedIn,
    UpstreamAuthError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from core.settings import Settings
from poller.token import TokenSource
from poller.wire import ReferralList, decode_list_page, loads_leniently

log = logging.getLogger(__name__)

REFERRALS_PATH = "/v1.0/engagements/referrals"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PROTOCOL_RETRIES = 2
DEFAULT_FILTER = "direction eq 'Incoming'"
LARGE_BODY_BYTES = 4 * 1024 * 1024

Sleep = Callable[[float], Awaitable[None]]
Decode = Callable[[bytes], Any]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the referral list as the server sent it."""

    items: list[Any]  # `msgspec.Raw` JSON text (or, from the general parser, Python values): see poller.wire
    url: str
    request_id: str | None
    number: int
    next_link: str | None = None


@dataclass(slots=True)
class ClientStats:
    """Requests sent (every attempt) and retries made, for the run summary."""

    requests: int = 0
    retries: int = 0


@dataclass(slots=True)
class _Response:
    status: int
    body: Any
    request_id: str | None
    url: str


class _Retryable(Exception):
    """An attempt failed in a way worth another try; `final` is what to raise once retries run out."""

    def __init__(self, final: UpstreamError, *, retry_after: float | None = None, protocol_failures: int = 0):
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after
        self.protocol_failures = protocol_failures


@dataclass(slots=True)
class _AttemptState:
    protocol_failures: int = 0
    refreshed: bool = False
    maybe_applied: bool = False  # a try failed after the server may have carried the request out
    extra: dict[str, str] = field(default_factory=dict)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _decode_list(content: bytes) -> Any:
    """A list page: a `ReferralList` with raw items (`poller.wire`), else whatever the general parser reads."""
    page = decode_list_page(content)
    return page if page is not None else loads_leniently(content)


async def _parse_json(content: bytes, decode: Decode = loads_leniently) -> tuple[Any, ValueError | None]:
    """(body, None) or (None, the parse error). A 200-referral page takes milliseconds; very big bodies are
    still parsed off the event loop."""
    if not content:
        return None, None
    try:
        if len(content) >= LARGE_BODY_BYTES:
            return await asyncio.to_thread(decode, content), None
        return decode(content), None
    except ValueError as exc:  # orjson.JSONDecodeError, json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, exc


def _error_details(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from `{"error": {"code", "message"}}`, tolerating any other shape."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            return (str(code) if code is not None else None, str(message) if message is not None else None)
        if isinstance(body.get("message"), str):
            return None, body["message"]
    return None, None


HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class PartnerCenterClient:
    """Talks to `/v1.0/engagements/referrals` with a bearer token from a `TokenSource`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        base_url: str,
        page_size: int = 200,
        max_pages: int = 500,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_retries = max_retries
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_cap)
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self.stats = ClientStats()
        self.truncated = False  # the last iter_pages stopped at max_pages with a nextLink left

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, tokens: TokenSource, settings: Settings) -> PartnerCenterClient:
        return cls(
            http,
            tokens,
            base_url=settings.partner_center_api_url,
            page_size=settings.page_size,
            max_pages=settings.max_pages,
        )

    @property
    def referrals_url(self) -> str:
        return self.base_url + REFERRALS_PATH

    def list_url(self, *, filter: str | None, orderby: str | None) -> str:
        """The first-page URL with `$filter`, `$orderby` and `$top` percent-encoded."""
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        params["$top"] = str(self.page_size)
        return f"{self.referrals_url}?{urlencode(params, quote_via=quote, safe='$')}"

    async def iter_pages(
        self,
        *,
        filter: str | None = DEFAULT_FILTER,
        orderby: str | None = "createdDateTime desc",
    ) -> AsyncGenerator[Page, None]:
        """Yield pages one at a time, following `@odata.nextLink` verbatim until it is absent or max_pages."""
        self.truncated = False
        url: str | None = self.list_url(filter=filter, orderby=orderby)
        number = 0
        while url is not None:
            if number >= self.max_pages:
                self.truncated = True
                log.warning("stopped paging after max_pages=%d", self.max_pages)
                return
            number += 1
            response = await self._request("GET", url, decode=_decode_list)
            body = response.body
            if isinstance(body, ReferralList):
                items, next_link = body.value, body.next_link
            elif isinstance(body, dict) and isinstance(body.get("value"), list):
                items, next_link = body["value"], body.get("@odata.nextLink")
            else:
                raise UpstreamProtocolError(
                    "list response has no 'value' array",
                    status=response.status,
                    url=url,
                    request_id=response.request_id,
                )
            next_link = next_link if isinstance(next_link, str) and next_link else None
            yield Page(items, url, response.request_id, number, next_link)
            url = next_link

    async def get_referral(self, referral_id: str) -> dict[str, Any]:
        url = f"{self.referrals_url}/{quote(referral_id, safe='')}"
        response = await self._request("GET", url)
        if not isinstance(response.body, dict):
            raise UpstreamProtocolError("referral response is not an object", status=response.status, url=url)
        return response.body

    async def patch_referral(
        self,
        referral_id: str,
        ops: list[dict[str, Any]],
        *,
        if_match: str | None,
        return_representation: bool = True,
    ) -> dict[str, Any] | None:
        """JSON Patch one referral; the updated referral when `return_representation`, else None (204)."""
        url = f"{self.referrals_url}/{quote(referral_id, safe='')}"
        headers = {"Content-Type": "application/json"}
        if if_match:
            headers["If-Match"] = if_match
        if return_representation:
            headers["Prefer"] = "return=representation"
        response = await self._request("PATCH", url, content=json.dumps(ops).encode(), headers=headers)
        if response.body is None:
            return None
        if not isinstance(response.body, dict):
            raise UpstreamProtocolError("patch response is not an object", status=response.status, url=url)
        return response.body

    # -- the request loop -------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        decode: Decode = loads_leniently,
    ) -> _Response:
        state = _AttemptState(extra=dict(headers or {}))
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=self._should_stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, url, content, state, decode)
        except RetryError as exc:
            failure = exc.last_attempt.exception()
            if isinstance(failure, _Retryable):
                raise failure.final from failure
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _should_stop(self, retry_state: RetryCallState) -> bool:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, _Retryable) and failure.protocol_failures > MAX_PROTOCOL_RETRIES:
            return True
        return retry_state.attempt_number > self.max_retries

    def _wait(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, _Retryable) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._backoff(retry_state))

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        self.stats.retries += 1
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.info("retrying partner center request in %.2fs after: %s", wait, failure)

    async def _attempt(
        self, method: str, url: str, content: bytes | None, state: _AttemptState, decode: Decode
    ) -> _Response:
        response = await self._send(method, url, content, state, force_refresh=False)
        if response.status_code == 401 and not state.refreshed:
            state.refreshed = True
            log.info("partner center said 401; refreshing the token once")
            response = await self._send(method, url, content, state, force_refresh=True)
            if response.status_code == 401:
                reason = f"Partner Center refused its token even freshly renewed (HTTP 401 at {url})"
                if await self._tokens.refused(reason):
                    raise NotSignedIn(reason)
        return self._interpret(response, url, state, await _parse_json(response.content, decode))

    async def _send(
        self, method: str, url: str, content: bytes | None, state: _AttemptState, *, force_refresh: bool
    ) -> httpx.Response:
        token = await self._tokens.get_token(force_refresh=force_refresh)
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "client-request-id": str(uuid.uuid4()),
            **state.extra,
        }
        self.stats.requests += 1
        try:
            response = await self._http.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            state.maybe_applied |= not isinstance(exc, httpx.ConnectTimeout)
            log.info("partner center %s %s timed out", method, url)
            raise _Retryable(UpstreamUnavailable(f"Partner Center timed out: {exc!r}", url=url)) from exc
        except httpx.UnsupportedProtocol as exc:  # e.g. a nextLink to ftp://: no retry makes it work
            raise UpstreamProtocolError(f"Partner Center cannot be asked at {url}: {exc}", url=url) from exc
        except httpx.TransportError as exc:
            state.maybe_applied |= not isinstance(exc, httpx.ConnectError)
            log.info("partner center %s %s transport error: %r", method, url, exc)
            raise _Retryable(UpstreamUnavailable(f"Partner Center unreachable: {exc!r}", url=url)) from exc
        request_id = response.headers.get("request-id")
        log.info(
            "partner center %s %s -> %d (request-id %s)",
            method,
            url,
            response.status_code,
            request_id,
            extra={"http_status": response.status_code, "url": url, "request_id": request_id},
        )
        return response

    def _interpret(
        self, response: httpx.Response, url: str, state: _AttemptState, parsed: tuple[Any, ValueError | None]
    ) -> _Response:
        status = response.status_code
        request_id = response.headers.get("request-id")
        body, parse_error = parsed
        code, message = _error_details(body)
        info = {"status": status, "url": url, "request_id": request_id, "code": code}
        detail = f"{status} {code or ''} {message or ''}".strip()
        if status in RETRYABLE_STATUSES:
            state.maybe_applied |= status != 429
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            longest = max(self._backoff_cap, 60.0)
            if retry_after is not None and retry_after > longest:
                raise UpstreamUnavailable(
                    f"Partner Center asked us to wait {retry_after:.0f} s ({detail}), longer than the "
                    f"{longest:.0f} s a sync waits; the next poll tries again",
                    **info,
                )
            raise _Retryable(
                UpstreamUnavailable(f"Partner Center unavailable: {detail}", **info), retry_after=retry_after
            )
        if status in (401, 403):
            raise UpstreamAuthError(f"Partner Center refused our credentials: {detail}", **info)
        if 400 <= status < 500:
            rejected = UpstreamRejected(f"Partner Center rejected the request: {detail}", **info)
            rejected.maybe_applied = state.maybe_applied
            raise rejected
        if status >= 500:
            raise UpstreamUnavailable(f"Partner Center failed: {detail}", **info)
        if parse_error is not None:
            state.protocol_failures += 1
            raise _Retryable(
                UpstreamProtocolError(f"Partner Center sent malformed JSON: {parse_error}", **info),
                protocol_failures=state.protocol_failures,
            )
        return _Response(status=status, body=body, request_id=request_id, url=url)
