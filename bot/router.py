"""The command registry and its dispatch.

Command modules register handlers with `@router.command(...)`; help text and the manifest's
`commandLists` are generated from `router.specs`. Nothing here knows botbuilder: handlers talk to a
`Conversation` that `bot.adapter` implements.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidfuzz import fuzz, process

from bot import messages
from core.errors import CommandError

log = logging.getLogger(__name__)

PERSONAL, GROUP, CHANNEL = "personal", "groupChat", "channel"
ALL_SCOPES = frozenset({PERSONAL, GROUP, CHANNEL})
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Reply:
    """What a command answers: a short text, an Adaptive Card, or both."""

    text: str | None = None
    card: dict[str, Any] | None = None


class Conversation(Protocol):
    """The conversation a command came from (implemented over botbuilder in `bot.adapter`)."""

    async def send(self, reply: Reply) -> None: ...

    async def typing(self) -> None: ...

    def follow_up(self, work: Callable[[], Awaitable[Reply | None]]) -> None:
        """Run `work` after this turn has been answered and post its reply into the same conversation."""


@dataclass(frozen=True)
class Caller:
    """Who sent the command and from where."""

    name: str | None
    aad_object_id: str | None
    user_id: str | None
    conversation_type: str
    conversation_id: str
    tenant_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None


@dataclass
class CommandRequest:
    caller: Caller
    args: list[str]
    conversation: Conversation
    services: Any


Handler = Callable[[CommandRequest], Awaitable[Reply | None]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    description: str
    handler: Handler
    admin: bool = False
    scopes: frozenset[str] = ALL_SCOPES
    scope_hint: str = ""


@dataclass
class Router:
    """Registers commands and routes a message's text to one of them."""

    is_admin: Callable[[str | None], bool]
    specs: list[CommandSpec] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        usage: str | None = None,
        admin: bool = False,
        scopes: frozenset[str] = ALL_SCOPES,
        scope_hint: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler; its docstring's first line becomes the help text."""

        def register(handler: Handler) -> Handler:
            doc = (handler.__doc__ or "").strip().splitlines()
            self.specs.append(
                CommandSpec(
                    name=name,
                    usage=usage or name,
                    description=doc[0] if doc else "",
                    handler=handler,
                    admin=admin,
                    scopes=scopes,
                    scope_hint=scope_hint,
                )
            )
            self.specs.sort(key=lambda s: -len(s.name.split()))  # longest names match first
            return handler

        return register

    def visible_specs(self) -> Sequence[CommandSpec]:
        """The commands in registration order for help and the manifest."""
        return sorted(self.specs, key=lambda s: _ORDER.get(s.name, 99))

    def match(self, text: str) -> tuple[CommandSpec | None, list[str]]:
        """The command `text` names, and its remaining words."""
        words = normalize(text).split()
        lowered = [w.lower() for w in words]
        for spec in self.specs:
            parts = spec.name.split()
            if lowered[: len(parts)] == parts:
                return spec, words[len(parts) :]
        return None, words

    def closest(self, word: str) -> str | None:
        names = [s.name for s in self.specs]
        found = process.extractOne(word.lower(), names, scorer=fuzz.WRatio, score_cutoff=60)
        return found[0] if found else None

    async def dispatch(self, text: str, caller: Caller, conversation: Conversation, services: Any) -> None:
        """Find the command, apply the admin and scope filters, run it and send its reply."""
        spec, args = self.match(text)
        if spec is None:
            await conversation.send(self._unknown(args))
            return
        if spec.admin and not self.is_admin(caller.aad_object_id):
            log.warning(
                "admin command refused",
                extra={"command": spec.name, "aad_object_id": caller.aad_object_id, "user": caller.name},
            )
            await conversation.send(Reply(text=messages.ADMIN_ONLY.format(command=spec.name)))
            return
        if caller.conversation_type not in spec.scopes:
            await conversation.send(Reply(text=spec.scope_hint or messages.WRONG_SCOPE.format(command=spec.name)))
            return
        request = CommandRequest(caller=caller, args=args, conversation=conversation, services=services)
        try:
            reply = await spec.handler(request)
        except CommandError as exc:
            reply = Reply(text=messages.USAGE_ERROR.format(reason=exc.reason, usage=plain_usage(spec.usage)))
        if reply is not None:
            await conversation.send(reply)

    def _unknown(self, words: list[str]) -> Reply:
        if not words:
            return Reply(text=messages.EMPTY_COMMAND)
        guess = self.closest(" ".join(words[:2])) or self.closest(words[0])
        said = echo(" ".join(words))
        if guess:
            return Reply(text=messages.UNKNOWN_COMMAND_GUESS.format(said=said, guess=guess))
        return Reply(text=messages.UNKNOWN_COMMAND.format(said=said))


_ORDER = {
    name: i
    for i, name in enumerate(
        [
            "help",
            "sync",
            "referrals",
            "referral",
            "lead",
            "leads",
            "status",
            "notify here",
            "/login",
            "/logout",
        ]
    )
}


def echo(text: str, limit: int = 60) -> str:
    """User text to show back inside a markdown code span: a backtick would end the span and let the rest
    render as markdown (links, bold …), and a line break could start a block, so neither survives."""
    return " ".join(text.replace("`", "'").split())[:limit]


def plain_usage(usage: str) -> str:
    """`lead <domain>` → `lead DOMAIN`: chat clients treat `<domain>` in a text message as an HTML tag."""
    return re.sub(r"<([^<>]+)>", lambda m: m.group(1).upper(), usage)


def normalize(text: str) -> str:
    """Drop @mentions and markup, collapse whitespace; compatibility forms (full-width letters from an IME,
    non-breaking spaces) read as their plain letters (NFKC); invisible format characters pasted along are dropped."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width spaces, joiners, BOM
    text = _MENTION.sub(" ", text)
    text = html.unescape(_TAG.sub(" ", text))  # Teams sends `&quot;`, `&amp;`, `&nbsp;` in message text
    return " ".join(text.split())
