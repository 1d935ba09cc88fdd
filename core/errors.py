"""The product's error tree. Everything we raise on purpose is one of these.

ReferralBotError
├── ConfigError                 a setting is missing or malformed
├── DatabaseUnavailable         the database cannot be opened or migrated
├── UpstreamError               Partner Center (or Entra) did not give us what we asked for
│   ├── UpstreamUnavailable     429 / 5xx / timeout after every retry
│   ├── UpstreamAuthError       401 / 403 (after one token refresh)
│   ├── UpstreamRejected        4xx we cannot retry (400 illegal filter, 404, 412 …)
│   └── UpstreamProtocolError   a body we cannot parse
├── NotSignedIn                 no usable Partner Center sign-in
├── CommandError                a chat command cannot be carried out; `reason` is shown to the user
└── DeliveryError               the Bot Connector refused or dropped a message we sent
"""

from __future__ import annotations


class ReferralBotError(Exception):
    """Base class of every error this product raises on purpose."""


class ConfigError(ReferralBotError):
    """A setting is missing or malformed."""


class DatabaseUnavailable(ReferralBotError):
    """The database cannot be opened or brought up to date (unreachable server, bad credentials, no file)."""


class UpstreamError(ReferralBotError):
    """An upstream HTTP service did not give us what we asked for."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.request_id = request_id
        self.code = code


class UpstreamUnavailable(UpstreamError):
    """Throttled, failing or timing out even after the retries."""


class UpstreamAuthError(UpstreamError):
    """Partner Center refused our credentials (401/403)."""


class UpstreamRejected(UpstreamError):
    """A request Partner Center will never accept as sent (400, 404, 409, 412 …).

    `maybe_applied`: an earlier try of this same request failed in a way that does not tell whether the server
    carried it out (a 5xx or a lost answer), so a 412 may be our own change coming back.
    """

    maybe_applied: bool = False


class UpstreamProtocolError(UpstreamError):
    """A response body we cannot parse (malformed or truncated JSON)."""


class NotSignedIn(ReferralBotError):
    """No Partner Center sign-in is available (or its refresh token no longer works)."""


class CommandError(ReferralBotError):
    """A chat command cannot be carried out; `reason` is safe to show to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryError(ReferralBotError):
    """The Bot Connector did not take a message we sent (429, 412, 5xx, timeouts …)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in (408, 412, 429) or self.status >= 500
