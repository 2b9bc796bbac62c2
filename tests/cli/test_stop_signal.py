"""A run stopped by SIGTERM or SIGINT writes its summary, marked as stopped, before it exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_writes_its_summary(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ}
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "sim", "--days", "3650", "--no-charts", "--json",
                             "--out", str(tmp_path), "--name", "stopped"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        db = tmp_path / "stopped" / "vend.db"
        deadline = time.monotonic() + 120
        while not (db.exists() and db.stat().st_size > 2_000_000):  # the run's books are being written
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig
    summary = json.loads((tmp_path / "stopped" / "summary.json").read_text(encoding="utf-8"))
    assert summary["stopped"] == sig.name and summary["ended_by"] == f"stopped ({sig.name})"
    assert 0 < summary["days_run"] < 3_650
    assert json.loads(out.strip().splitlines()[-1])["stopped"] == sig.name
