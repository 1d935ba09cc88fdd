"""`/login` (device-code sign-in to Partner Center) and `/logout`; the once-per-loss admin notice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot import messages
from bot.router import PERSONAL, CommandRequest, Reply, Router
from cards.common import format_datetime
from cards.signin import device_code_card
from core.errors import CommandError, ConfigError, UpstreamError
from poller import signin
from poller.signin import PendingSignIn, SignInManager, SignInOutcome
from storage.conversations import personal_chat_of
from storage.models import SyncRun

_MANAGER_KEY = "signin"
_REPORTERS_KEY = "signin_reporters"  # the follow-up tasks waiting for a code and then saying how it ended
SHUTDOWN_GRACE_SECONDS = 5.0


def signin_manager(services: Any) -> SignInManager:
    """The bot's one `SignInManager`, kept in `services.extras` (one pending sign-in per bot process)."""
    manager = services.extras.get(_MANAGER_KEY)
    if manager is None:
        manager = SignInManager(services.settings, services.engine)
        services.extras[_MANAGER_KEY] = manager
    return manager


def register(router: Router) -> None:
    @router.command("/login", admin=True, scopes=frozenset({PERSONAL}), scope_hint=messages.LOGIN_PERSONAL_ONLY)
    async def login(req: CommandRequest) -> Reply | None:
        """Sign in to Partner Center with a device code."""
        if req.args:
            raise CommandError(messages.NO_ARGUMENTS.format(command="/login"))
        manager = signin_manager(req.services)
        try:
            pending = await manager.start()
        except ConfigError as exc:
            return Reply(text=str(exc))
        except UpstreamError as exc:
            return Reply(text=messages.LOGIN_COULD_NOT_START.format(reason=str(exc)))
        card = Reply(card=device_code_card(pending.user_code, pending.verification_uri, pending.expires_at))
        if not await manager.show(pending, lambda: req.conversation.send(card)):
            # a newer /login (or a /logout) came while this one was asking for its code: its card would be dead
            return Reply(text=outcome_text(SignInOutcome(manager.ended(pending) or "replaced")))
        req.conversation.follow_up(lambda: _finish(req, manager, pending))
        return None

    @router.command("/logout", admin=True, scopes=frozenset({PERSONAL}), scope_hint=messages.LOGOUT_PERSONAL_ONLY)
    async def logout(req: CommandRequest) -> Reply:
        """Forget the stored Partner Center sign-in."""
        if req.args:
            raise CommandError(messages.NO_ARGUMENTS.format(command="/logout"))
        before = await signin_manager(req.services).logout()
        if before is None:
            return Reply(text=messages.LOGOUT_NOTHING)
        who = messages.LOGOUT_DONE_WHO.format(username=before.username) if before.username else ""
        return Reply(text=messages.LOGOUT_DONE.format(who=who))


async def shut_down_sign_in(services: Any, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """For shutdown: end the pending `/login` and give its follow-up `grace` seconds to tell the admin.

    Otherwise the admin would approve a code no one redeems any more and never hear why.
    """
    manager = services.extras.get(_MANAGER_KEY)
    if manager is None:
        return
    await manager.shut_down()
    reporters: set[asyncio.Task[Any]] = services.extras.get(_REPORTERS_KEY, set())
    if reporters:
        await asyncio.wait(set(reporters), timeout=grace)


async def _finish(req: CommandRequest, manager: SignInManager, pending: PendingSignIn) -> Reply:
    """Wait for the code to be used (off the event loop) and say how it ended."""
    task = asyncio.current_task()
    if task is not None:  # the follow-up's task: its reply is sent when this returns
        reporters: set[asyncio.Task[Any]] = req.services.extras.setdefault(_REPORTERS_KEY, set())
        reporters.add(task)
        task.add_done_callback(reporters.discard)
    outcome = await manager.wait(pending)
    if outcome.status == "signed_in":
        resume = getattr(req.services.sync, "resume", None)
        if callable(resume):
            resume()
    return Reply(text=outcome_text(outcome))


def outcome_text(outcome: SignInOutcome) -> str:
    if outcome.status == "signed_in":
        return _signed_in_text(outcome)
    if outcome.status == "declined":
        return messages.LOGIN_DECLINED
    if outcome.status == "timeout":
        return messages.LOGIN_TIMEOUT
    if outcome.status == "replaced":
        return messages.LOGIN_REPLACED
    if outcome.status == "cancelled":
        return messages.LOGIN_CANCELLED
    if outcome.status == "shutdown":
        return messages.LOGIN_SHUTDOWN
    return messages.LOGIN_FAILED.format(reason=outcome.reason or "unknown error")


async def notify_admins_if_needed(services: Any) -> int:
    """After a sync: if the sign-in was lost, tell each admin once in their personal chat (`poller.signin`)."""

    async def send(aad_object_id: str, text: str) -> bool:
        send_to_user = getattr(services.proactive, "send_to_user", None)
        if callable(send_to_user):
            return bool(await send_to_user(aad_object_id, Reply(text=text)))
        chat = await services.db(personal_chat_of, aad_object_id)
        if chat is None:
            return False
        await services.proactive.send(chat.reference, Reply(text=text))
        return True

    return await signin.notify_admins_if_needed(services.settings, services.engine, send)


def admin_notice_hook(services: Any) -> Callable[[SyncRun], Awaitable[None]]:
    """A `SyncService.on_finished` callback: after a run that found no usable sign-in, tell the admins."""

    async def after_sync(run: SyncRun) -> None:
        if run.status == "not_signed_in":
            await notify_admins_if_needed(services)

    return after_sync


def _signed_in_text(outcome: SignInOutcome) -> str:
    """Who is signed in (when Entra ID said), and a warning when no refresh token came with the sign-in."""
    if outcome.username:
        text = messages.LOGIN_SIGNED_IN.format(username=outcome.username)
    else:
        text = messages.LOGIN_SIGNED_IN_UNKNOWN
    if not outcome.has_refresh_token:
        expires = format_datetime(outcome.access_token_expires_at)
        text += "\n\n" + messages.LOGIN_NO_REFRESH_TOKEN.format(expires=expires)
    return text
