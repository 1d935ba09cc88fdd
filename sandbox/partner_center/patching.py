"""PATCH semantics: RFC 6902 `add`/`replace` only, read-only fields, the status table, server-set fields."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonpatch
import jsonpointer

# Documented transition table (RES-2023, PUT, CREATE): status → statuses it may move to, and the substatuses
# each status allows.
TRANSITIONS: dict[str, frozenset[str]] = {
    "New": frozenset({"New", "Active", "Closed"}),
    "Active": frozenset({"Active", "Closed"}),
    "Closed": frozenset({"Closed"}),
}
SUBSTATUSES: dict[str, frozenset[str]] = {
    "New": frozenset({"Pending", "Received"}),
    "Active": frozenset({"Accepted"}),
    "Closed": frozenset({"Won", "Lost", "Declined", "Expired"}),
}
# Not documented as an allow-list; the reference infers these (plus server-managed ones) are read-only.
READ_ONLY = (
    ("id",),
    ("engagementId",),
    ("organizationId",),
    ("createdDateTime",),
    ("type",),
    ("direction",),
    ("qualification",),
    ("inviteContext", "invitedBy"),
    ("eTag",),
    ("updatedDateTime",),
    ("acceptedDateTime",),
    ("closedDateTime",),
    ("links",),
)
ALLOWED_OPS = frozenset({"add", "replace"})


class PatchRejected(ValueError):
    """The patch is not acceptable; the message goes into the 400 body."""

    def __init__(self, message: str, inner_code: str = "invalidRequest") -> None:
        super().__init__(message)
        self.inner_code = inner_code


def _segments(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchRejected(f"Invalid JSON pointer {path!r}: it must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _pointer(segments: list[str]) -> str:
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def _canonical_segments(document: Any, segments: list[str]) -> list[str]:
    """Match each segment to an existing key case-insensitively (the API accepts PascalCase keys)."""
    result: list[str] = []
    current = document
    for segment in segments:
        if isinstance(current, dict):
            if segment not in current:
                lowered = segment.lower()
                segment = next((k for k in current if isinstance(k, str) and k.lower() == lowered), segment)
            current = current.get(segment)
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            current = None
        result.append(segment)
    return result


def _coerce_deal_value(value: Any) -> Any:
    """The docs send dealValue as a string ("10000"); the stored value is a number."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise PatchRejected(f"dealValue {value!r} is not a number") from exc
        if not number.is_finite():
            raise PatchRejected(f"dealValue {value!r} is not a number")
        return int(number) if number == number.to_integral_value() else float(number)
    raise PatchRejected("dealValue must be a number")


def _check_read_only(segments: list[str], op: Mapping[str, Any], document: Mapping[str, Any]) -> None:
    if not segments:
        raise PatchRejected("Replacing the whole referral is not allowed; patch individual fields")
    for read_only in READ_ONLY:
        if tuple(segments[: len(read_only)]) == read_only:
            raise PatchRejected(f"'{_pointer(list(read_only))}' is read-only")
        # A parent object replaced wholesale must keep the read-only child as it is.
        if len(segments) < len(read_only) and tuple(read_only[: len(segments)]) == tuple(segments):
            new_child: Any = op.get("value")
            old_child: Any = _resolve(document, segments)
            for name in read_only[len(segments) :]:
                new_child = new_child.get(name) if isinstance(new_child, Mapping) else None
                old_child = old_child.get(name) if isinstance(old_child, Mapping) else None
            if new_child != old_child:
                raise PatchRejected(f"'{_pointer(list(read_only))}' is read-only")


def normalise_operations(body: Any, current: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validate the JSON Patch document and return it with canonical paths and coerced values."""
    if not isinstance(body, list):
        raise PatchRejected("The request body must be a JSON Patch array of operations")
    if not body:
        raise PatchRejected("The JSON Patch array is empty")
    operations: list[dict[str, Any]] = []
    for index, op in enumerate(body):
        if not isinstance(op, dict):
            raise PatchRejected(f"Operation {index} is not an object")
        name = op.get("op")
        if name not in ALLOWED_OPS:
            raise PatchRejected(f"Operation {index}: op {name!r} is not supported; only 'replace' and 'add' are")
        path = op.get("path")
        if not isinstance(path, str):
            raise PatchRejected(f"Operation {index}: 'path' must be a string")
        if "value" not in op:
            raise PatchRejected(f"Operation {index}: 'value' is required")
        segments = _canonical_segments(current, _segments(path))
        _check_read_only(segments, op, current)
        value = copy.deepcopy(op["value"])
        if segments == ["details", "dealValue"]:
            value = _coerce_deal_value(value)
        elif segments == ["details"] and isinstance(value, dict) and "dealValue" in value:
            value["dealValue"] = _coerce_deal_value(value["dealValue"])
        operations.append({"op": name, "path": _pointer(segments), "value": value})
    return operations


def _resolve(document: Any, segments: list[str]) -> Any:
    for segment in segments:
        document = document.get(segment) if isinstance(document, Mapping) else None
    return document


def _check_status(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    old_status, new_status = before.get("status"), after.get("status")
    old_sub, new_sub = before.get("substatus"), after.get("substatus")
    if old_status == "Closed":
        raise PatchRejected(
            f"The referral is closed ({old_sub}); closed referrals accept no further updates",
        )
    if (old_status, old_sub) == (new_status, new_sub):
        return
    if not isinstance(new_status, str) or new_status not in TRANSITIONS:
        raise PatchRejected(f"Invalid status {new_status!r}; expected one of New, Active, Closed")
    allowed_next = TRANSITIONS.get(old_status) if isinstance(old_status, str) else None
    if allowed_next is None:
        raise PatchRejected(f"The referral's current status {old_status!r} cannot be changed")
    if new_status not in allowed_next:
        raise PatchRejected(f"Status cannot change from {old_status} to {new_status}")
    if new_sub not in SUBSTATUSES[new_status]:
        allowed = ", ".join(sorted(SUBSTATUSES[new_status]))
        raise PatchRejected(f"Substatus {new_sub!r} is not allowed with status {new_status}; use one of {allowed}")


def apply_patch(current: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """Apply a PATCH body to a copy of `current` and return it (not yet stamped); PatchRejected means 400."""
    operations = normalise_operations(body, current)
    try:
        updated: dict[str, Any] = jsonpatch.JsonPatch(operations).apply(copy.deepcopy(dict(current)))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchRejected(f"The patch cannot be applied: {exc}") from exc
    _check_status(current, updated)
    return updated
