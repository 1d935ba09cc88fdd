"""Adaptive Card button presses (`Action.Execute` verbs). Each returns the card the presser sees next."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import messages
from bot.router import Caller
from bot.services import Services
from cards.common import error_card, open_url
from cards.lead import lead_card
from cards.referral import partner_center_url, referral_card, referral_list_card
from storage import queries

log = logging.getLogger(__name__)
PAGE_SIZE = 10
MAX_PAGE = 1_000_000  # far beyond any real list; keeps the OFFSET inside a database integer
KINDS = ("co-sell", "marketplace", "ms-lead", "other")
STATUS_WORDS = {"new": ("New",), "active": ("Active",), "closed": ("Closed",), None: queries.OPEN_STATUSES}

Action = Callable[[dict[str, Any], Caller, Any], Awaitable[dict[str, Any]]]


class InvalidAction(Exception):
    """The button's payload is not one we made."""


class CardActions:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.verbs: dict[str, Action] = {
            "showReferral": self.show_referral,
            "referralsPage": self.referrals_page,
            "openLead": self.open_lead,
            "accept": self.accept,
        }

    async def handle(self, action: dict[str, Any], caller: Caller, conversation: Any) -> dict[str, Any]:
        verb = action.get("verb")
        data = action.get("data")
        handler = self.verbs.get(verb) if isinstance(verb, str) else None
        if handler is None or not isinstance(data, dict):
            log.warning("invalid card action", extra={"verb": str(verb)[:40], "user": caller.aad_object_id})
            if verb == "accept":
                await self._audit_invalid(None, caller, "the button sent no data object")
            return error_card(messages.ACTION_INVALID_TITLE, messages.ACTION_INVALID)
        try:
            return await handler(data, caller, conversation)
        except InvalidAction as exc:
            log.warning("invalid card action data", extra={"verb": verb, "detail": str(exc)})
            return error_card(messages.ACTION_INVALID_TITLE, str(exc))
        except Exception:  # a bug or a database failure: the presser still gets a card, never an HTTP error
            log.exception("card action failed", extra={"verb": verb, "user": caller.aad_object_id})
            return error_card(messages.ACTION_INVALID_TITLE, messages.INTERNAL_ERROR)

    async def _referral(self, data: dict[str, Any]) -> Any:
        referral_id = data.get("referralId")
        if not isinstance(referral_id, str) or not referral_id or len(referral_id) > 64:
            raise InvalidAction(messages.ACTION_NO_REFERRAL)
        referral = await self.services.read(queries.get_referral, referral_id)
        if referral is None:
            raise InvalidAction(messages.REFERRAL_NOT_FOUND.format(referral_id=referral_id[:64]))
        return referral

    async def referral_card_for(self, referral: Any, **extra: Any) -> dict[str, Any]:
        lead = await self.services.read(queries.get_lead, referral.lead_id)
        return referral_card(
            referral,
            lead=lead,
            portal_url=self.services.settings.partner_center_portal_url,
            now=self.services.now(),
            **extra,
        )

    async def show_referral(self, data: dict[str, Any], caller: Caller, conversation: Any) -> dict[str, Any]:
        return await self.referral_card_for(await self._referral(data))

    async def referrals_page(self, data: dict[str, Any], caller: Caller, conversation: Any) -> dict[str, Any]:
        kind = data.get("kind")
        status = data.get("status")
        page = data.get("page")
        if (
            not (kind is None or isinstance(kind, str))
            or kind not in (*KINDS, None, "all")
            or not (status is None or isinstance(status, str))
            or status not in STATUS_WORDS
            or not isinstance(page, int)
            or isinstance(page, bool)
            or not 1 <= page <= MAX_PAGE
        ):
            raise InvalidAction(messages.ACTION_BAD_PAGE)
        return await referrals_list(self.services, kind=None if kind == "all" else kind, status=status, page=page)

    async def open_lead(self, data: dict[str, Any], caller: Caller, conversation: Any) -> dict[str, Any]:
        referral = await self._referral(data)
        lead = await self.services.read(queries.get_lead, referral.lead_id)
        if lead is None:
            return await self.referral_card_for(referral, note=messages.NO_LEAD_FOR_REFERRAL)
        scan, referrals = await self.services.read(queries.lead_details, lead)
        card = lead_card(lead, scan=scan, referrals=referrals, back_referral_id=referral.id)
        portal = partner_center_url(self.services.settings.partner_center_portal_url, referral.id)
        card.setdefault("actions", []).append(open_url(messages.OPEN_IN_PARTNER_CENTER, portal))
        return card

    async def accept(self, data: dict[str, Any], caller: Caller, conversation: Any) -> dict[str, Any]:
        from bot.accept import accept_referral

        try:
            referral = await self._referral(data)
        except InvalidAction as exc:  # forged, stale or malformed: audited like every other press
            await self._audit_invalid(data.get("referralId"), caller, str(exc))
            raise
        return await accept_referral(self.services, referral, caller, conversation, self.referral_card_for)

    async def _audit_invalid(self, referral_id: Any, caller: Caller, reason: str) -> None:
        from bot.accept import audit_invalid

        try:
            await audit_invalid(self.services, referral_id, caller, reason)
        except Exception:  # the presser still gets the card that explains the button
            log.exception("could not audit an invalid accept", extra={"user": caller.aad_object_id})


async def referrals_list(services: Services, *, kind: str | None, status: str | None, page: int) -> dict[str, Any]:
    rows, total, more = await services.read(
        queries.list_referrals, kind=kind, statuses=STATUS_WORDS[status], page=page, page_size=PAGE_SIZE
    )
    return referral_list_card(
        rows,
        kind=kind or "all",
        status=status,
        page=page,
        total=total,
        more=more,
        page_size=PAGE_SIZE,
        now=services.now(),
    )
