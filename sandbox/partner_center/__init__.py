"""Partner Center Referrals API simulator: the test oracle for our client and the demo's data source.

Public API:
    create_app(store, *, page_cap, default_top, token_validator, forbidden_tokens, faults) -> web.Application
    ReferralStore, Faults, Fault, generate_referrals, make_referral, serve, RunningService
    app keys: STORE_KEY, FAULTS_KEY, REQUEST_LOG_KEY, CONFIG_KEY
"""

from __future__ import annotations

from pathlib import Path

from sandbox.partner_center.app import API_PREFIX, create_app, etag_matches
from sandbox.partner_center.faults import Fault, Faults
from sandbox.partner_center.generator import (
    CONSUMER_DOMAINS,
    KINDS,
    QUIRKS,
    Customer,
    generate_referrals,
    make_referral,
)
from sandbox.partner_center.keys import CONFIG_KEY, FAULTS_KEY, REQUEST_LOG_KEY, STORE_KEY, SandboxConfig
from sandbox.partner_center.server import RunningService, serve
from sandbox.partner_center.store import ReferralStore, format_timestamp, new_etag

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "referrals.json"

__all__ = [
    "API_PREFIX",
    "CONFIG_KEY",
    "CONSUMER_DOMAINS",
    "FAULTS_KEY",
    "KINDS",
    "QUIRKS",
    "REQUEST_LOG_KEY",
    "SEED_FILE",
    "STORE_KEY",
    "Customer",
    "Fault",
    "Faults",
    "ReferralStore",
    "RunningService",
    "SandboxConfig",
    "create_app",
    "etag_matches",
    "format_timestamp",
    "generate_referrals",
    "make_referral",
    "new_etag",
    "serve",
]
