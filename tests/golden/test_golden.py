"""The golden runs: vb1, vb2 and project_vend with the baseline and the oracle for 60 days give the
committed summaries, state hashes and store contents (see tests/golden/golden.py for how to regenerate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.golden import ARENA, GOLDEN, RUNS, arena, one


@pytest.mark.parametrize(("scenario", "policy"), RUNS)
def test_golden_run_is_unchanged(scenario: str, policy: str, tmp_path: Path) -> None:
    want = json.loads(GOLDEN.read_text())[f"{scenario}/{policy}"]
    got = one(scenario, policy, tmp_path)
    assert got["summary"]["days_run"] > 0
    assert got["summary"] == want["summary"]
    assert got["tables"] == want["tables"]


def test_golden_arena_is_unchanged(tmp_path: Path) -> None:
    want = json.loads(GOLDEN.read_text())["arena/" + ",".join(ARENA)]
    got = arena(tmp_path)
    assert got["summary"]["days_run"] > 0
    assert got == want
