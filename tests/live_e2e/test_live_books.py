"""The live books follow the simulator's rules (issue 16, "one shop, two worlds"): every event on the
shop's local day of its own time, closes amended by sales that arrive late; each slot's product and
capacity as the machine reports them and as ops load them, the config's planogram only the opening
state; the site's running costs booked by the close on the accounts the sim's daily fee uses. A real
mosquitto with the project's ACL, the device emulator, the live composition in process (driven step by
step, or its ingest loop on a thread with the HTTP server for signed Slack requests), on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bridge import events as ev
from bridge.compose.live import LiveBridge, build_live
from bridge.domain import RestockLine
from bridge.ledger import Ledger
from bridge.live.config import LiveConfig
from bridge.store import Store
from hardware_adapters.doubles.slack_inbound import SlackInbound
from hardware_adapters.emulator import Slot
from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import emulator, processed, pump
from tests.live_e2e.kit import CATALOGUE, confirm_restock, task_messages, wait_for
from tests.slack.rig import OLGA, OPS_CH, OPS_GROUP, SECRET, SHOP_CH, fake_slack

TZ = "Etc/GMT-2"  # UTC+2 all year: the shop's midnight is 22:00 UTC
ZONE = ZoneInfo(TZ)
D = date(2026, 3, 1)


def local(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def open_shop(db_url: str, *, capital: int, storage: dict[str, int], loads: dict[str, tuple[str, int]]) -> None:
    """What ops book when they hand the shop to the bridge: capital, the storeroom, the machine's slots."""
    store = Store(url=db_url)
    led = Ledger(shop="main", store=store, tz=ZONE)
    at = local(D, 8, 0)
    led.record(ev.CapitalIn(id="opening:capital", ts=at, amount_cents=capital))
    for sku, units in storage.items():
        led.record(ev.DeliveryReceived(id=f"opening:{sku}", ts=at, order_id="opening", supplier="opening", sku=sku,
                                       quantity=units, unit_cost_cents=60))
    for slot, (sku, units) in loads.items():
        led.record(ev.Restocked(id=f"opening:m1:{slot}", ts=at, machine="m1", slot=slot, sku=sku, count=units))
    store.flush()
    store.close()


def config(broker: MosquittoBroker, db_url: str, **sections: Any) -> LiveConfig:
    return LiveConfig.model_validate({
        "bridge": {"db": db_url, "db_env": "LIVEBOOKS_UNSET_DB_URL", "tz": TZ, "max_delay_ms": 5},
        "mqtt": {"host": broker.host, "port": broker.port, "password_env": "TEST_VEND_MQTT_PW",
                 "command_timeout_s": 3.0, "reconnect_max_s": 1},
        "machines": [{"id": "m1", "planogram": {"A1": "cola", "A2": "chips"}, "slot_capacity": 10}],
        "scheduler": {"enabled": False}, "http": {"port": 0}, **sections})


def start(cfg: LiveConfig, broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch) -> LiveBridge:
    monkeypatch.setenv("TEST_VEND_MQTT_PW", broker.password("bridge"))
    bridge = build_live(cfg)
    assert bridge.fleet.wait_subscribed(5), "bridge did not connect and subscribe"
    return bridge


def sold(bridge: LiveBridge) -> list[tuple[str, str, int]]:
    """(slot location, sku, revenue cents) of every sale line in the store, in booking order."""
    rows = sorted(bridge.store.rows("ledger_line", credit="revenue"), key=lambda r: r["id"])
    return [(r["memo"], r["sku"], r["amount_cents"]) for r in rows]


def closes(bridge: LiveBridge) -> dict[str, tuple[int, int]]:
    return {r["day"]: (r["units_sold"], r["revenue_cents"]) for r in bridge.store.rows("day_close", shop="main")}


