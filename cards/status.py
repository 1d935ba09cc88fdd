"""The status card: last and next sync, Partner Center sign-in health, and the sales channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cards.common import (
    Card,
    Element,
    card,
    fact_set,
    format_datetime,
    moment_and_relative,
    subtle,
    text_block,
    title_block,
)
from cards.sync import status_label
from cards.text import plain
from storage.models import ConversationRef, SignIn, SyncRun

NO_CHANNEL = "No sales channel yet: an admin can type `notify here` in a channel."
MAX_CHANNELS = 20


@dataclass(frozen=True)
class StatusView:
    """Everything the status card shows, gathered by the `status` command."""

    last_run: SyncRun | None
    next_run_at: datetime | None
    poller_enabled: bool
    sign_in: SignIn | None
    static_token: bool
    sales_channels: Sequence[ConversationRef]
    now: datetime


def _sync_section(view: StatusView) -> list[Element]:
    section: list[Element] = [text_block("Sync", weight="Bolder")]
    run = view.last_run
    facts: list[tuple[str, str]] = []
    if run is None:
        facts.append(("Last sync", "none yet"))
    else:
        label, _ = status_label(run.status)
        when = run.finished_at or run.started_at
        facts += [
            ("Last sync", moment_and_relative(when, view.now)),
            ("Result", label),
            (
                "Counts",
                f"{run.fetched} fetched, {run.inserted} new, {run.updated} updated, {run.notified} notified",
            ),
        ]
        if run.error:
            facts.append(("Error", plain(run.error, 300)))
    if not view.poller_enabled:
        facts.append(("Next sync", "scheduled sync is off; type `sync` to run one"))
    elif view.next_run_at is None:
        facts.append(("Next sync", "not scheduled"))
    else:
        facts.append(("Next sync", moment_and_relative(view.next_run_at, view.now)))
    section.append(fact_set(facts))
    return section


def _sign_in_facts(view: StatusView) -> list[tuple[str, str]]:
    sign_in = view.sign_in
    if view.static_token:
        return [("State", "using a static token (PARTNER_CENTER_ACCESS_TOKEN)")]
    if sign_in is None or sign_in.state == "signed_out":
        return [("State", "not signed in: an admin can run `/login` in a personal chat")]
    if sign_in.state == "needs_login":
        reason = plain(sign_in.failure_reason, 300) or "the stored sign-in stopped working"
        state = f"needs login ({reason}): an admin can run `/login` in a personal chat"
    elif sign_in.state == "signed_in":
        state = f"signed in as {plain(sign_in.username, 120) or 'an unknown account'}"
    else:
        state = plain(sign_in.state, 32)
    return [
        ("State", state),
        ("Access token expires", moment_and_relative(sign_in.access_token_expires_at, view.now)),
        ("Last refresh", format_datetime(sign_in.last_refresh_at)),
        ("Refresh token held", "yes" if sign_in.has_refresh_token else "no"),
    ]


def channel_label(ref: ConversationRef) -> str:
    """`Team / Channel`, or the conversation id when the names are unknown."""
    names = [plain(name, 100) for name in (ref.team_name, ref.channel_name) if name]
    return " / ".join(names) if names else plain(ref.conversation_id, 255)


def _channels_section(view: StatusView) -> list[Element]:
    section: list[Element] = [text_block("Sales channels", weight="Bolder", separator=True)]
    channels = list(view.sales_channels)
    if not channels:
        section.append(subtle(NO_CHANNEL))
        return section
    section.extend(subtle(f"• {channel_label(ref)}") for ref in channels[:MAX_CHANNELS])
    if len(channels) > MAX_CHANNELS:
        section.append(subtle(f"and {len(channels) - MAX_CHANNELS} more"))
    return section


def status_card(view: StatusView) -> Card:
    """How the bot is doing right now."""
    body: list[Element] = [title_block("Status")]
    body += _sync_section(view)
    body.append(text_block("Partner Center sign-in", weight="Bolder", separator=True))
    body.append(fact_set(_sign_in_facts(view)))
    body += _channels_section(view)
    return card(body)
