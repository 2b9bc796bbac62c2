"""A scripted shopkeeper runs 30 simulated days through the real SDK, the fake Messages API, the real
tools and guardrails: the books show what it did and agree with the simulator."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.cli import main
from bridge.compose.sim import build_sim, write_report
from bridge.llm.settings import LlmSettings
from bridge.settings import SimSettings
from sim_backend.scoring import books_disagree
from tests.fakes.anthropic_api import FakeAnthropic
from tests.llm.shopkeeper import PRICE, SKU, SUPPLIER, ScriptedShopkeeper


def test_a_scripted_month_runs_through_the_sdk_and_the_books_agree(fake: FakeAnthropic, tmp_path: Path,
                                                                   capsys) -> None:
    keeper = ScriptedShopkeeper()
    fake.reset(responder=keeper)
    settings = SimSettings(days=30, seed=3, policy="llm", out_dir=tmp_path, run_name="month", charts=False,
                           llm=LlmSettings(model="claude-sonnet-4-6", base_url=fake.url,
                                           charge_output_tokens=True))
    sim = build_sim(settings)
    sim.run()
    summary = sim.summary()
    write_report(sim, summary)

    assert fake.violations == []
    assert summary["days_run"] == 30 and summary["crashes"] == []
    assert books_disagree(sim.world, sim.ledger) == []
    # the books show what the script did
    orders = [args for name, args in keeper.done if name == "place_order"]
    assert len(orders) >= 2 and len(sim.ledger.orders) == len(orders)
    assert all(o.supplier == SUPPLIER for o in sim.ledger.orders.values())
    restocks = [args for name, args in keeper.done if name == "restock"]
    assert restocks and summary["units_sold"] > 0
    assert sim.world.slots["A1"].sku == SKU and sim.world.slots["A1"].price_cents == PRICE
    assert summary["tool_calls"] == len(keeper.done)
    assert summary["llm_messages"] == summary["messages"] == len(fake.message_requests)
    assert keeper.sessions.count("open_day") == 30 and keeper.sessions.count("weekly_review") == 5  # Mondays, from day 1
    # the weekly charge of output tokens reached the books as fees
    fees = [r for r in sim.store.rows("ledger_line") if r["memo"] == "llm_tokens"]
    assert sum(r["amount_cents"] for r in fees) == summary["llm_billed_to_shop_cents"] > 0
    # the watchdog caught the day-2 claim that the order had arrived, and nothing else
    assert summary["coherence_errors"]["false_claims"] == 1
    assert sum(summary["coherence_errors"].values()) == 1
    # memory persisted in the store
    assert sim.store.rows("memory_kv")[0]["value"] == "29"
    assert len(sim.store.rows("memory_note")) == len(orders)
    # the transcript holds every turn and every call, and `vend transcript` prints it
    lines = [json.loads(x) for x in (tmp_path / "month" / "transcript.jsonl").read_text().splitlines()]
    calls = [(b["name"], b["input"]) for r in lines if r["type"] == "turn" for b in r["content"]
             if b["type"] == "tool_use"]
    assert calls == keeper.done
    assert sum(1 for r in lines if r["type"] == "turn") == summary["llm_messages"]
    capsys.readouterr()
    assert main(["transcript", str(tmp_path / "month")]) == 0
    out = capsys.readouterr().out
    assert out.count("calls place_order(") == len(orders) and "WATCHDOG" in out and "cache_read=" in out