def sim_lines(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """(debit, credit) of the simulator's daily fee and card settlement, from a few simulated days."""
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    sim = build_sim(SimSettings(days=4, seed=1, out_dir=tmp_path / "sim", charts=False, run_name="fee"))
    sim.run()
    out = {}
    for memo in ("daily_fee", "card settlement"):
        pairs = {(r["debit"], r["credit"]) for r in sim.store.rows("ledger_line", memo=memo)}
        assert len(pairs) == 1, (memo, pairs)
        out[memo] = pairs.pop()
    sim.store.close()
    return out


# --- Time -------------------------------------------------------------------------------------------


def test_a_vend_stamped_before_midnight_that_arrives_after_its_close_is_booked_on_its_own_day(
        mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_shop(db_url, capital=10_000, storage={"cola": 20, "chips": 20}, loads={"A1": ("cola", 8), "A2": ("chips", 8)})
    cfg = config(mosquitto_broker, db_url)
    now = [local(D, 21, 0)]
    bridge = start(cfg, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, clock=lambda: now[0]).start()
    try:
        assert pump(bridge, lambda: bridge.fleet.view("m1").online)
        bridge.runtime.close_day(at=local(D, 23, 55))  # day D closes with nothing sold yet
        assert closes(bridge) == {D.isoformat(): (0, 0)}
        # the machine was offline at 23:50: its vend reaches the bridge after midnight, after D's close
        now[0] = local(D, 23, 50)
        late = dev.vend("A1", "card")
        now[0] = local(D + timedelta(days=1), 0, 5)
        after = dev.vend("A2", "cash")
        assert pump(bridge, lambda: {f"mqtt:m1:{late}", f"mqtt:m1:{after}"} <= processed(bridge, "sale"))
        led = bridge.ledger
        assert led.daily[D] == {"cola": [1, 150]}  # the day of its own time, not of its arrival
        assert led.daily[D + timedelta(days=1)] == {"chips": [1, 150]}
        # the next close books its own day, and amends the close of the day the late vend belongs to
        bridge.runtime.close_day(at=local(D + timedelta(days=1), 23, 55))
        bridge.store.flush()
        assert closes(bridge) == {D.isoformat(): (1, 150), (D + timedelta(days=1)).isoformat(): (1, 150)}
    finally:
        dev.stop()
        bridge.close()
    # after a restart the bridge still knows which days are closed: a late vend amends its day's close
    bridge = start(cfg, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, clock=lambda: now[0]).start()
    try:
        assert bridge.ledger.closed_through == D + timedelta(days=1)
        now[0] = local(D + timedelta(days=1), 23, 58)
        late = dev.vend("A1", "cash")
        assert pump(bridge, lambda: f"mqtt:m1:{late}" in processed(bridge, "sale"))
        bridge.runtime.close_day(at=local(D + timedelta(days=2), 23, 55))
        bridge.store.flush()
        assert closes(bridge) == {D.isoformat(): (1, 150), (D + timedelta(days=1)).isoformat(): (2, 300),
                                  (D + timedelta(days=2)).isoformat(): (0, 0)}
    finally:
        dev.stop()
        bridge.close()


# --- Money: the site's running costs ------------------------------------------------------------------


def test_site_costs_are_booked_by_the_close_on_the_accounts_of_the_sims_daily_fee(
        mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_shop(db_url, capital=1_000, storage={}, loads={})
    cfg = config(mosquitto_broker, db_url, site={"daily_costs_cents": {"rent": 300, "machine_lease": 200}})
    bridge = start(cfg, mosquitto_broker, monkeypatch)
    try:
        rt, led = bridge.runtime, bridge.ledger
        rt.close_day(at=local(D, 23, 55))
        rt.close_day(at=local(D, 23, 55))  # the same close again (a catch-up run twice): booked once
        rt.close_day(at=local(D + timedelta(days=1), 23, 55))
        rt.close_day(at=local(D + timedelta(days=2), 23, 55))  # the bank is empty: the fee is missed
        bridge.store.flush()
        fees = sorted(bridge.store.rows("ledger_line", credit="bank"), key=lambda r: r["id"])
        fees = [r for r in fees if r["memo"].startswith("daily_fee")]
        assert [(r["memo"], r["amount_cents"], r["ts"].astimezone(ZONE).date()) for r in fees] == [
            ("daily_fee:rent", 300, D), ("daily_fee:machine_lease", 200, D),
            ("daily_fee:rent", 300, D + timedelta(days=1)), ("daily_fee:machine_lease", 200, D + timedelta(days=1))]
        assert led.balance("bank") == 0 and led.balance("fees") == 1_000
        assert led.fee_missed_streak == 1 and len(processed(bridge, "fee_missed")) == 1
        assert [r["bank_cents"] for r in sorted(bridge.store.rows("day_close"), key=lambda r: r["day"])] == [500, 0, 0]
        # the same accounts as the simulator's daily fee
        assert {(r["debit"], r["credit"]) for r in fees} == {sim_lines(tmp_path)["daily_fee"]}
    finally:
        bridge.close()


def test_the_example_config_shows_the_site_costs() -> None:
    path = Path(__file__).resolve().parents[2] / "ops" / "live.example.toml"
    costs = LiveConfig.load(path).site.daily_costs_cents
    assert costs and all(v > 0 for v in costs.values())


def test_site_costs_are_validated_at_the_edge(tmp_path: Path) -> None:
    from bridge.errors import ConfigError

    cfg = tmp_path / "live.toml"
    for bad in ('rent = -5', 'rent = "12"', '"Rent Money!" = 5'):
        cfg.write_text(f"[site.daily_costs_cents]\n{bad}\n")
        with pytest.raises(ConfigError, match="site"):
            LiveConfig.load(cfg)


# --- Machine: the slots as the machine holds them -----------------------------------------------------


def test_a_device_report_of_another_product_and_capacity_changes_the_slot_from_its_time_on(
        mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_shop(db_url, capital=10_000, storage={"cola": 20, "chips": 20, "water": 20},
              loads={"A1": ("cola", 5), "A2": ("chips", 5)})
    cfg = config(mosquitto_broker, db_url)
    now = [local(D, 10, 0)]
    bridge = start(cfg, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, clock=lambda: now[0],
                   slots={"A1": Slot(count=5, price_cents=150), "A2": Slot(count=5, price_cents=150)}).start()
    try:
        assert pump(bridge, lambda: bridge.fleet.view("m1").online)
        dev.load("A2", sku="water", count=6, capacity=6)  # service at the machine: another product in A2
        report = dev.publish_inventory()
        assert pump(bridge, lambda: f"mqtt:m1:{report}" in processed(bridge, "inventory_snapshot"))
        view = {s.slot: (s.sku, s.capacity, s.count) for s in bridge.fleet.view("m1").slots}
        assert view == {"A1": ("cola", 10, 5), "A2": ("water", 6, 6)}
        now[0] = local(D, 10, 5)
        vend = dev.vend("A2", "cash")
        now[0] = local(D, 9, 55)  # a vend from before the change, arriving after it: what A2 held then
        early = dev.vend("A2", "cash")
        assert pump(bridge, lambda: {f"mqtt:m1:{vend}", f"mqtt:m1:{early}"} <= processed(bridge, "sale"))
        assert sold(bridge) == [("m1:A2", "water", 150), ("m1:A2", "chips", 150)]
        now[0] = local(D, 10, 10)
        refill = dev.restock("A2", 1)  # no Slack: the device's own restock is booked, as the slot's product
        assert pump(bridge, lambda: f"mqtt:m1:{refill}" in processed(bridge, "restocked"))
        assert (bridge.ledger.units_at("storage", "water"), bridge.ledger.units_at("storage", "chips")) == (19, 15)
        tools = bridge.tools
        assert tools is not None and tools.sku_at("m1", "A2") == "water"
    finally:
        dev.stop()
        bridge.close()
    bridge = start(cfg, mosquitto_broker, monkeypatch)  # a restart carries on with the slot as reported
    try:
        view = {s.slot: (s.sku, s.capacity) for s in bridge.fleet.view("m1").slots}
        assert view == {"A1": ("cola", 10), "A2": ("water", 6)}
        rows = bridge.store.rows("slot_product", shop="main")
        assert [(r["slot"], r["sku"], r["capacity"]) for r in rows] == [("A2", "water", 6)]
    finally:
        bridge.close()


def test_a_fridge_that_counts_fewer_units_than_the_books_books_the_difference_as_lost_once(
        mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`counts = "physical"` (a smart fridge counts its shelves): a report short of the books books the
    difference as StockLost at the report's time, once even when the report comes twice; a count no later
    than a restock people confirmed judges nothing (it may be from before their work), the next one does;
    a machine whose counts are only "reported" (the default) never has its count taken for a loss."""
    open_shop(db_url, capital=10_000, storage={"cola": 20, "chips": 20}, loads={"A1": ("cola", 5), "A2": ("chips", 5)})
    base = config(mosquitto_broker, db_url)
    physical = base.model_copy(update={"machines": [base.machines[0].model_copy(update={"counts": "physical"})]})
    now = [local(D, 10, 0)]
    slots = {"A1": Slot(count=5, price_cents=150), "A2": Slot(count=5, price_cents=150)}
    bridge = start(physical, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, clock=lambda: now[0], slots=slots).start()
    try:
        assert pump(bridge, lambda: bridge.fleet.view("m1").online)
        led = bridge.ledger
        dev.take("A1", 2)  # gone without a vend
        report = dev.publish_inventory()
        assert pump(bridge, lambda: f"mqtt:m1:{report}" in processed(bridge, "inventory_snapshot"))
        lost = bridge.store.rows("ledger_line", debit="losses")
        assert [(r["sku"], r["units"], r["amount_cents"]) for r in lost] == [("cola", 2, 120)]  # at cost, 60c
        assert "counted 3, the books held 5" in lost[0]["memo"]
        assert led.units_at("m1:A1", "cola") == 3 and led.units_at("m1:A2", "chips") == 5
        dev.redeliver(report)  # the same report again: booked once
        again = dev.publish_inventory()  # and a new count that agrees with the books: nothing more
        assert pump(bridge, lambda: f"mqtt:m1:{again}" in processed(bridge, "inventory_snapshot"))
        assert len(bridge.store.rows("ledger_line", debit="losses")) == 1
        # ops confirm 3 chips loaded into A2 at 11:00; the fridge's count of 11:00 does not show them yet
        now[0] = local(D, 11, 0)
        bridge.inbox.put(ev.Restocked(id="slack:t1:A2", ts=now[0], machine="m1", slot="A2", sku="chips", count=3,
                                      task_id="t1"))
        stale = dev.publish_inventory()
        assert pump(bridge, lambda: f"mqtt:m1:{stale}" in processed(bridge, "inventory_snapshot"))
        assert len(bridge.store.rows("ledger_line", debit="losses")) == 1 and led.units_at("m1:A2", "chips") == 8
        now[0] = local(D, 11, 5)  # a later count still short: those three are not there
        later = dev.publish_inventory()
        assert pump(bridge, lambda: f"mqtt:m1:{later}" in processed(bridge, "inventory_snapshot"))
        assert [(r["sku"], r["units"]) for r in bridge.store.rows("ledger_line", debit="losses")] == [
            ("cola", 2), ("chips", 3)]
    finally:
        dev.stop()
        bridge.close()
    # a machine that only reports its own vends and keyed restocks: its count is never a loss
    bridge = start(base, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, clock=lambda: now[0], slots={"A1": Slot(count=3, price_cents=150),
                                                                          "A2": Slot(count=5, price_cents=150)}).start()
    try:
        assert pump(bridge, lambda: bridge.fleet.view("m1").online)
        dev.take("A1", 3)
        now[0] = local(D, 12, 0)
        report = dev.publish_inventory()
        assert pump(bridge, lambda: f"mqtt:m1:{report}" in processed(bridge, "inventory_snapshot"))
        assert len(bridge.store.rows("ledger_line", debit="losses")) == 2
        assert bridge.ledger.units_at("m1:A1", "cola") == 3
    finally:
        dev.stop()
        bridge.close()


class _Http:
    """The in-process bridge's HTTP server, as kit.confirm_restock posts to a `vend live` process."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def slack(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}/slack/events", content=body,
                          headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}, timeout=10)


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("LIVEBOOKS_SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("LIVEBOOKS_SLACK_SIGNING", SECRET)
    with fake_slack() as fake:
        yield fake


def test_a_restock_confirmation_of_another_product_books_that_product_from_then_on(
        mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        slack_env: Any) -> None:
    fake = slack_env
    open_shop(db_url, capital=10_000, storage={"cola": 20, "water": 20}, loads={"A1": ("cola", 6)})
    products = tmp_path / "products.csv"  # the shop's catalogue: ops are asked only for products in it
    products.write_text(CATALOGUE)
    cfg = config(mosquitto_broker, db_url, slack={
        "ops_channel": OPS_CH, "shop_channel": SHOP_CH, "ops_usergroup": OPS_GROUP, "base_url": fake.api_url,
        "bot_token_env": "LIVEBOOKS_SLACK_BOT", "signing_secret_env": "LIVEBOOKS_SLACK_SIGNING",
        "daily_report": False}, policy={"catalogue": str(products)})
    bridge = start(cfg, mosquitto_broker, monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, slots={"A1": Slot(count=6, price_cents=150)}).start()
    stop = threading.Event()
    ingest = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    try:
        bridge._start_http()
        ingest.start()
        dev.publish_inventory()
        wait_for("the machine's snapshot", lambda: bridge.fleet.view("m1").online and bridge.fleet.view("m1").slots)
        first = dev.vend("A1", "card")
        wait_for("a cola sold", lambda: f"mqtt:m1:{first}" in processed(bridge, "sale"))
        # the shopkeeper asks ops to put water in A1 (planned for cola); ops confirm in Slack (signed)
        bridge.slack.physical.request_restock(machine="m1", lines=[RestockLine(slot="A1", sku="water", count=4)])
        task = wait_for("the restock task", lambda: task_messages(fake))[-1]
        confirm_restock(_Http(bridge.http_port), fake, SlackInbound(signing_secret=SECRET), user=OLGA,
                        message=task, counts={"A1": 4})
        led = bridge.ledger
        wait_for("the water in A1", lambda: led.units_at("m1:A1", "water"), lambda n: n == 4)
        # the colas left in the slot went back to storage first, as the sim's restocker does
        assert (led.units_at("m1:A1", "cola"), led.units_at("storage", "cola")) == (0, 14 + 5)
        assert {s.slot: s.sku for s in bridge.fleet.view("m1").slots} == {"A1": "water"}
        nxt = dev.vend("A1", "card")
        wait_for("the next vend", lambda: f"mqtt:m1:{nxt}" in processed(bridge, "sale"))
        assert sold(bridge) == [("m1:A1", "cola", 150), ("m1:A1", "water", 150)]
        assert led.units_at("m1:A1", "water") == 3
    finally:
        stop.set()
        ingest.join(timeout=10)
        bridge._stop_http()
        dev.stop()
        bridge.close()
    bridge = start(cfg, mosquitto_broker, monkeypatch)  # the books keep what the slot holds
    try:
        assert bridge.fleet.plan.sku_at("m1", "A1") == "water"
        assert [(r["slot"], r["sku"]) for r in bridge.store.rows("slot_product", shop="main")] == [("A1", "water")]
    finally:
        bridge.close()


def test_the_slot_plan_answers_for_a_time_and_keeps_capacity_with_the_product() -> None:
    """The slot plan on its own: opening state, a change in the middle of history, capacity carried."""
    from bridge.live.slots import SlotPlan

    plan = SlotPlan(opening={"m1": {"A1": "cola"}}, capacity={"m1": 8})
    t = [datetime(2026, 3, 1, h, tzinfo=UTC) for h in range(6)]
    assert plan.change("m1", "A1", since=t[2], sku="cola") is None  # what it held already
    assert plan.change("m1", "A1", since=t[4], sku="water", capacity=12) is not None
    assert plan.change("m1", "A1", since=t[2], capacity=9) is not None  # a report from before arrives late
    assert [plan.sku_at("m1", "A1", t[i]) for i in (1, 3, 5)] == ["cola", "cola", "water"]
    assert (plan.sku_at("m1", "A1"), plan.capacity("m1", "A1"), plan.current["m1"]["A1"]) == ("water", 12, "water")
    assert plan.sku_at("m1", "B1") is None and plan.capacity("m1", "B1") == 8
    assert plan.change("m1", "B1", since=t[1], capacity=4) is not None  # an unmapped slot's capacity
    assert plan.sku_at("m1", "B1") is None and plan.capacity("m1", "B1") == 4 and "B1" not in plan.current["m1"]
