"""The objects a running simulator keeps on its `web.Application`, reachable by tests as `app[KEY]`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.partner_center.faults import Faults
from sandbox.partner_center.paging import Pager
from sandbox.partner_center.store import ReferralStore

DEFAULT_TOP = 100  # documented: "If there are more than 100 items in a collection, use @odata.nextLink"

TokenValidator = Callable[[str], bool | Awaitable[bool]]


@dataclass
class SandboxConfig:
    """Knobs that tests may change on a running app (`app[CONFIG_KEY]` or PATCH /_sandbox/config)."""

    page_cap: int | None = None  # the server returns at most this many items per page, whatever $top says
    default_top: int = DEFAULT_TOP  # page size when $top is absent
    stale_etag_status: int = 412  # the answer to a PATCH whose If-Match is stale: 412, or 409 (undocumented which)


STORE_KEY = web.AppKey("partner_center_store", ReferralStore)
FAULTS_KEY = web.AppKey("partner_center_faults", Faults)
REQUEST_LOG_KEY = web.AppKey("partner_center_request_log", list[dict[str, Any]])
CONFIG_KEY = web.AppKey("partner_center_config", SandboxConfig)
PAGER_KEY = web.AppKey("partner_center_pager", Pager)
VALIDATOR_KEY: web.AppKey[TokenValidator] = web.AppKey("partner_center_token_validator")
FORBIDDEN_KEY = web.AppKey("partner_center_forbidden_tokens", frozenset[str])
