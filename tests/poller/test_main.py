"""`python -m poller --once` as a subprocess against the simulator served from a thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from sandbox.partner_center.keys import REQUEST_LOG_KEY
from storage.db import make_engine
from storage.models import Referral
from tests.poller.conftest import TOKEN, ThreadedSimulator
from tests.poller.helpers import examples

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNER_CENTER", "DATABASE", "AZURE"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "poller", "--once", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env.get("CWD", str(ROOT)),
    )


def test_once_prints_the_summary_last_and_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "poller.db"
    with ThreadedSimulator(examples(), page_cap=2) as sim:
        env = {
            "PARTNER_CENTER_API_URL": sim.base_url,
            "PARTNER_CENTER_ACCESS_TOKEN": TOKEN,
            "DATABASE_URL": f"sqlite:///{db}",
            "SCAN_ENABLED": "false",
            "CWD": str(tmp_path),
        }
        result = _run(env)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["status"] == "success" and summary["inserted"] == 3 and summary["pages"] == 2
        assert summary["skipped"] == {"status_closed": 1, "no_domain": 1}
        assert TOKEN not in result.stderr + result.stdout

        again = _run(env, "--full")
        assert again.returncode == 0, again.stderr
        second = json.loads(again.stdout.strip().splitlines()[-1])
        assert second["mode"] == "full" and second["unchanged"] == 3 and second["inserted"] == 0

    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 3
    engine.dispose()


def test_once_without_sign_in_exits_non_zero_with_a_reason(tmp_path: Path) -> None:
    with ThreadedSimulator(examples()) as sim:
        env = {
            "PARTNER_CENTER_API_URL": sim.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "SCAN_ENABLED": "false",
            "CWD": str(tmp_path),
        }
        result = _run(env)
        assert result.returncode == 2
        assert "not_signed_in" in result.stderr and "signed in" in result.stderr.lower()
        assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "not_signed_in"
        assert sim.app[REQUEST_LOG_KEY] == []


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PAGE_SIZE", "0", "PAGE_SIZE: Input should be greater than or equal to 1"),
        ("SCAN_ENABLED", "maybe", "SCAN_ENABLED: Input should be a valid boolean"),
        ("DATABASE_URL", "garbage", "DATABASE_URL: 'garbage' is not an SQLAlchemy URL"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL: 'nosuchdb://x' is not an SQLAlchemy URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: 'LOUD' is not one of DEBUG"),
        ("PARTNER_CENTER_API_URL", "api.partner.microsoft.com", "PARTNER_CENTER_API_URL: 'api.partner.microsoft"),
        ("PARTNER_CENTER_API_URL", "ftp://pc.example", "PARTNER_CENTER_API_URL: 'ftp://pc.example' is not an http"),
        ("AZURE_AUTHORITY_HOST", "https://", "AZURE_AUTHORITY_HOST: 'https://' is not an http(s) URL"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: 'xml' is not one of json, text"),
        ("DNS_NAMESERVERS", "host:notaport", "DNS_NAMESERVERS: 'host:notaport' is not an IP address"),
        ("DNS_NAMESERVERS", "127.0.0.1:99999", "DNS_NAMESERVERS: '127.0.0.1:99999' has no valid port"),
        ("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x", "cannot open the database"),
    ],
)
def test_bad_settings_or_database_exit_3_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PARTNER_CENTER_ACCESS_TOKEN": TOKEN, "CWD": str(tmp_path)}
    result = _run({**env, variable: value})
    assert result.returncode == 3
    assert result.stderr.startswith("sync not run: ") and says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
