"""One contract for the PhysicalWork port, run over the simulator's SimPhysical (the simulated restocker)
and the live SlackPhysicalWork (the fake Slack workspace; a member of the ops group presses Done and
enters what they did, through signed requests): what a policy can observe is the same.

A task asked for is a TaskReceipt and nothing more: the work is done only when its confirming events
arrive (a Restocked per slot filled, a CashCollected, a HandedOver, then one TaskCompleted), never
because it was asked or because it is due. Each harness lets the person do the work (sim: the restocker
finds what the test put in storage and does it when due; live: ops confirm the counts they placed) and
yields the events the backend delivers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from bridge import events as ev
from bridge.domain import RestockLine, TaskReceipt
from bridge.errors import ToolError
from bridge.ports import PhysicalWork
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.slack.rig import OLGA, Rig, make_rig

WORK = (ev.Restocked, ev.CashCollected, ev.HandedOver, ev.TaskCompleted)
A1, C1 = "coke-12oz", "coke-20oz"  # a small item for slot A1, a large one for C1


class Harness(Protocol):
    physical: PhysicalWork
    machine: str

    def cash_in_machine(self, cents: int) -> None: ...

    def price(self, slot: str) -> int:
        """The slot's price on the machine."""
        ...

    def work(self, receipt: TaskReceipt, *, placed: Mapping[str, int] | None = None, cash_cents: int = 0,
             handed: bool = True) -> None:
        """The person does the task: places `placed` units per slot (a restock), counts `cash_cents`
        (a cash collection), or hands the goods over (or finds none to hand over)."""
        ...

    def later(self) -> None:
        """Time passes (well past any task's due time) and nobody does anything."""
        ...

    def events(self) -> list[ev.Event]: ...


class SimHarness:
    def __init__(self) -> None:
        self.world = SimWorld(scenario=load_scenario("project_vend", days=30, daily_fee_cents=0),
                              catalogue=load_catalogue(None), seed=5)
        self.physical: PhysicalWork = sim_backend(self.world).physical
        self.machine = self.world.machine_id
        self.world.advance_to(self.world.at(0, 9))
        self.world.drain()
        self.due: dict[str, Any] = {}

    def cash_in_machine(self, cents: int) -> None:
        self.world.cash_box = cents

    def price(self, slot: str) -> int:
        return self.world.slots[slot].price_cents

    def work(self, receipt: TaskReceipt, *, placed: Mapping[str, int] | None = None, cash_cents: int = 0,
             handed: bool = True) -> None:
        """The simulated restocker takes from storage what there is: put there exactly what is placed."""
        for slot, n in (placed or {}).items():
            sku = A1 if slot == "A1" else C1
            self.world.storage[sku] = self.world.storage.get(sku, 0) + n
        if receipt.kind == "handover" and handed:
            self.world.storage[A1] = self.world.storage.get(A1, 0) + 6
        assert receipt.due_at is not None
        self.world.advance_to(max(self.world.now, receipt.due_at) + timedelta(minutes=1))

    def later(self) -> None:
        self.world.advance_to(self.world.now + timedelta(hours=6))

    def events(self) -> list[ev.Event]:
        return [e for e in self.world.drain() if isinstance(e, WORK)]


