"""One contract for the Machine port, run over the simulator's SimMachine and the live MqttMachine (a real
mosquitto with the project's config and ACL, the device emulator speaking the MQTT device contract, the
bridge's MqttFleet): what a policy can observe is the same, so it cannot tell the two apart.

Both machines open with the same twelve slots (rows A-B small, C-D large, 8 units each). Each harness
gives the port plus what the outside world does: customers shop (sim: a simulated day's demand; live:
a purchase tried at every slot of the emulator), and what the device itself holds (sim: the world's
slots; live: the emulator's inventory) so a command can be checked where it lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bridge import events as ev
from bridge.domain import MachineView, RestockLine
from bridge.errors import ToolError
from bridge.ledger import Ledger
from bridge.live.ingest import IngestLoop, MachineBook
from bridge.ports import Machine
from bridge.store import Store
from hardware_adapters.emulator import DeviceEmulator
from hardware_adapters.emulator.machine import MachineError, default_slots
from hardware_adapters.mqtt_link import MqttLink
from hardware_adapters.mqtt_machine import MqttFleet
from sim_backend.backend import SimMachine
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.broker import MosquittoBroker

PLANOGRAM = {"A1": "coke-12oz", "A2": "diet-coke-12oz", "A3": "coke-zero-12oz", "B1": "pepsi-12oz",
             "B2": "sprite-12oz", "B3": "lays-classic-1oz", "C1": "coke-20oz", "C2": "diet-coke-20oz",
             "C3": "mtn-dew-20oz", "D1": "dasani-20oz", "D2": "aquafina-16.9oz", "D3": "snapple-peach-16oz"}
OPENING = {name: (s.count, s.price_cents) for name, s in default_slots().items()}  # the emulator's own


class Harness(Protocol):
    machine: Machine

    def customers_shop(self) -> list[ev.Sale]:
        """Customers try to buy; returns the Sale events that reached the bridge."""
        ...

    def device_prices(self) -> dict[str, int]:
        """Each slot's price as the machine itself holds it."""
        ...

    def device_locked(self) -> bool: ...

    def load(self, slot: str, sku: str, count: int) -> None:
        """A restock loads `count` units of another product into `slot`, and it is confirmed as done."""
        ...

    def device_display(self) -> str: ...

    def lose(self, slot: str, units: int) -> list[ev.StockLost]:
        """`units` go from `slot` without a sale (shrinkage); returns the StockLost events the books learn."""
        ...


class SimHarness:
    def __init__(self) -> None:
        self.world = SimWorld(scenario=load_scenario("vb1", days=30), catalogue=load_catalogue(None), seed=5)
        for name, s in self.world.slots.items():
            s.sku, (s.count, s.price_cents) = PLANOGRAM[name], OPENING[name]
        self.sim = SimMachine(self.world)
        self.machine: Machine = self.sim

    def customers_shop(self) -> list[ev.Sale]:
        self.world.advance_to(self.world.now + timedelta(days=1))
        return [e for e in self.world.drain() if isinstance(e, ev.Sale)]

    def device_prices(self) -> dict[str, int]:
        return {name: s.price_cents for name, s in self.world.slots.items()}

    def device_locked(self) -> bool:
        return self.sim.locked

    def load(self, slot: str, sku: str, count: int) -> None:
        self.world.storage[sku] = count
        self.world.restock("task-load", (RestockLine(slot=slot, sku=sku, count=count),))
        self.world.drain()

    def device_display(self) -> str:
        return self.sim.display_text

    def lose(self, slot: str, units: int) -> list[ev.StockLost]:
        self.world.drain()
        self.world.lose_from_slot(self.world.slots[slot], units, "shrinkage")
        return [e for e in self.world.drain() if isinstance(e, ev.StockLost)]


