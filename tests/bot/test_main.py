"""`python -m bot` refuses to start with one clear line when it cannot run, instead of a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE", "PARTNER_CENTER"))}
    full_env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "POLLER_ENABLED": "false", **env})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot"], env=full_env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def test_bad_setting_is_named(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, LOG_LEVEL="LOUD")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bot not started: invalid settings: LOG_LEVEL: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x", LOG_LEVEL="CRITICAL")
    assert result.returncode == 2
    assert result.stderr.startswith("bot not started: cannot open the database postgresql+psycopg://nobody@")
    assert "Traceback" not in result.stderr


def test_port_already_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_bot(tmp_path, HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="CRITICAL")
    assert result.returncode == 2
    assert result.stderr.startswith(f"bot not started on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr
