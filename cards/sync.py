"""The summary card of one sync run."""

from __future__ import annotations

from cards.common import (
    Card,
    Element,
    card,
    fact_set,
    format_datetime,
    format_duration,
    subtle,
    text_block,
    title_block,
)
from cards.text import plain
from storage.models import SyncRun

# status -> (headline, TextBlock colour)
_STATUS = {
    "success": ("Success", "Good"),
    "succeeded": ("Success", "Good"),
    "ok": ("Success", "Good"),
    "failed": ("Failed", "Attention"),
    "error": ("Failed", "Attention"),
    "not_signed_in": ("Not signed in", "Warning"),
    "running": ("Running", "Accent"),
}
MAX_SKIP_REASONS = 20


def status_label(status: str | None) -> tuple[str, str]:
    """A headline and colour for a SyncRun status (`not-signed-in` and `not signed in` read the same)."""
    key = (status or "").strip().lower().replace("-", "_").replace(" ", "_")
    return _STATUS.get(key, (plain(status, 32) or "Unknown", "Default"))


def sync_counts(run: SyncRun) -> list[tuple[str, str]]:
    return [
        ("Fetched", str(run.fetched)),
        ("Inserted", str(run.inserted)),
        ("Updated", str(run.updated)),
        ("Unchanged", str(run.unchanged)),
        ("Notified", str(run.notified)),
        ("Leads created", str(run.leads_created)),
        ("Leads linked", str(run.leads_linked)),
        ("Domains scanned", str(run.scanned)),
        ("Requests", str(run.requests)),
        ("Retries", str(run.retries)),
        ("Pages", str(run.pages)),
    ]


def sync_summary_card(run: SyncRun) -> Card:
    """What a sync did: result, mode, timing, every counter, skip reasons, and the error or note."""
    label, color = status_label(run.status)
    mode = {"full": "full", "incremental": "incremental"}.get(run.mode, plain(run.mode, 16))
    duration = format_duration(run.finished_at - run.started_at) if run.finished_at else "still running"
    body: list[Element] = [
        title_block("Sync summary"),
        text_block(label, color=color, weight="Bolder", spacing="None"),
        fact_set(
            [
                ("Mode", mode),
                ("Trigger", plain(run.trigger, 16)),
                ("Started", format_datetime(run.started_at)),
                ("Finished", format_datetime(run.finished_at)),
                ("Duration", duration),
            ]
        ),
        text_block("Counts", weight="Bolder", separator=True),
        fact_set(sync_counts(run)),
    ]
    skipped = sorted(run.skipped.items(), key=lambda item: (-item[1], item[0])) if run.skipped else []
    if skipped:
        body.append(text_block("Skipped", weight="Bolder", separator=True))
        facts = [(plain(str(reason), 60), str(count)) for reason, count in skipped[:MAX_SKIP_REASONS]]
        if len(skipped) > MAX_SKIP_REASONS:
            facts.append(("Other reasons", str(sum(count for _, count in skipped[MAX_SKIP_REASONS:]))))
        body.append(fact_set(facts))
    if run.error:
        body.append(text_block(f"Error: {plain(run.error, 1000)}", color="Attention", separator=True))
    if run.note:
        body.append(subtle(plain(run.note, 1000)))
    return card(body)