class MqttHarness:
    def __init__(self, broker: MosquittoBroker, tmp_path: Path) -> None:
        self.link = MqttLink(host=broker.host, port=broker.port, username="bridge", password=broker.password("bridge"),
                             client_id="contract-bridge", reconnect_delay_s=(1, 1))
        self.fleet = MqttFleet(link=self.link, machines={"m1": PLANOGRAM}, command_timeout_s=3.0, slot_capacity=15)
        self.fleet.start()
        # the live books' view of the slots (bridge/live/ingest.py MachineBook): devices' reports change what a
        # slot holds in the plan the fleet's view reads, as the ingest loop does in `vend live`
        self.book = MachineBook(shop="main", store=Store(url=f"sqlite:///{tmp_path / 'contract.db'}"),
                                plan=self.fleet.plan)
        assert self.fleet.wait_subscribed(5), "the bridge did not connect and subscribe"
        self.dev = DeviceEmulator(machine_id="m1", host=broker.host, port=broker.port, password=broker.password("m1"),
                                  outbox_path=tmp_path / "m1-outbox.db", seed=3, inventory_interval_s=None,
                                  dex_interval_s=None).start()
        self.machine: Machine = self.fleet.machines["m1"]
        self.events: list[ev.Event] = []
        self.until(lambda: self.machine.view().online)
        self.dev.publish_inventory()
        self.until(lambda: len(self.machine.view().slots) == len(OPENING))

    def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Work through what the broker delivers until `condition()` holds (or fail at the deadline)."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the condition did not hold before the deadline"
            batch = self.fleet.next_batch(max_wait_s=0.05, max_items=1000)
            for e in batch:
                self.book.observe(e)
            self.events += batch
            self.fleet.acknowledge()

    def customers_shop(self) -> list[ev.Sale]:
        vends = []
        for slot in OPENING:
            try:
                vends.append(f"mqtt:m1:{self.dev.vend(slot, 'card')}")
            except MachineError:
                continue  # the machine refused the purchase
        assert self.dev.wait_drained(timeout=5)
        self.until(lambda: set(vends) <= {e.id for e in self.events})
        self.events += self.fleet.drain()
        sales, self.events = [e for e in self.events if isinstance(e, ev.Sale)], []
        return sales

    def device_prices(self) -> dict[str, int]:
        return {name: s["price_cents"] for name, s in self.dev.inventory().items()}

    def device_locked(self) -> bool:
        return self.dev.locked

    def load(self, slot: str, sku: str, count: int) -> None:
        """Service at the machine: the slot is loaded with `sku` (what was in it goes back to storage) and the
        device's next inventory report names the product (the planogram is only the opening state)."""
        self.dev.load(slot, sku=sku, count=count)
        self.dev.publish_inventory()
        self.until(lambda: self.machine.view().slot(slot).sku == sku and self.machine.view().slot(slot).count == count)

    def device_display(self) -> str:
        return self.dev.display

    def lose(self, slot: str, units: int) -> list[ev.StockLost]:
        """A fridge that counts its shelves (`counts = "physical"`): the units go from the emulator, its next
        report counts them, and the live ingest books what the count is short of the books."""
        store = self.book.store
        ledger = Ledger(shop="main", store=store)
        at = datetime.now(UTC) - timedelta(hours=1)
        for name, (count, _) in OPENING.items():  # the books hold what the machine opened with
            ledger.record(ev.DeliveryReceived(id=f"open:{name}", ts=at, order_id="open", supplier="open",
                                              sku=PLANOGRAM[name], quantity=count, unit_cost_cents=50))
            ledger.record(ev.Restocked(id=f"open:m1:{name}", ts=at, machine="m1", slot=name, sku=PLANOGRAM[name],
                                       count=count))
        lost: list[ev.Event] = []
        loop = IngestLoop(source=self.fleet, ledger=ledger, store=store, book=self.book, counted=frozenset({"m1"}),
                          on_event=lost.append)
        self.dev.take(slot, units)
        report = f"mqtt:m1:{self.dev.publish_inventory()}"
        deadline = time.monotonic() + 5.0
        while report not in {e.id for e in lost}:
            assert time.monotonic() < deadline, "the report did not reach the books before the deadline"
            loop.step()
        loop.commit()
        return [e for e in lost if isinstance(e, ev.StockLost)]

    def close(self) -> None:
        self.dev.stop()
        self.fleet.stop()
        self.book.store.close()


