"""`vend hil --faults` runs the shop as a child process it SIGKILLs and starts again
(bridge/compose/hil_process.py), with a standby process for the next start: none of those processes
outlives the run, whether it ends well or fails."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.hil import HilSettings, build_hil
from bridge.compose.hil_process import ChildHilRun
from bridge.compose.outside.ops import OpsTeam
from bridge.errors import AdapterError
from tests.broker import find_tool
from tests.processes import processes_naming

PLUMBING = Path(__file__).resolve().parent / "plumbing.toml"


@pytest.fixture(autouse=True)
def _mosquitto() -> None:
    find_tool("mosquitto")  # missing: fails with CI=true, else skips


def _gone(pid: int) -> bool:
    """Reaped (no longer this process's child) and not running as the shop."""
    try:
        os.waitpid(pid, os.WNOHANG)
        return False  # still our child (running, or a zombie nobody reaped)
    except ChildProcessError:
        pass
    try:
        return b"hil_shop" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return True


def _build(tmp_path: Path, name: str) -> Any:
    run = build_hil(HilSettings(out_dir=tmp_path, run_name=name, charts=False, scenario="vb1", days=6, seed=7,
                                policy=f"scripted:{PLUMBING}", faults=True))
    assert isinstance(run, ChildHilRun)
    return run


def test_no_shop_process_is_left_after_a_run(tmp_path: Path) -> None:
    run = _build(tmp_path, "ok")
    try:
        first = run.shop.pids[0]
        assert not _gone(first)  # the shop runs in its own process
        run.run()
        summary = run.summary()
    finally:
        run.close()
    assert summary["days_run"] == 6 and summary["shop_processes"] >= 2  # killed at least once
    assert len(run.shop.pids) == summary["shop_processes"] + 1  # and the standby for a next start
    assert all(_gone(pid) for pid in run.shop.pids), run.shop.pids
    assert (run.run_dir / "hil" / "shop-events.jsonl").stat().st_size > 0


def test_no_shop_process_is_left_after_the_outside_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outside breaks on day 5, after the seeded kills of seed 7 had the shop started again: the run
    fails with one AdapterError, and every shop process it started is gone."""
    confirm = OpsTeam.confirm

    def breaks(self: OpsTeam, events: list[Any]) -> None:
        if self.world.now >= datetime.fromisoformat("2026-01-09T12:00:00-08:00"):
            raise RuntimeError("the ops person's laptop died")
        confirm(self, events)

    monkeypatch.setattr(OpsTeam, "confirm", breaks)
    run = _build(tmp_path, "broken")
    try:
        with pytest.raises(AdapterError, match="laptop died"):
            run.run()
    finally:
        run.close()
    assert len(run.shop.pids) >= 2 and all(_gone(pid) for pid in run.shop.pids), run.shop.pids


def test_the_command_says_what_was_done_and_leaves_nothing_running(tmp_path: Path) -> None:
    """`vend hil --faults --compare`: identical books, the kills on the faults line, nothing on stderr (a
    double's connection reset by a killed shop is no traceback), no process of the run left."""
    out = tmp_path / "runs"
    r = subprocess.run([sys.executable, "-m", "bridge.cli", "hil", "--scenario", "vb1", "--days", "6", "--seed", "7",
                        "--policy", f"scripted:{PLUMBING}", "--faults", "--compare", "--no-charts", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "identical: 6 day(s)" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("faults"))
    assert "shop killed " in line and "shop killed 0x" not in line, line
    assert not processes_naming(out)


