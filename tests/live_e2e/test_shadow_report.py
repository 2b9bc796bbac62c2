"""`vend shadow-report` on a store a short scripted scenario built through the live wiring (no broker, no
subprocess): the shadow shopkeeper's calls go through the real Toolbox (shadow=True) and the world's
events through the live ingest loop, which keeps the price history and the other world actions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge import events as ev
from bridge.cli import main
from bridge.compose.live import LiveBridge, build_live
from bridge.live.config import LiveConfig
from bridge.shadow_report import shadow_report
from bridge.store import Store
from tests.live_e2e.kit import opening_books

DAY1 = date(2026, 3, 2)
DAY2 = DAY1 + timedelta(days=1)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.at = at(DAY1, 9)

    def now(self) -> datetime:
        return self.at

    def spend(self, minutes: float) -> None:
        return None


def snapshot(eid: str, ts: datetime, a1: int, a2: int) -> ev.InventorySnapshot:
    return ev.InventorySnapshot(id=eid, ts=ts, machine="m1", slots=(
        ev.SlotCount(slot="A1", count=10, price_cents=a1),
        ev.SlotCount(slot="A2", count=20, price_cents=a2)))


def shadow_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, tz: str = "UTC") -> tuple[LiveBridge, str]:
    monkeypatch.setenv("SR_MQTT_PW", "unused")
    db = tmp_path / "shadow.db"
    opening_books(db, tz=tz, loads={"A1": ("cola", 10), "A2": ("chips", 20)}, storage={"cola": 50, "chips": 50})
    config = LiveConfig.model_validate({
        "bridge": {"db": f"sqlite:///{db}", "tz": tz}, "http": {"port": 0}, "scheduler": {"enabled": False},
        "mqtt": {"password_env": "SR_MQTT_PW"}, "machines": [{"id": "m1", "planogram": {"A1": "cola", "A2": "chips"}}]})
    return build_live(config, start=False, shadow=True), f"sqlite:///{db}"


@pytest.fixture
def shadow_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    live, url = shadow_shop(tmp_path, monkeypatch)
    clock = StepClock()
    assert live.toolbox is not None
    live.toolbox.clock = clock
    yield live, clock, url
    live.close()


def world(live: LiveBridge, *events: ev.Event) -> None:
    for e in events:
        live.inbox.put(e)
    live.loop.pump()


def agent(live: LiveBridge, tool: str, **args: Any) -> None:
    assert live.toolbox is not None
    result = live.toolbox.call(tool, args)
    assert result.ok and result.verdict == "shadow", (tool, result)


def scenario(live: LiveBridge, clock: StepClock) -> None:
    world(live, snapshot("snap-1", at(DAY1, 8), a1=150, a2=125))  # first prices seen: not a change
    # day 1: the agent would raise A1, restock A1 and have the cash collected
    agent(live, "set_price", slot="A1", price_cents=175)
    agent(live, "restock", slots=[{"slot": "A1", "sku": "cola", "count": 5}])
    agent(live, "collect_cash")
    # ops raise A1 too, restock A2 instead, and collect the cash
    world(live, snapshot("snap-2", at(DAY1, 12), a1=175, a2=125),
          ev.Restocked(id="dev-r1", ts=at(DAY1, 13), machine="m1", slot="A2", sku="chips", count=5),
          ev.CashCollected(id="dev-c1", ts=at(DAY1, 14), machine="m1", amount_cents=3000))
    world(live, snapshot("snap-2", at(DAY1, 12), a1=175, a2=125))  # a redelivery changes nothing
    # day 2: the agent would cut A2 to 110 and refund a customer; ops cut A2 to 99 (seen in a sale), refund
    # the same payment and buy stock (paid, then delivered: one order)
    clock.at = at(DAY2, 9)
    agent(live, "set_price", slot="A2", price_cents=110)
    agent(live, "refund", payment_ref="pi_1", amount_cents=150, reason="stuck", customer="U1")
    world(live, ev.Sale(id="sale-1", ts=at(DAY2, 10), machine="m1", slot="A2", sku="chips", units=1,
                        unit_price_cents=99, payment="card"),
          ev.RefundIssued(id="ref-1", ts=at(DAY2, 11), payment_ref="pi_1", amount_cents=150),
          ev.SupplierPaid(id="paid-o1", ts=at(DAY2, 12), order_id="o1", supplier="cc", amount_cents=3000),
          ev.DeliveryReceived(id="del-o1", ts=at(DAY2, 15), order_id="o1", supplier="cc", sku="cola", quantity=50,
                              unit_cost_cents=60))


def test_the_report_matches_shadow_calls_with_what_ops_did_per_day_and_kind(shadow_live: Any) -> None:
    live, clock, url = shadow_live
    scenario(live, clock)
    store = Store(url=url)
    try:
        prices = [(r["slot"], r["previous_cents"], r["amount_cents"]) for r in store.rows("world_action", kind="set_price")]
        assert sorted(prices) == [("A1", 150, 175), ("A2", 125, 99)]
        assert store.scalar("SELECT COUNT(*) FROM audit_log WHERE verdict = 'shadow'") == 5
        report = shadow_report(store)
    finally:
        store.engine.dispose()
    assert [d["day"] for d in report["days"]] == [DAY1.isoformat(), DAY2.isoformat()]
    d1, d2 = (d["kinds"] for d in report["days"])
    assert d1["set_price"]["agreed"][0]["same"] is True and not d1["set_price"]["agent_only"]
    assert d1["restock"]["agent_only"] == [{"machine": "m1", "slot": "A1", "sku": "cola", "count": 5}]
    assert d1["restock"]["ops_only"] == [{"machine": "m1", "slot": "A2", "sku": "chips", "count": 5}]
    assert d1["collect_cash"]["agreed"][0]["ops"] == {"machine": "m1", "amount_cents": 3000}
    assert d2["set_price"]["agreed"][0]["same"] is False  # both cut A2, to different prices
    assert d2["set_price"]["agreed"][0]["ops"]["price_cents"] == 99
    assert len(d2["refund"]["agreed"]) == 1
    assert d2["place_order"] == {"agreed": [], "agent_only": [],
                                 "ops_only": [{"order_id": "o1", "amount_cents": 3000}]}
    assert report["totals"]["restock"] == {"agreed": 0, "agent_only": 1, "ops_only": 1}
    assert report["totals"]["set_price"] == {"agreed": 2, "agent_only": 0, "ops_only": 0}


def test_the_command_prints_json_or_a_table_and_since_cuts_days(shadow_live: Any,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    live, clock, url = shadow_live
    scenario(live, clock)
    live.store.flush()
    assert main(["shadow-report", "--db", url, "--since", DAY2.isoformat(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["day"] for d in report["days"]] == [DAY2.isoformat()] and "restock" not in report["totals"]
    assert main(["shadow-report", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "agent only: machine=m1, slot=A1, sku=cola, count=5" in out
    assert "ops only:   machine=m1, slot=A2, sku=chips, count=5" in out


def test_a_missing_store_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shadow-report", "--db", f"sqlite:///{tmp_path / 'nope.db'}"]) == 2
    assert capsys.readouterr().err.strip().startswith("vend: error: no store at")


def test_a_shadow_llm_keeps_its_own_memory_while_its_world_writes_are_only_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SR_MQTT_PW", "unused")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-never-called")
    db = tmp_path / "shadow.db"
    opening_books(db, tz="UTC", loads={"A1": ("cola", 10)}, storage={"cola": 50})
    config = LiveConfig.model_validate({
        "bridge": {"db": f"sqlite:///{db}"}, "scheduler": {"enabled": False}, "policy": {"name": "llm"},
        "llm": {"base_url": "http://127.0.0.1:9"}, "mqtt": {"password_env": "SR_MQTT_PW"},
        "machines": [{"id": "m1", "planogram": {"A1": "cola"}}]})
    live = build_live(config, start=False, shadow=True)
    try:
        assert live.toolbox is not None
        remembered = live.toolbox.call("set_memory", {"key": "plan", "value": "raise cola on Friday"})
        assert remembered.ok and remembered.verdict == "allowed"
        price = live.toolbox.call("set_price", {"slot": "A1", "price_cents": 175})
        assert price.ok and price.verdict == "shadow"
        assert live.toolbox.call("get_memory", {"key": "plan"}).value["value"] == "raise cola on Friday"
    finally:
        live.close()


def test_the_report_cuts_days_in_the_shops_zone_and_lists_every_write_beside_what_ops_did(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shop in Los Angeles (UTC-8): an evening there is the next morning in UTC. Every shadow WRITE is
    listed with what the twin answered (a refused one apart), beside ops' restocks, price changes, cash
    collections, and the purchase and deliveries they recorded without a task."""
    live, url = shadow_shop(tmp_path, monkeypatch, tz="America/Los_Angeles")
    clock = StepClock()
    assert live.toolbox is not None
    live.toolbox.clock = clock
    evening = datetime(2026, 3, 3, 5, tzinfo=UTC)  # 21:00 on 2 March in Los Angeles
    try:
        world(live, snapshot("snap-1", evening - timedelta(hours=1), a1=150, a2=125))
        clock.at = evening
        agent(live, "set_price", slot="A1", price_cents=175)
        agent(live, "restock", slots=[{"slot": "A2", "sku": "chips", "count": 4}])
        refused = live.toolbox.call("set_price", {"slot": "A1", "price_cents": 5000})  # above the ceiling
        assert refused.verdict == "refused:price_ceiling"
        quote = live.toolbox.call("request_quote", {"supplier": "cc", "items": {"cola": 10}})
        assert quote.verdict == "shadow" and not quote.ok  # no supplier directory here: the twin says so too
        world(live, snapshot("snap-2", evening + timedelta(hours=2), a1=160, a2=125),  # 23:00 local: still 2 March
              ev.Restocked(id="dev-r1", ts=evening + timedelta(hours=2), machine="m1", slot="A2", sku="chips", count=4),
              ev.CashCollected(id="dev-c1", ts=evening + timedelta(hours=4), machine="m1", amount_cents=1200),
              # ops' record of a cash-and-carry run (the Slack shortcut's events), after midnight local
              ev.SupplierPaid(id="slack:ops_purchase-00001:paid", ts=evening + timedelta(hours=4), supplier="cc",
                              order_id="ops_purchase-00001", amount_cents=1320),
              ev.DeliveryReceived(id="slack:ops_purchase-00001:cola", ts=evening + timedelta(hours=4), supplier="cc",
                                  order_id="ops_purchase-00001", sku="cola", quantity=24, unit_cost_cents=55))
        live.store.flush()
        store = Store(url=url)
        try:
            report = shadow_report(store)
        finally:
            store.engine.dispose()
    finally:
        live.close()
    assert report["tz"] == "America/Los_Angeles"
    assert [d["day"] for d in report["days"]] == ["2026-03-02", "2026-03-03"]
    d1, d2 = report["days"]
    assert d1["kinds"]["set_price"]["agreed"][0]["ops"]["price_cents"] == 160
    assert d1["kinds"]["restock"]["agreed"][0]["same"] is True
    assert d1["kinds"]["request_quote"]["agent_only"][0]["error"]  # listed, with why it would have failed
    assert d1["refused"] == [{"tool": "set_price", "verdict": "refused:price_ceiling",
                              "args": {"slot": "A1", "price_cents": 5000}}]
    assert d2["kinds"]["collect_cash"]["ops_only"] == [{"machine": "m1", "amount_cents": 1200}]
    assert d2["kinds"]["place_order"]["ops_only"] == [{"order_id": "ops_purchase-00001", "amount_cents": 1320}]
    assert d2["kinds"]["delivery"]["ops_only"] == [{"order_id": "ops_purchase-00001", "sku": "cola", "count": 24,
                                                    "unit_cost_cents": 55}]
    assert report["refused"] == 1


def test_an_unknown_zone_is_a_one_line_error(shadow_live: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _live, _clock, url = shadow_live
    assert main(["shadow-report", "--db", url, "--tz", "Mars/Olympus"]) == 2
    assert capsys.readouterr().err.strip().startswith("vend: error: unknown time zone")