@pytest.fixture(params=["sim", "mqtt"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sim":
        yield SimHarness()
        return
    live = MqttHarness(request.getfixturevalue("mosquitto_broker"), tmp_path)
    try:
        yield live
    finally:
        live.close()


def counts(view: MachineView) -> dict[str, int]:
    return {s.slot: s.count for s in view.slots}


def test_the_view_shows_the_machine_and_its_slots(harness: Harness) -> None:
    view = harness.machine.view()
    assert view.machine == harness.machine.machine_id and view.online and not view.locked
    assert {s.slot: (s.count, s.price_cents) for s in view.slots} == OPENING
    assert {s.slot: s.sku for s in view.slots} == PLANOGRAM
    assert {s.slot: s.size.value for s in view.slots} == {
        name: "small" if name[0] in "AB" else "large" for name in OPENING}
    assert all(s.capacity >= s.count for s in view.slots)
    assert view.cash_cents == 0


def test_a_new_price_is_in_the_next_view_and_on_the_machine(harness: Harness) -> None:
    harness.machine.set_price("B2", 325)
    assert harness.machine.view().slot("B2").price_cents == 325
    assert harness.device_prices()["B2"] == 325
    others = {name: p for name, (_, p) in OPENING.items() if name != "B2"}
    assert {k: v for k, v in harness.device_prices().items() if k != "B2"} == others


def test_customers_pay_the_new_price(harness: Harness) -> None:
    harness.machine.set_price("A1", 180)
    sales = harness.customers_shop()
    assert sales and all(s.unit_price_cents == harness.machine.view().slot(s.slot).price_cents for s in sales)
    assert {s.unit_price_cents for s in sales if s.slot == "A1"} <= {180}


def test_sales_arrive_as_events_and_count_the_view_down(harness: Harness) -> None:
    sales = harness.customers_shop()
    assert sales and len({s.id for s in sales}) == len(sales)
    sold: dict[str, int] = {}
    for s in sales:
        assert (s.machine, s.sku) == (harness.machine.machine_id, PLANOGRAM[s.slot])
        sold[s.slot] = sold.get(s.slot, 0) + s.units
    assert counts(harness.machine.view()) == {name: n - sold.get(name, 0) for name, (n, _) in OPENING.items()}


def test_units_gone_from_a_slot_reach_the_books_as_stock_lost(harness: Harness) -> None:
    """Shrinkage: units gone from a slot without a sale reach the books as StockLost of the slot's product, at
    the slot (sim: the world says so; live: a fridge that counts its shelves reports fewer than the books)."""
    lost = harness.lose("B1", 3)
    assert [(e.sku, e.quantity, e.location) for e in lost] == [(PLANOGRAM["B1"], 3, "m1:B1")]
    assert counts(harness.machine.view())["B1"] == OPENING["B1"][0] - 3


def test_lock_unlock_and_display_are_carried_out(harness: Harness) -> None:
    harness.machine.lock()
    assert harness.machine.view().locked and harness.device_locked()
    harness.machine.display("Back at 2pm")
    assert harness.device_display() == "Back at 2pm"
    harness.machine.unlock()
    assert not harness.machine.view().locked and not harness.device_locked()


def test_a_locked_machine_sells_nothing_until_unlocked(harness: Harness) -> None:
    harness.machine.lock()
    assert harness.customers_shop() == []
    assert counts(harness.machine.view()) == {name: n for name, (n, _) in OPENING.items()}
    harness.machine.unlock()
    assert harness.customers_shop()


def test_an_unknown_slot_is_refused_and_changes_nothing(harness: Harness) -> None:
    before = harness.machine.view()
    with pytest.raises(ToolError):
        harness.machine.set_price("Z9", 100)
    assert harness.machine.view() == before and harness.device_prices() == {n: p for n, (_, p) in OPENING.items()}


@pytest.mark.parametrize("price", [0, -150])
def test_a_price_that_is_not_positive_is_refused(harness: Harness, price: int) -> None:
    with pytest.raises(ToolError):
        harness.machine.set_price("A1", price)
    assert harness.machine.view().slot("A1").price_cents == OPENING["A1"][1]
    assert harness.device_prices()["A1"] == OPENING["A1"][1]


@pytest.mark.parametrize("harness", ["sim", "mqtt"], indirect=True)
def test_a_slot_shows_the_product_last_loaded_into_it(harness: Harness) -> None:
    harness.load("A1", "sprite-12oz", 4)
    assert harness.machine.view().slot("A1").sku == "sprite-12oz"
