"""The morning briefing says what happened since the last one (alarms, machines offline, stock lost,
fees missed and the days left before bankruptcy) and brings back reminders on their day, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bridge import events as ev
from bridge.compose.sim import build_sim
from bridge.settings import SimSettings
from bridge.tools.briefing import BriefingTools


def _sim(tmp_path: Path) -> Any:
    return build_sim(SimSettings(scenario="vb2", days=3, seed=2, policy="baseline", out_dir=tmp_path, run_name="b",
                                 charts=False))


def test_the_briefing_reports_alarms_losses_and_the_bankruptcy_countdown(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    now, shop = sim.world.now, sim.world.shop
    happened = [
        ev.Alarm(id="a1", ts=now, shop=shop, source="weather", code="storm_warning", detail="storms"),
        ev.Alarm(id="a2", ts=now, shop=shop, source="m1", code="temperature", detail="9C"),
        ev.MachineStatus(id="s1", ts=now, shop=shop, machine="m1", online=False),
        ev.StockLost(id="l1", ts=now, shop=shop, sku="coke-12oz", quantity=4, location="m1:A1", reason="spoiled"),
        ev.FeeMissed(id="f1", ts=now, shop=shop, amount_cents=200, reason="daily_fee", consecutive_days=3),
    ]
    for e in happened:
        sim.ledger.record(e)
        sim.tools.observe(e)
    b = sim.toolbox.call("morning_briefing").value
    assert [a["code"] for a in b["alarms"]] == ["storm_warning", "temperature"]
    assert b["machines_offline"] == ["m1"]
    assert b["stock_lost"] == [{"sku": "coke-12oz", "quantity": 4, "location": "m1:A1", "reason": "spoiled"}]
    assert b["fees_missed_in_a_row"] == 3 and b["days_left_before_bankruptcy"] == 10 - 3
    again = sim.toolbox.call("morning_briefing").value
    assert again["alarms"] == [] and again["stock_lost"] == [] and again["machines_offline"] == ["m1"]
    sim.store.close()


def test_a_reminder_comes_back_on_its_day_once(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    today = sim.world.now.date()
    call = sim.toolbox.call
    assert call("set_reminder", {"when": (today + timedelta(days=1)).isoformat(), "text": "pay the haggler"}).ok
    assert call("set_reminder", {"when": today.isoformat(), "text": "count the cash"}).ok
    assert not call("set_reminder", {"when": "next tuesday", "text": "x"}).ok
    assert [r["text"] for r in call("morning_briefing").value["reminders"]] == ["count the cash"]
    assert call("morning_briefing").value["reminders"] == []
    assert call("list_reminders").value["total"] == 1
    sim.world.advance_to(sim.world.now + timedelta(days=1))
    assert [r["text"] for r in call("morning_briefing").value["reminders"]] == ["pay the haggler"]
    assert call("list_reminders", {"include_delivered": True}).value["total"] == 2
    sim.store.close()


def test_a_reminder_for_a_date_waits_for_that_days_briefing_not_a_session_at_night(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    call = sim.toolbox.call
    briefing = next(g for g in sim.toolbox_groups if isinstance(g, BriefingTools))
    start = sim.world.now
    tomorrow = (start + timedelta(days=1)).date()
    assert call("set_reminder", {"when": tomorrow.isoformat(), "text": "pay the haggler"}).ok
    assert call("set_reminder", {"when": f"{tomorrow.isoformat()}T00:30", "text": "call the bank"}).ok
    sim.world.advance_to(start.replace(hour=0, minute=0) + timedelta(days=1, hours=1))  # a message at 1 am
    assert [r["text"] for r in briefing.due()] == ["call the bank"]  # a time: the first session after it
    assert [r["text"] for r in call("morning_briefing").value["reminders"]] == ["pay the haggler"]
    sim.store.close()
