"""The settings object and `.env.example` list the same settings, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _example_keys() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_env_example_mirrors_settings_line_by_line() -> None:
    assert _example_keys() == [name.upper() for name in Settings.model_fields]


def test_env_example_defaults_parse_to_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / ".env.example").read_text()
    for key, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE):
        monkeypatch.setenv(key, value)
    assert Settings() == Settings.model_construct(**Settings().model_dump())
    assert Settings().model_dump() == {
        k: f.get_default(call_default_factory=True) for k, f in Settings.model_fields.items()
    }


def test_comma_separated_lists_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_AAD_OBJECT_IDS", " a-1, B-2 ,,")
    monkeypatch.setenv("DNS_NAMESERVERS", "127.0.0.1:5353")
    settings = Settings()
    assert settings.admin_aad_object_ids == ["a-1", "B-2"]
    assert settings.is_admin("b-2") and not settings.is_admin("c-3") and not settings.is_admin(None)
    assert settings.dns_nameservers == ["127.0.0.1:5353"]


def test_bad_values_are_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "soon")
    with pytest.raises(ValueError, match="poll_interval_seconds"):
        Settings()
