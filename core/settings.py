"""The one settings object, read from the environment (and `.env` when present).

Every field here has a line in `.env.example`; `tests/test_settings.py` keeps the two equal.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")


def parse_nameserver(text: str) -> tuple[str, int]:
    """`127.0.0.1:5353` → ("127.0.0.1", 5353); `[::1]:53`; a bare address means port 53.

    Raises ValueError for anything else: the resolver needs an IP address and a port in 1-65535.
    """
    text = text.strip()
    host, port_text = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address with an optional :port") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r} has no valid port (1-65535)")
    return host, int(port_text)


class Settings(BaseSettings):
    """Runtime configuration for the bot, the poller and the sandbox."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    host: str = "0.0.0.0"
    port: int = 3978
    database_url: str = "sqlite:///data/referrals.db"

    bot_id: str = ""
    bot_password: str = ""
    bot_type: str = "SingleTenant"
    bot_tenant_id: str = ""

    partner_center_api_url: str = "https://api.partner.microsoft.com"
    partner_center_scope: str = "https://api.partner.microsoft.com/.default"
    partner_center_access_token: str = ""
    partner_center_portal_url: str = "https://partner.microsoft.com/dashboard/referrals/v2/leads"

    azure_client_id: str = ""
    azure_tenant_id: str = ""
    azure_authority_host: str = "https://login.microsoftonline.com"
    token_cache_key: str = ""

    admin_aad_object_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sales_channel_id: str = ""

    poller_enabled: bool = True
    poll_interval_seconds: int = Field(default=600, ge=1)
    full_sweep_hours: float = Field(default=24.0, gt=0)
    watermark_overlap_seconds: int = Field(default=120, ge=0)
    page_size: int = Field(default=200, ge=1, le=1000)
    max_pages: int = Field(default=500, ge=1)

    scan_enabled: bool = True
    dns_nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_timeout_seconds: float = Field(default=3.0, gt=0)
    scan_concurrency: int = Field(default=20, ge=1)
    rescan_after_days: float = Field(default=30.0, gt=0)
    co_sell_boost: int = 15

    reminder_hours: float = Field(default=24.0, ge=0)
    dispatch_interval_seconds: float = Field(default=5.0, gt=0)

    log_level: str = "INFO"
    log_format: str = "json"

    @field_validator("admin_aad_object_ids", "dns_nameservers", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _valid_nameservers(cls, value: list[str]) -> list[str]:
        for server in value:
            parse_nameserver(server)
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        try:
            make_url(value).get_dialect()
        except ArgumentError:  # also NoSuchModuleError: a dialect SQLAlchemy does not know
            raise ValueError(f"{value!r} is not an SQLAlchemy URL such as sqlite:///data/referrals.db") from None
        return value

    @field_validator("partner_center_api_url", "partner_center_portal_url", "azure_authority_host")
    @classmethod
    def _valid_web_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as https://api.partner.microsoft.com")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _valid_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _valid_log_format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_FORMATS)}")
        return value.lower()

    @property
    def auth_enabled(self) -> bool:
        """Inbound Bot Framework authentication is on whenever a bot app id is configured."""
        return bool(self.bot_id)

    def is_admin(self, aad_object_id: str | None) -> bool:
        if not aad_object_id:
            return False
        return aad_object_id.lower() in {a.lower() for a in self.admin_aad_object_ids}


def load_settings() -> Settings:
    """Settings from the environment; a `ConfigError` naming each bad variable (one line) when any is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"][:1]).upper() or "settings"
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
