"""Where Partner Center bearer tokens come from.

`PARTNER_CENTER_ACCESS_TOKEN` wins when set (tests, short scripts); otherwise the account signed in with
`/login`, whose MSAL cache lives encrypted in the database (`poller.signin`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.settings import Settings


class TokenSource(Protocol):
    """Gives a bearer token for Partner Center, or raises `core.errors.NotSignedIn`."""

    async def get_token(self, *, force_refresh: bool = False) -> str: ...

    async def refused(self, reason: str) -> bool:
        """Partner Center answered 401 to a token just refreshed: True when that ends the sign-in (the
        client then reports "not signed in", so syncs pause and admins are told), False to report an auth
        error as usual."""
        ...


class StaticTokenSource:
    """A fixed token (`PARTNER_CENTER_ACCESS_TOKEN`); a refresh gives the same token back."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *, force_refresh: bool = False) -> str:
        return self._token

    async def refused(self, reason: str) -> bool:
        return False  # nothing to sign in again: the run fails with the auth error


def make_token_source(settings: Settings, engine: Engine) -> TokenSource:
    if settings.partner_center_access_token:
        return StaticTokenSource(settings.partner_center_access_token)
    from poller.signin import SignedInTokenSource

    return SignedInTokenSource(settings, engine)
