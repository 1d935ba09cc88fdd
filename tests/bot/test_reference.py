"""The conversation reference read off an activity's wire JSON equals the SDK's own, for every real payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.adapter import _WIRE_BODY, _keep_tenant, reference_of

DATA = Path(__file__).resolve().parents[1] / "data"


def _payloads() -> list[tuple[str, dict[str, Any]]]:
    teams = json.loads((DATA / "teams-activities.json").read_text(encoding="utf-8"))["examples"]
    playground = json.loads((DATA / "playground-activities.json").read_text(encoding="utf-8"))
    found = [(example["name"], example["activity"]) for example in teams]
    found += [(name, body) for name, body in playground.items() if name.startswith("to_bot:")]
    return found


@pytest.mark.parametrize(("name", "body"), _payloads(), ids=[name for name, _ in _payloads()])
def test_wire_reference_equals_the_sdk_reference(name: str, body: dict[str, Any]) -> None:
    activity = Activity().deserialize(body)
    _keep_tenant(activity)  # as every turn does first (defect 3: the SDK drops the wire's tenantId)
    expected = TurnContext.get_conversation_reference(activity).serialize()
    conversation = expected.get("conversation", {})
    if "tenantID" in conversation:  # the SDK's spelling (defect 3); the wire's and ours is tenantId
        conversation["tenantId"] = conversation.pop("tenantID")
    setattr(activity, _WIRE_BODY, body)
    assert reference_of(activity) == expected


def test_without_a_wire_body_the_sdk_builds_it() -> None:
    activity = Activity(type="message", id="1", service_url="https://smba.example/", channel_id="msteams")
    assert reference_of(activity) == TurnContext.get_conversation_reference(activity).serialize()
