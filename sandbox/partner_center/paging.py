"""Server-driven paging with opaque, stable skiptokens.

Approach: the first page of a query (no `$skiptoken`) filters and sorts the store once and keeps the ordered key
list as a *snapshot*. The skiptoken is base64url of `{"s": snapshot id, "o": offset, "q": query signature}`, so
later pages are slices of the same list: membership and order are frozen while the client pages (no item is
skipped or repeated even if referrals change meanwhile); items themselves are served in their current state.
Snapshots live in a small LRU cache; if one was evicted the query is recomputed (the offset then applies to the
fresh list).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


class BadSkipToken(ValueError):
    """The $skiptoken was not issued by this server for this query."""


@dataclass(frozen=True)
class Snapshot:
    id: int
    signature: str
    keys: list[str]


def query_signature(filter_text: str | None, orderby_text: str | None) -> str:
    raw = json.dumps([filter_text, orderby_text])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class Pager:
    """Holds the snapshots of recent queries and issues/reads skiptokens."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self._ids = itertools.count(1)

    def start(self, signature: str, keys: list[str]) -> Snapshot:
        snapshot = Snapshot(next(self._ids), signature, keys)
        self._remember(snapshot)
        return snapshot

    def _remember(self, snapshot: Snapshot) -> None:
        self._snapshots[snapshot.id] = snapshot
        self._snapshots.move_to_end(snapshot.id)
        while len(self._snapshots) > self.capacity:
            self._snapshots.popitem(last=False)

    @staticmethod
    def token(snapshot: Snapshot, offset: int) -> str:
        raw = json.dumps({"s": snapshot.id, "o": offset, "q": snapshot.signature}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def resume(self, token: str, signature: str, recompute: Callable[[], list[str]]) -> tuple[Snapshot, int]:
        """The snapshot and offset a skiptoken points at; raises BadSkipToken when it is not ours."""
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise BadSkipToken("The $skiptoken is not valid") from exc
        if not isinstance(data, dict):
            raise BadSkipToken("The $skiptoken is not valid")
        snapshot_id, offset, token_signature = data.get("s"), data.get("o"), data.get("q")
        if not isinstance(snapshot_id, int) or not isinstance(offset, int) or offset < 0:
            raise BadSkipToken("The $skiptoken is not valid")
        if token_signature != signature:
            raise BadSkipToken("The $skiptoken does not belong to this $filter/$orderby")
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None:
            snapshot = Snapshot(snapshot_id, signature, recompute())
        self._remember(snapshot)
        return snapshot, offset