class SlackHarness:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.physical: PhysicalWork = rig.slack.physical
        self.machine = "m1"
        rig.machine.counts.update({"A1": 0, "C1": 0})
        rig.machine.skus.update({"A1": A1, "C1": C1})

    def cash_in_machine(self, cents: int) -> None:
        self.rig.machine.cash_cents = cents

    def price(self, slot: str) -> int:
        return self.rig.machine.prices[slot]

    def _message_ts(self, task_id: str) -> str:
        return next(m["ts"] for m in reversed(self.rig.ops_messages()) if task_id in str(m.get("blocks")))

    def work(self, receipt: TaskReceipt, *, placed: Mapping[str, int] | None = None, cash_cents: int = 0,
             handed: bool = True) -> None:
        rig, task_id = self.rig, receipt.task_id
        ts = self._message_ts(task_id)
        if receipt.kind == "handover" and not handed:
            assert rig.click(OLGA, "task_cant", task_id, message_ts=ts).status == 200
            rig.submit(OLGA, rig.last_modal(), {"reason": {"reason": {"type": "plain_text_input",
                                                                      "value": "none in storage"}}})
            return
        modals = len(rig.fake.modals)
        assert rig.click(OLGA, "task_done", task_id, message_ts=ts).status == 200
        if len(rig.fake.modals) == modals:
            return  # confirmed with the button alone
        modal = rig.last_modal()
        assert modal["private_metadata"] == task_id
        if modal["callback_id"] == "restock_counts":
            for slot, n in (placed or {}).items():
                rig.machine.counts[slot] += n  # the machine's telemetry agrees with what was placed
            values = {f"slot:{slot}": {"count": {"type": "number_input", "value": str(n)}}
                      for slot, n in (placed or {}).items()}
        else:
            values = {"amount": {"amount": {"type": "number_input", "value": f"{cash_cents / 100:.2f}"}}}
        assert rig.submit(OLGA, modal, values).status == 200

    def later(self) -> None:
        self.rig.clock.t += timedelta(hours=6)

    def events(self) -> list[ev.Event]:
        return [e for e in self.rig.slack.events.drain() if isinstance(e, WORK)]


