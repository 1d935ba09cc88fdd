"""The signed-in Partner Center account (placeholder until the /login work lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import NotSignedIn

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.settings import Settings


class SignedInTokenSource:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine

    async def get_token(self, *, force_refresh: bool = False) -> str:
        raise NotSignedIn("No one is signed in to Partner Center. An admin can run /login in a personal chat.")
