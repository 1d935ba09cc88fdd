"""Fault injection: make the simulator throttle, fail, stall or send broken JSON on purpose.

Tests use the `Faults` object (`app[FAULTS_KEY]`); out-of-process users POST the same fields as JSON to
`/_sandbox/faults`. Each fault fires for the next `count` matching requests (`count=None`: until cleared) and
can be narrowed to one HTTP method and/or a path prefix.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KINDS = (
    "throttle",
    "error",
    "slow",
    "malformed",
    "truncated",
    "reject_gt",
    "lost_answer",
    "forbidden",
    "unauthorized",
)
ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class Fault:
    """One injected misbehaviour.

    kind:       throttle (429 + Retry-After) | error (5xx) | slow (delay, then answer normally) |
                malformed (body is not JSON) | truncated (valid JSON cut in the middle) |
                reject_gt (400 for any $filter using `gt`, like a server without that operator) |
                lost_answer (the request IS carried out, then its answer is replaced by a 5xx) |
                forbidden (403 accessDenied: the token is fine, the account lacks the role or the deal's scope) |
                unauthorized (401 for any token, renewed or not: one issued for another API, a revoked account)
    count:      how many matching requests it affects; None = until cleared
    status:     for `error` and `lost_answer`: 500, 502, 503 or 504
    retry_after: seconds for the Retry-After header of `throttle` (and `error` when set)
    http_date:  send Retry-After as an HTTP-date instead of seconds
    delay:      seconds to wait, for `slow`
    method:     only requests with this method (e.g. "PATCH"); None = any
    path_prefix: only requests whose path starts with this; None = any API path
    """

    kind: str
    count: int | None = 1
    status: int = 500
    retry_after: float | None = None
    http_date: bool = False
    delay: float = 0.0
    method: str | None = None
    path_prefix: str | None = None
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        for name in ("retry_after", "delay"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{name} must be a non-negative number")
        if not isinstance(self.http_date, bool):
            raise ValueError("http_date must be true or false")
        for name in ("method", "path_prefix"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string or null")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError("count must be a positive integer or null")
        if self.kind in ("error", "lost_answer") and self.status not in ERROR_STATUSES:
            raise ValueError(f"error status must be one of {ERROR_STATUSES}")
        if self.kind == "throttle" and self.retry_after is None:
            self.retry_after = 1
        if self.method is not None:
            self.method = self.method.upper()

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build from a JSON object, rejecting unknown fields with a clear message."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        allowed = {f.name for f in fields(cls)} - {"fired"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


class Faults:
    """The active faults of one app, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def take(self, kinds: tuple[str, ...], method: str, path: str) -> Fault | None:
        """The first live fault of one of `kinds` matching the request; counts it as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and not fault.exhausted and fault.matches(method, path):
                    fault.fired += 1
                    return fault
            self._faults = [f for f in self._faults if not f.exhausted]
        return None

    # Convenience constructors for tests -------------------------------------------------------------

    def throttle(
        self,
        count: int | None = 1,
        *,
        retry_after: float = 1,
        http_date: bool = False,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests get 429 with Retry-After."""
        return self.add(
            Fault(
                "throttle", count, retry_after=retry_after, http_date=http_date, method=method, path_prefix=path_prefix
            )
        )

    def server_error(
        self,
        count: int | None = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests get `status` (500/502/503/504) with the documented error body."""
        return self.add(
            Fault("error", count, status=status, retry_after=retry_after, method=method, path_prefix=path_prefix)
        )

    def lost_answer(
        self,
        count: int | None = 1,
        *,
        status: int = 503,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests are carried out, but answered with `status` (as when a gateway times out)."""
        return self.add(Fault("lost_answer", count, status=status, method=method, path_prefix=path_prefix))

    def forbidden(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests get 403, as for a signed-in account without the permission (e.g. to PATCH)."""
        return self.add(Fault("forbidden", count, method=method, path_prefix=path_prefix))

    def unauthorized(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests get 401 whatever their token, as for a token of the wrong audience."""
        return self.add(Fault("unauthorized", count, method=method, path_prefix=path_prefix))

    def slow(
        self,
        count: int | None = 1,
        *,
        delay: float = 1.0,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` requests are answered normally after `delay` seconds."""
        return self.add(Fault("slow", count, delay=delay, method=method, path_prefix=path_prefix))

    def malformed_json(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` responses with a body get a body that is not JSON at all (status unchanged)."""
        return self.add(Fault("malformed", count, method=method, path_prefix=path_prefix))

    def truncated_json(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> Fault:
        """The next `count` responses with a body are cut in half (valid start, no end)."""
        return self.add(Fault("truncated", count, method=method, path_prefix=path_prefix))

    def reject_gt(self, count: int | None = None, *, method: str | None = None) -> Fault:
        """List requests whose $filter uses `gt` get 400 (until cleared, by default)."""
        return self.add(Fault("reject_gt", count, method=method))
