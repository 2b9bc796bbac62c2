"""The context budget on a 2,000-message scripted run: every prompt stays under 30,000 tokens (as the
fake Messages API counts them), trimming never splits a tool call from its result, the run ends at
the message cap, and prompt caching serves most input tokens. The requests go straight to the
fake's request handler (its checks and cache accounting, without HTTP and the SDK, which the other
tests cover) so 2,000 of them take seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.sim import build_sim
from bridge.llm.settings import LlmSettings
from bridge.ports import LlmReply, LlmRequest, LlmUsage
from bridge.settings import SimSettings
from sim_backend.scoring import books_disagree
from tests.fakes.anthropic_api import FakeAnthropic, Reply, reply, tool_use

HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
READS = [("check_machine", {}), ("check_storage", {}), ("sales_report", {"days": 3}), ("list_products", {}),
         ("list_suppliers", {}), ("check_balance", {}), ("list_orders", {"status": "all"}), ("read_scratchpad", {})]


class InProcessFake:
    """The LLM port over `FakeAnthropic.handle`: the same request checks and usage as over HTTP."""

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        self.prompts: list[int] = []

    def complete(self, request: LlmRequest) -> LlmReply:
        body = {"model": request.model, "max_tokens": request.max_tokens, "system": request.system,
                "messages": request.messages, "tools": request.tools}
        record, payload = self.fake.handle("/v1/messages", HEADERS, json.dumps(body).encode())
        assert not record.violations, record.violations
        assert payload is not None
        u = payload["usage"]
        usage = LlmUsage(input_tokens=u["input_tokens"], output_tokens=u["output_tokens"],
                         cache_creation_input_tokens=u["cache_creation_input_tokens"],
                         cache_read_input_tokens=u["cache_read_input_tokens"])
        self.prompts.append(usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens)
        return LlmReply(content=payload["content"], stop_reason=payload["stop_reason"], usage=usage,
                        model=payload["model"])


class BusyKeeper:
    """Reads a lot every day (big tool results fill the context), notes something, then waits."""

    def __init__(self) -> None:
        self.turn = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.turn += 1
        last = body["messages"][-1]
        if any(b.get("type") == "text" and b["text"].startswith("It is ") for b in last["content"]):
            self.in_session = 0
        self.in_session += 1
        if self.in_session == 24:
            return reply("Done for today.", tool_use("wait_for_next_day", {}))
        if self.in_session == 23:
            return reply(tool_use("add_note", {"text": f"turn {self.turn}: checked everything", "tags": "daily"}))
        name, args = READS[self.in_session % len(READS)]
        return reply(f"Step {self.in_session}.", tool_use(name, args))


@pytest.mark.slow
def test_a_2000_message_run_stays_under_the_budget(tmp_path: Path) -> None:
    fake = FakeAnthropic(responder=BusyKeeper(), min_cache_tokens=1024)  # never started: no HTTP here
    port = InProcessFake(fake)
    sim = build_sim(SimSettings(days=365, seed=5, policy="llm", out_dir=tmp_path, run_name="long", charts=False,
                                llm=LlmSettings(model="claude-sonnet-4-6"), llm_client=port))
    sim.run()
    s = sim.summary()
    assert s["ended_by"] == "message_cap" and s["messages"] == 2_000 == len(port.prompts)
    assert fake.violations == []
    assert max(port.prompts) <= 30_000 and s["llm_peak_prompt_tokens"] == max(port.prompts)
    assert s["llm_peak_window_tokens"] <= 30_000 and s["llm_context_trims"] >= 10
    assert s["llm_cache_read_share"] > 0.7
    assert books_disagree(sim.world, sim.ledger) == []
    print(f"\n2,000 messages over {s['days_run']} days: peak prompt {max(port.prompts):,} tokens, "
          f"cache-read share {s['llm_cache_read_share']:.1%}, trims {s['llm_context_trims']}, "
          f"input {s['llm_input_tokens']:,} / cache writes {s['llm_cache_write_tokens']:,} / "
          f"cache reads {s['llm_cache_read_tokens']:,} / output {s['llm_output_tokens']:,}, "
          f"cost ${s['llm_cost_usd']:.2f}")
