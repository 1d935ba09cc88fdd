"""In-memory referral store: dicts in, deep copies out, every change gets a new eTag and updatedDateTime."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Referral = dict[str, Any]


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with 7 fractional digits and `Z`, as Partner Center writes them."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def new_etag(moment: datetime | None = None) -> str:
    """A quoted GUID-ish eTag like `"9a00c1d2-0000-0100-0000-67c5c8ad0000"` (the quotes are part of the value)."""
    seconds = int((moment or datetime.now(UTC)).timestamp())
    return f'"{uuid.uuid4().hex[:8]}-0000-0100-0000-{seconds:08x}0000"'


def merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Recursive merge: objects merge key by key, anything else (lists, null) replaces."""
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class ReferralStore:
    """Referrals keyed by id, in insertion order. Thread-safe enough for a test server and a demo thread.

    Malformed referrals without a string `id` are kept under an internal key: they show up in lists (as they
    would in a real dump) but cannot be fetched or patched by id.
    """

    def __init__(self, referrals: Iterable[Mapping[str, Any]] = ()) -> None:
        self._items: dict[str, Referral] = {}
        self._lock = threading.RLock()
        self._last_stamp = datetime.min.replace(tzinfo=UTC)
        self._anonymous = 0
        self.version = 0
        for referral in referrals:
            self._put(referral)

    @classmethod
    def from_file(cls, path: str | Path) -> ReferralStore:
        """Load a JSON file holding one referral object or a list of them."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, dict) for item in items):
            raise ValueError(f"{path} must hold a referral object or an array of them")
        return cls(items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, referral_id: object) -> bool:
        return isinstance(referral_id, str) and referral_id in self._items

    def _key_for(self, referral: Mapping[str, Any]) -> str:
        referral_id = referral.get("id")
        if isinstance(referral_id, str) and referral_id:
            return referral_id
        self._anonymous += 1
        return f"\x00anonymous-{self._anonymous}"

    def add(self, referral: Mapping[str, Any]) -> Referral:
        """Add (or replace, by id) a referral as given; returns a copy of what is stored."""
        return copy.deepcopy(self._put(referral))

    def _put(self, referral: Mapping[str, Any]) -> Referral:
        stored = copy.deepcopy(dict(referral))
        with self._lock:
            self._items[self._key_for(stored)] = stored
            self.version += 1
        return stored

    def add_many(self, referrals: Iterable[Mapping[str, Any]]) -> list[str | None]:
        """Add several referrals; returns their ids (None for a referral without one)."""
        ids: list[str | None] = []
        for referral in referrals:
            referral_id = self._put(referral).get("id")
            ids.append(referral_id if isinstance(referral_id, str) else None)
        return ids

    def get(self, referral_id: str) -> Referral | None:
        with self._lock:
            stored = self._items.get(referral_id)
            return copy.deepcopy(stored) if stored is not None else None

    def all(self) -> list[Referral]:
        with self._lock:
            return copy.deepcopy(list(self._items.values()))

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def peek(self, key: str) -> Referral | None:
        """The stored dict itself (no copy): for read-only serialisation inside the app only."""
        return self._items.get(key)

    def raw_items(self) -> Iterator[tuple[str, Referral]]:
        """(key, stored dict) pairs without copying: for filtering inside the app only."""
        with self._lock:
            return iter(list(self._items.items()))

    def next_timestamp(self) -> datetime:
        """Now, but strictly later than any stamp handed out before (so every change sorts after the last)."""
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last_stamp:
                now = self._last_stamp + timedelta(microseconds=1)
            self._last_stamp = now
            return now

    def stamp(self, referral: Referral) -> None:
        """Give `referral` a new eTag and updatedDateTime (in place)."""
        moment = self.next_timestamp()
        referral["eTag"] = new_etag(moment)
        referral["updatedDateTime"] = format_timestamp(moment)

    def touch(self, before: Mapping[str, Any], after: Referral) -> None:
        """Stamp a changed referral (in place): new eTag and updatedDateTime, and the lifecycle dates —
        acceptedDateTime when it becomes Active/Accepted, closedDateTime when it becomes Closed."""
        self.stamp(after)
        accepted = ("Active", "Accepted")
        if (after.get("status"), after.get("substatus")) == accepted != (before.get("status"), before.get("substatus")):
            after["acceptedDateTime"] = after["updatedDateTime"]
        if after.get("status") == "Closed" != before.get("status"):
            after["closedDateTime"] = after["updatedDateTime"]

    def replace(self, referral_id: str, referral: Mapping[str, Any]) -> Referral:
        """Store a new version of an existing referral as given (the API layer has stamped it)."""
        with self._lock:
            if referral_id not in self._items:
                raise KeyError(referral_id)
            self._items[referral_id] = copy.deepcopy(dict(referral))
            self.version += 1
            return copy.deepcopy(self._items[referral_id])

    def update(self, referral_id: str, changes: Mapping[str, Any] | None = None) -> Referral:
        """A change made "in Partner Center": merge `changes`, then bump eTag and updatedDateTime.

        Status changes set acceptedDateTime / closedDateTime as a PATCH would. Explicit `eTag`,
        `updatedDateTime`, `acceptedDateTime` or `closedDateTime` values in `changes` win over the automatic
        ones, so tests can pin them. Raises KeyError for an unknown id.
        """
        changes = dict(changes or {})
        with self._lock:
            stored = self._items.get(referral_id)
            if stored is None:
                raise KeyError(referral_id)
            updated = copy.deepcopy(stored)
            merge(updated, changes)
            self.touch(stored, updated)
            for pinned in ("eTag", "updatedDateTime", "acceptedDateTime", "closedDateTime"):
                if pinned in changes:
                    updated[pinned] = changes[pinned]
            self._items[referral_id] = updated
            self.version += 1
            return copy.deepcopy(updated)

    def remove(self, referral_id: str) -> None:
        with self._lock:
            del self._items[referral_id]
            self.version += 1
