"""A second `./dev demo` on the same state folder refuses to start instead of deleting the first one's data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandbox.demo import hold_state_dir

ROOT = Path(__file__).resolve().parents[2]


def test_second_demo_on_the_same_state_refuses(tmp_path: Path) -> None:
    lock = hold_state_dir(tmp_path)
    assert lock is not None
    (tmp_path / "referrals.db").write_text("the first demo's data")
    with lock:
        result = subprocess.run(
            [sys.executable, "-m", "sandbox.demo", "--no-playground", "--state-dir", str(tmp_path)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 2
    assert f"A demo is already running on {tmp_path} (pid {os.getpid()})" in result.stdout + result.stderr
    assert (tmp_path / "referrals.db").read_text() == "the first demo's data"
    again = hold_state_dir(tmp_path)  # free again once the first one let go
    assert again is not None
    again.close()
