"""An LLM run whose API keeps failing stops: `vend sim` exits non-zero with one line on stderr, and
the summary says the run stopped (ended_by "api_errors"), not that it ran normally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.anthropic_script import reply


def test_an_llm_run_stops_when_the_api_keeps_failing(fake: FakeAnthropic, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake.reset(script=[reply("Nothing to do today.")])  # then the script is used up: every request fails
    rc = main(["sim", "--policy", "llm", "--days", "20", "--llm-base-url", fake.url, "--out", str(tmp_path),
               "--name", "r", "--no-charts"])
    out, err = capsys.readouterr()
    assert rc == 1
    errors = [line for line in err.splitlines() if line.startswith("vend: error")]
    assert len(errors) == 1 and "Traceback" not in err  # (besides any progress lines)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["ended_by"] == "api_errors" and summary["days_run"] < 20
    assert summary["llm_api_errors"] == 3 and summary["stop_reason"]
    assert "normal" not in out.splitlines()[0]
