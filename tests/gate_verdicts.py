"""A passing gate verdict for a live config, for tests that start `vend live` for real (outside shadow
mode) and are not about the gate: the gate's own tests (tests/gate/test_verdicts.py) earn theirs."""

from __future__ import annotations

from pathlib import Path

from bridge.gate.live_start import live_policy_spec
from bridge.gate.verdict import write_verdict
from bridge.live.config import LiveConfig

FIXTURE = {"passed": True, "failed_rules": [], "rules": [], "runs": []}


def pass_gate(config: Path, folder: Path | None = None) -> Path:
    """Writes the verdict next to the config (in `verdicts/`, or `folder`); returns the folder."""
    folder = folder or config.parent / "verdicts"
    write_verdict(folder, spec=live_policy_spec(LiveConfig.load(config)), result=FIXTURE,
                  gate={"config": "a test fixture, not a gate run"})
    return folder