@pytest.fixture(params=["sim", "slack"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sim":
        yield SimHarness()
        return
    products = {sku: e.product for sku, e in load_catalogue(None).items()}  # the shop's, as live is given them
    with make_rig(tmp_path, products=products) as rig:
        yield SlackHarness(rig)
        assert rig.fake.violations == []


LINES = (RestockLine(slot="A1", sku=A1, count=6), RestockLine(slot="C1", sku=C1, count=4))


def restocked(events: list[ev.Event]) -> set[tuple[str, str, str, int, str]]:
    return {(e.machine, e.slot, e.sku, e.count, e.task_id) for e in events if isinstance(e, ev.Restocked)}


def completed(events: list[ev.Event]) -> list[tuple[str, bool]]:
    return [(e.task_id, e.ok) for e in events if isinstance(e, ev.TaskCompleted)]


def test_a_restock_is_a_receipt_and_nothing_more_until_someone_does_it(harness: Harness) -> None:
    receipt = harness.physical.request_restock(machine=harness.machine, lines=LINES)
    again = harness.physical.request_restock(machine=harness.machine, lines=LINES[:1])
    assert receipt.kind == "restock" and receipt.task_id and again.task_id != receipt.task_id
    assert receipt.due_at is not None and receipt.due_at.tzinfo is not None  # when the person should be done
    assert harness.events() == []


def test_a_restock_is_done_when_a_restocked_per_line_and_one_task_completed_arrive(harness: Harness) -> None:
    receipt = harness.physical.request_restock(machine=harness.machine, lines=LINES, note="before lunch")
    harness.work(receipt, placed={"A1": 6, "C1": 4})
    got = harness.events()
    assert restocked(got) == {(harness.machine, "A1", A1, 6, receipt.task_id),
                              (harness.machine, "C1", C1, 4, receipt.task_id)}
    assert completed(got) == [(receipt.task_id, True)] and isinstance(got[-1], ev.TaskCompleted)
    assert len({e.id for e in got}) == len(got)
    harness.later()
    assert harness.events() == []  # done is done


def test_a_price_given_with_a_restock_is_set_when_the_slot_is_filled(harness: Harness) -> None:
    receipt = harness.physical.request_restock(machine=harness.machine, lines=(
        RestockLine(slot="A1", sku=A1, count=6, price_cents=185), RestockLine(slot="C1", sku=C1, count=4)))
    harness.work(receipt, placed={"A1": 6, "C1": 4})
    assert completed(harness.events()) == [(receipt.task_id, True)]
    assert harness.price("A1") == 185


def test_a_short_restock_books_what_was_placed_and_says_so(harness: Harness) -> None:
    receipt = harness.physical.request_restock(machine=harness.machine, lines=LINES)
    harness.work(receipt, placed={"A1": 3, "C1": 0})
    got = harness.events()
    assert restocked(got) == {(harness.machine, "A1", A1, 3, receipt.task_id)}
    done = [e for e in got if isinstance(e, ev.TaskCompleted)]
    assert [(d.task_id, d.ok) for d in done] == [(receipt.task_id, False)] and done[0].detail


def test_a_cash_collection_is_done_when_cash_collected_and_task_completed_arrive(harness: Harness) -> None:
    harness.cash_in_machine(1250)
    receipt = harness.physical.request_cash_collection(machine=harness.machine)
    assert receipt.kind == "collect_cash" and receipt.task_id and receipt.due_at is not None
    assert harness.events() == []
    harness.work(receipt, cash_cents=1250)
    got = harness.events()
    assert [(e.machine, e.amount_cents, e.task_id) for e in got if isinstance(e, ev.CashCollected)] == [
        (harness.machine, 1250, receipt.task_id)]
    assert completed(got) == [(receipt.task_id, True)]


def test_an_empty_cash_box_collects_nothing_and_completes(harness: Harness) -> None:
    receipt = harness.physical.request_cash_collection(machine=harness.machine)
    harness.work(receipt, cash_cents=0)
    got = harness.events()
    assert not [e for e in got if isinstance(e, ev.CashCollected)]
    assert completed(got) == [(receipt.task_id, True)]


def test_a_handover_is_done_when_handed_over_and_task_completed_arrive(harness: Harness) -> None:
    receipt = harness.physical.request_handover(sku=A1, quantity=6, customer="U0001", payment_ref="plink-00001",
                                                amount_cents=1200)
    assert receipt.kind == "handover" and receipt.task_id and receipt.due_at is not None
    assert harness.events() == []
    harness.work(receipt)
    got = harness.events()
    assert [(e.sku, e.quantity, e.customer, e.payment_ref, e.amount_cents, e.task_id)
            for e in got if isinstance(e, ev.HandedOver)] == [(A1, 6, "U0001", "plink-00001", 1200, receipt.task_id)]
    assert completed(got) == [(receipt.task_id, True)]


def test_a_handover_nobody_could_make_fails_and_hands_nothing(harness: Harness) -> None:
    receipt = harness.physical.request_handover(sku=A1, quantity=6, customer="U0001", payment_ref="plink-00001",
                                                amount_cents=1200)
    harness.work(receipt, handed=False)
    got = harness.events()
    assert not [e for e in got if isinstance(e, ev.HandedOver)]
    assert completed(got) == [(receipt.task_id, False)]


@pytest.mark.parametrize("lines", [
    pytest.param((), id="no-lines"),
    pytest.param((RestockLine(slot="A1", sku=A1, count=2), RestockLine(slot="A1", sku=A1, count=3)), id="slot-twice"),
    pytest.param((RestockLine(slot="A1", sku=A1, count=0),), id="zero"),
    pytest.param((RestockLine(slot="A1", sku=A1, count=-4),), id="negative"),
])
def test_a_restock_that_makes_no_sense_is_refused(harness: Harness, lines: tuple[RestockLine, ...]) -> None:
    with pytest.raises(ToolError):
        harness.physical.request_restock(machine=harness.machine, lines=lines)
    harness.later()
    assert harness.events() == []


def test_a_machine_or_slot_that_does_not_exist_is_refused(harness: Harness) -> None:
    with pytest.raises(ToolError):
        harness.physical.request_restock(machine="m-nowhere", lines=LINES)
    with pytest.raises(ToolError):
        harness.physical.request_cash_collection(machine="m-nowhere")
    with pytest.raises(ToolError):
        harness.physical.request_restock(machine=harness.machine, lines=(RestockLine(slot="Z9", sku=A1, count=2),))
    harness.later()
    assert harness.events() == []


@pytest.mark.parametrize("line", [
    pytest.param(RestockLine(slot="A1", sku="no-such-product", count=2), id="unknown-product"),
    pytest.param(RestockLine(slot="A1", sku=C1, count=2), id="large-item-in-small-slot"),
])
def test_a_product_that_cannot_go_in_the_slot_is_refused(harness: Harness, line: RestockLine) -> None:
    with pytest.raises(ToolError):
        harness.physical.request_restock(machine=harness.machine, lines=(line,))
    harness.later()
    assert harness.events() == []
