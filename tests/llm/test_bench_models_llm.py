"""`vend bench models` with two models on the loopback Messages fake: a scripted model that plays the
same for both gets the same score on each seed (common random numbers: no difference seen), and the
watchdog dates each run's first incoherence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakes.anthropic_api import FakeAnthropic, Reply, reply, tool_use
from tests.llm.shopkeeper import _intro, _last_user

ROOT = Path(__file__).parents[2]


class Idler:
    """Checks the machine each morning and waits; on the second morning it dithers twice first
    (two idle turns: an incoherence the watchdog dates)."""

    def __init__(self) -> None:
        self.mornings: dict[str, int] = {}

    def __call__(self, body: dict[str, Any]) -> Reply:
        last = _last_user(body)
        intro = _intro(last)
        model = body["model"]
        if intro and "A new day" in intro:
            self.mornings[model] = self.mornings.get(model, 0) + 1
            return reply(tool_use("check_machine", {}))
        if intro:
            return reply("Nothing to do.", stop_reason="end_turn")
        texts = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "text"]
        if self.mornings.get(model) == 2 and not texts and len(body["messages"]) % 2 == 1:
            return reply("Let me think.", stop_reason="end_turn")
        return reply("Waiting.", tool_use("wait_for_next_day", {}))


def test_two_models_on_the_same_seeds(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.reset(responder=Idler())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANTHROPIC_API_KEY": "sk-test-not-a-real-key"}
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "bench", "models", "--models",
                          "claude-sonnet-4-6,claude-haiku-4-5", "--seeds", "2", "--scenario", "vb1", "--days", "3",
                          "--workers", "1", "--llm-base-url", fake.url, "--json"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    a, b = r["players"]
    assert a["scores_cents"] == b["scores_cents"]  # the same play on the same seeds: the same scores
    assert r["paired"]["mean_diff_cents"] == 0 and r["paired"]["seeds_needed"] is None
    assert {m for m in (req.json["model"] for req in fake.message_requests)} == {"claude-sonnet-4-6",
                                                                                 "claude-haiku-4-5"}
    assert len(a["first_incoherence_days"]) == 2
