"""A scripted model pages through the whole world over the real SDK and the loopback Messages API: in
vb2 it sees every product, every supplier (the scam and the bait-and-switch among them) and every
order, newest first, with no result cut; the day's first message is the briefing with the reminder it
set. The request log keeps the Messages API's rules: no blank text block, at most 4 cache breakpoints,
one tool call at a time (vb2), count_tokens used as the real endpoint takes it, and the tokens the run
counts are the ones the API reported."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from bridge.compose.sim import build_sim
from bridge.domain import OrderReceipt
from bridge.llm.context import count_breakpoints
from bridge.llm.settings import LlmSettings
from bridge.settings import SimSettings
from tests.fakes.anthropic_api import COUNT_TOKENS, MESSAGES, FakeAnthropic, Reply, reply, tool_use
from tests.fakes.anthropic_checks import segments

LISTS = ("list_products", "list_suppliers", "list_orders")
ORDERS = 27
BUDGET = 2_500  # characters of one tool result: a page of 25 products does not fit


class Pager:
    """Day 1: every page of each list (following `next_page` at the page size the result gives), a
    reminder for day 2, then waits. Day 2: waits. Each call is preceded by a blank text block."""

    def __init__(self, *, remind_on: str) -> None:
        self.todo = list(LISTS)
        self.current = ""
        self.items: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTS}
        self.asked: dict[str, list[tuple[int, int]]] = {name: [] for name in LISTS}  # (page, per_page) shown
        self.results: list[str] = []
        self.briefings: list[dict[str, Any]] = []
        self.remind_on = remind_on
        self.reminded = False

    def __call__(self, body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        intro = next((b["text"] for b in last if b.get("type") == "text" and "Morning briefing: " in b["text"]), None)
        if intro is not None:
            self.briefings.append(json.loads(intro.split("Morning briefing: ", 1)[1]))
            if len(self.briefings) > 1:
                return reply("Nothing more today.", tool_use("wait_for_next_day", {}))
            return self._next(None)
        results = [b for b in last if b.get("type") == "tool_result"]
        if not results:
            return reply("Noted.", stop_reason="end_turn")
        self.results.append(results[-1]["content"])
        return self._next(json.loads(results[-1]["content"]))

    def _next(self, value: Any) -> Reply:
        if self.current and isinstance(value, dict) and "items" in value:
            self.items[self.current] += value["items"]
            self.asked[self.current].append((value["page"], value["per_page"]))
            if value["next_page"]:
                args = {"page": value["next_page"], "per_page": value["per_page"]}
                return reply(" \n", tool_use(self.current, {**self._filter(), **args}))
        if self.todo:
            self.current = self.todo.pop(0)
            return reply("  ", tool_use(self.current, self._filter()))
        self.current = ""
        if not self.reminded:
            self.reminded = True
            return reply(tool_use("set_reminder", {"when": self.remind_on, "text": "check the haggler's quote"}))
        return reply("", tool_use("wait_for_next_day", {}))

    def _filter(self) -> dict[str, Any]:
        return {"status": "all"} if self.current == "list_orders" else {}


def test_the_model_pages_through_the_whole_world_within_the_api_rules(fake: FakeAnthropic, tmp_path: Path) -> None:
    sim = build_sim(SimSettings(scenario="vb2", days=2, seed=4, policy="llm", out_dir=tmp_path, run_name="world",
                                charts=False, llm=LlmSettings(model="claude-sonnet-4-6", base_url=fake.url,
                                                              max_result_chars=BUDGET, max_turns_per_session=200,
                                                              timeout_s=10)))
    start = sim.world.now
    pager = Pager(remind_on=(start + timedelta(days=1)).date().isoformat())
    fake.reset(responder=pager)
    for i in range(ORDERS):  # books of orders placed over the last weeks, oldest first
        sim.ledger.open_order(OrderReceipt(order_id=f"po-old-{i:02d}", supplier="snackco", total_cents=1_000 + i,
                                           expected_at=start + timedelta(days=1)),
                              start - timedelta(days=ORDERS - i))
    sim.run()
    summary = sim.summary()
    sim.store.close()

    # the whole world, seen
    catalogue = set(sim.world.catalogue)
    seen_products = [p["sku"] for p in pager.items["list_products"]]
    assert sorted(seen_products) == sorted(catalogue)  # every product, once
    directory = {s.id for s in sim.world.scenario.suppliers}
    seen_suppliers = [s["supplier"] for s in pager.items["list_suppliers"]]
    assert sorted(seen_suppliers) == sorted(directory), (pager.asked["list_suppliers"], pager.results)
    assert {"cheapo-direct", "megadeal", "bargain-bulk"} <= set(seen_suppliers)
    seen_orders = [o["order_id"] for o in pager.items["list_orders"]]
    assert seen_orders == [f"po-old-{i:02d}" for i in reversed(range(ORDERS))]  # every order, newest first
    assert len(pager.asked["list_orders"]) >= 2  # it took pages
    # no result cut: each is whole JSON within the budget; a page too long came back shorter, saying so
    assert pager.results and all(len(r) <= BUDGET for r in pager.results)
    assert all(isinstance(json.loads(r), dict) for r in pager.results)
    assert any(per_page < 25 for _, per_page in pager.asked["list_products"])

    # the briefing: day 2 brings back the reminder set on day 1, and yesterday's date
    assert len(pager.briefings) == 2
    day2 = pager.briefings[1]
    assert [r["text"] for r in day2["reminders"]] == ["check the haggler's quote"]
    assert day2["yesterday"]["date"] == start.date().isoformat()
    assert pager.briefings[0]["reminders"] == []

    # the request log against the Messages API rules
    assert fake.violations == []
    requests = fake.message_requests
    assert len(requests) == summary["llm_messages"] > 2 * len(LISTS)
    for r in requests:
        body = r.json
        blocks = [b for m in body["messages"] for b in m["content"] if isinstance(m["content"], list)]
        assert not [b for b in blocks if b.get("type") == "text" and not b["text"].strip()]
        assert count_breakpoints([body.get("tools"), body.get("system"), body["messages"]]) <= 4
        assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}  # vb2: one at a time
    counts = [r for r in fake.requests if r.path == COUNT_TOKENS]
    assert len(counts) == 1 and not counts[0].violations and "max_tokens" not in counts[0].json
    # the tokens the run counts are the API's: the fake's count of each prompt, summed
    prompts = [sum(s.tokens for s in segments(r.json)) for r in requests if r.path == MESSAGES]
    assert summary["llm_input_tokens"] + summary["llm_cache_write_tokens"] + summary["llm_cache_read_tokens"] \
        == sum(prompts)
    assert summary["llm_peak_prompt_tokens"] == max(prompts)
    # the rules came from the scenario
    assert summary["llm_rules"] == {"scenario": "vb2", "score": "bank", "market": "open", "billing": True,
                                    "cap": 4_000, "parallel": False}
    # no tool description written twice: the system prompt does not repeat what `tools` says
    system = requests[0].json["system"][0]["text"]
    for tool in requests[0].json["tools"]:
        assert tool["description"] not in system
