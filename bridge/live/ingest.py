"""The live ingest loop: events from the machines into the store, once each, crash-consistently.

Batch by batch: every event is recorded through the ledger (idempotent on its id), its telemetry kept
in the machine and slot tables, a dead letter in its table; then one `Store.flush()` commits the batch
(event ids and effects in one transaction) and only then does the source acknowledge the messages to the
outside world. A SIGKILL at any point loses nothing: uncommitted messages were never acknowledged.

One message's failure is its own: an event that raises while it is recorded has its rows taken back out
of the batch and is dead-lettered in its place, and the batch goes on. Only a failure of the loop itself
(a commit the database refuses) stops it; it is then `broken`: nothing more is committed or acknowledged,
so a restart receives again whatever was not committed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bridge import events as ev
from bridge.domain import Payment
from bridge.ledger import REVENUE, Ledger, slot_location
from bridge.live.slots import SlotPlan
from bridge.store import Store

log = logging.getLogger("vendbridge.live")
# Times every backend stores and every day computation survives (a failed event's own time outside it
# is replaced by the wall clock's in its dead letter).
STORABLE = (datetime(1971, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))


class LiveEventSource(Protocol):
    """An event source whose input stays with the sender until `acknowledge()` (MQTT, webhooks)."""

    def next_batch(self, *, max_wait_s: float, max_items: int) -> list[ev.Event]: ...

    def acknowledge(self) -> None:
        """Everything handed out so far is durably recorded."""
        ...


def world_row(event_id: str, shop: str, ts: datetime, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "shop": shop, "ts": ts, "kind": kind, "machine": "", "slot": "", "sku": "",
            "count": 0, "amount_cents": 0, "previous_cents": None, "ref": "", **fields}


def world_actions(e: ev.Event, shop: str) -> list[dict[str, Any]]:
    """The `world_action` rows of an event: what was done in the world (price changes come from the
    MachineBook, which knows the price before). A device's telemetry of a restock or collection that a
    person confirms in Slack is not one: the person's confirmation is."""
    if isinstance(e, ev.Restocked):
        return [world_row(e.id, shop, e.ts, "restock", machine=e.machine, slot=e.slot, sku=e.sku, count=e.count,
                          ref=e.task_id)]
    if isinstance(e, ev.CashCollected):
        return [world_row(e.id, shop, e.ts, "collect_cash", machine=e.machine, amount_cents=e.amount_cents,
                          ref=e.task_id)]
    if isinstance(e, ev.SupplierPaid):
        return [world_row(e.id, shop, e.ts, "place_order", amount_cents=e.amount_cents, ref=e.order_id)]
    if isinstance(e, ev.DeliveryReceived):  # an order paid outside the books shows here first
        return [world_row(e.id, shop, e.ts, "place_order", sku=e.sku, count=e.quantity,
                          amount_cents=e.quantity * e.unit_cost_cents, ref=e.order_id)]
    if isinstance(e, ev.RefundIssued):
        return [world_row(e.id, shop, e.ts, "refund", amount_cents=e.amount_cents, ref=e.payment_ref)]
    return []


class MachineBook:
    """Keeps the `machine` and `slot_telemetry` tables from machine events (buffered in the store), and
    each slot's product and capacity (`plan`, kept in `slot_product`): the config's planogram is its
    opening state, devices' reports and people's restocks change it, and vends are booked by it."""

    def __init__(self, *, shop: str, store: Store, plan: SlotPlan | None = None) -> None:
        self.shop = shop
        self.store = store
        self.plan = plan if plan is not None else SlotPlan(opening={})
        self.plan.restore(store.rows("slot_product", shop=shop))
        self.machines: dict[str, dict[str, Any]] = {r["machine_id"]: r for r in store.rows("machine", shop=shop)}
        self.slots: dict[tuple[str, str], dict[str, Any]] = {
            (r["machine_id"], r["slot"]): r for r in store.rows("slot_telemetry", shop=shop)}

    def register(self, machine: str) -> None:
        if machine not in self.machines:
            self._machine(machine)
            self.store.upsert("machine", self.machines[machine])

    def _machine(self, machine: str) -> dict[str, Any]:
        row = self.machines.get(machine)
        if row is None:
            row = self.machines[machine] = {
                "machine_id": machine, "shop": self.shop, "online": False, "status_at": None, "last_seen_at": None,
                "door_open": False, "temperature_c": None, "temperature_at": None, "cash_cents": 0}
        return row

    def booked_as(self, e: ev.Event) -> ev.Event:
        """The event as the books take it: a vend, or a device's own report of a restock, is of the
        product its slot held at the event's own time (not at its arrival, nor in the config)."""
        if isinstance(e, ev.Sale | ev.MachineRestocked) or (isinstance(e, ev.Restocked) and not e.task_id):
            sku = self.plan.sku_at(e.machine, e.slot, e.ts)
            if sku and sku != e.sku:
                return dataclasses.replace(e, sku=sku)
        return e

    def _load(self, machine: str, slot: str, at: datetime, event_id: str, *, sku: str = "",
              capacity: int = 0) -> None:
        loaded = self.plan.change(machine, slot, since=at, sku=sku, capacity=capacity)
        if loaded is not None:
            self.store.append("slot_product", {"shop": self.shop, "machine_id": machine, "slot": slot,
                                               "sku": loaded.sku, "capacity": loaded.capacity, "since": at,
                                               "event_id": event_id})

    def observe(self, e: ev.Event) -> None:
        if isinstance(e, ev.Restocked) and e.task_id:  # a person loaded this product into the slot
            self._load(e.machine, e.slot, e.ts, e.id, sku=e.sku)
        machine = getattr(e, "machine", None)
        if not isinstance(machine, str) or bool(getattr(e, "task_id", None)):
            return  # not about a machine, or a person's confirmation (Slack): not the machine's telemetry
        row = self._machine(machine)
        if isinstance(e, ev.MachineStatus):
            if row["status_at"] is not None and row["status_at"] > e.ts:
                return
            row["online"], row["status_at"] = e.online, e.ts
        elif isinstance(e, ev.InventorySnapshot):
            for s in e.slots:
                if s.sku or s.capacity:  # the device says what the slot holds
                    self._load(machine, s.slot, e.ts, e.id, sku=s.sku, capacity=s.capacity)
                old = self.slots.get((machine, s.slot))
                if old is None or old["snapshot_at"] <= e.ts:
                    self._slot(machine, s.slot, s.count, s.price_cents, e.ts, e.ts, event_id=f"{e.id}:{s.slot}")
        elif isinstance(e, ev.Sale):
            self._moved(machine, e.slot, -e.units, e.unit_price_cents, e.ts, event_id=e.id)
            if e.payment is Payment.CASH:  # the machine's view of its cash box (MqttFleet's), kept for a restart
                row["cash_cents"] = row.get("cash_cents", 0) + e.units * e.unit_price_cents
        elif isinstance(e, ev.MachineCashCollected | ev.CashCollected):
            row["cash_cents"] = max(0, row.get("cash_cents", 0) - e.amount_cents)
        elif isinstance(e, ev.MachineRestocked | ev.Restocked):
            self._moved(machine, e.slot, e.count, None, e.ts)
        elif isinstance(e, ev.DoorChanged):
            row["door_open"] = e.open
        elif isinstance(e, ev.TemperatureReading):
            row["temperature_c"], row["temperature_at"] = e.celsius, e.ts
        if row["last_seen_at"] is None or row["last_seen_at"] < e.ts:
            row["last_seen_at"] = e.ts
        self.store.upsert("machine", row)

    def _moved(self, machine: str, slot: str, delta: int, price: int | None, at: datetime,
               event_id: str = "") -> None:
        old = self.slots.get((machine, slot))
        if old is not None and at >= old["snapshot_at"]:  # at a report's own time but taken in after it: after it
            self._slot(machine, slot, max(0, old["count"] + delta), old["price_cents"] if price is None else price,
                       old["snapshot_at"], at, event_id=event_id)

    def _slot(self, machine: str, slot: str, count: int, price: int, snapshot_at: datetime, at: datetime,
              event_id: str = "") -> None:
        old = self.slots.get((machine, slot))
        if event_id and old is not None and old["price_cents"] != price:  # the price history (shadow report)
            self.store.append("world_action", world_row(event_id, self.shop, at, "set_price", machine=machine,
                                                        slot=slot, amount_cents=price,
                                                        previous_cents=old["price_cents"]))
        row = {"machine_id": machine, "slot": slot, "shop": self.shop, "count": count, "price_cents": price,
               "snapshot_at": snapshot_at, "updated_at": at}
        self.slots[(machine, slot)] = row
        self.store.upsert("slot_telemetry", row)


class IngestLoop:
    """Group commit: record what is ready, commit when the source has nothing more at once, when
    `max_batch` events are pending, or when the oldest pending event is `max_delay_s` old."""

    def __init__(self, *, source: LiveEventSource, ledger: Ledger, store: Store, book: MachineBook,
                 max_batch: int = 2000, max_delay_s: float = 0.05, idle_wait_s: float = 0.2,
                 on_commit: Callable[[Sequence[ev.Event], float], None] | None = None,
                 on_event: Callable[[ev.Event], None] | None = None, counted: frozenset[str] = frozenset()) -> None:
        self.source = source
        self.counted = counted  # machines whose reports are physical counts: a count short of the books is a loss
        self.moved_at: dict[str, datetime] = {}  # slot location -> the latest restock or unload people confirmed
        self.ledger = ledger
        self.store = store
        self.book = book
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.idle_wait_s = idle_wait_s
        self.on_commit = on_commit
        self.on_event = on_event
        self.recorded = 0
        self.duplicates = 0
        self.dead_letters = 0
        self.commits = 0
        self.last_event_at: float | None = None  # wall time (time.time()) of the last event recorded
        self.failed = 0  # events that raised while recorded (dead-lettered in their place)
        self.broken: BaseException | None = None  # set when a step or a commit failed: commit no more
        self._pending: list[ev.Event] = []
        self._first_at = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
        self.commit()

    def step(self) -> None:
        try:
            self._step()
        except BaseException as err:
            self.broken = err
            raise

    def _step(self) -> None:
        wait = self.idle_wait_s if not self._pending else 0.0
        batch = self.source.next_batch(max_wait_s=wait, max_items=self.max_batch - len(self._pending))
        if batch:
            if not self._pending:
                self._first_at = time.monotonic()
            self.store.prefetch_seen(e.id for e in batch)
            for e in batch:
                self._record(e)
            self._pending += batch
        if self._pending and (not batch or len(self._pending) >= self.max_batch
                              or time.monotonic() - self._first_at >= self.max_delay_s):
            self.commit()

    def pump(self) -> None:
        """Record everything ready now, without waiting, and commit (a job's view of the world is current)."""
        try:
            while batch := self.source.next_batch(max_wait_s=0.0, max_items=self.max_batch):
                self.store.prefetch_seen(e.id for e in batch)
                for e in batch:
                    self._record(e)
                self._pending += batch
        except BaseException as err:
            self.broken = err
            raise
        self.commit()

    def _record(self, e: ev.Event) -> None:
        marks = self.store.savepoint()
        try:
            self._record_one(e)
        except Exception as err:  # this event's failure only: its rows go, a dead letter takes its place
            self.store.rollback_to(marks)
            # its id stays taken ("failed"): a redelivery is a repeat, so it is dead-lettered, never booked too
            self.store.append("processed_event", {"event_id": e.id, "shop": self.ledger.shop, "kind": "failed",
                                                  "ts": storable(e.ts)})
            self.store.mark_seen(e.id)
            self.failed += 1
            log.error("event not booked; dead-lettered", extra={"event_id": e.id[:200], "kind": e.kind,
                                                                  "error": f"{type(err).__name__}: {err}"[:500]})
            self._record_one(failed_event(e, err))

    def _record_one(self, e: ev.Event) -> None:
        self.last_event_at = time.time()
        e = self.book.booked_as(e)
        if not self.ledger.record(e):
            self.duplicates += 1
            return
        self.recorded += 1
        if isinstance(e, ev.DeadLettered):
            self.dead_letters += 1
            self.store.append("dead_letter", {"received_at": e.ts, "source": e.source, "topic": e.topic,
                                              "reason": e.reason, "raw": e.raw})
        else:
            self.book.observe(e)
            for row in world_actions(e, self.ledger.shop):
                self.store.append("world_action", row)
        if self.on_event is not None:
            self.on_event(e)
        if self.counted:
            if isinstance(e, ev.Restocked | ev.Unloaded):
                loc = slot_location(e.machine, e.slot)
                if loc not in self.moved_at or self.moved_at[loc] < e.ts:
                    self.moved_at[loc] = e.ts
            elif isinstance(e, ev.InventorySnapshot) and e.machine in self.counted:
                for lost in self._counted_short(e):
                    self._record_one(lost)

    def _counted_short(self, e: ev.InventorySnapshot) -> list[ev.StockLost]:
        """A machine that counts what its slots hold (`[[machines]] counts = "physical"`: a smart fridge's
        shelves) and counts fewer units than the books hold there: the difference is gone without a sale
        (theft, damage, spoiled stock taken out), booked as StockLost at the count's own time, as a
        stocktake books shrinkage. Its id is the report's, so a redelivered report books it once; a count
        above the books books nothing (a vend still on its way, or a restock the books have not heard of),
        and a slot is not judged by a count no later than the last restock or unload people confirmed
        there (the count may be from before their work: the next count judges it)."""
        out = []
        for s in e.slots:
            sku = s.sku or self.book.plan.sku_at(e.machine, s.slot, e.ts)
            location = slot_location(e.machine, s.slot)
            if not sku or (location in self.moved_at and e.ts <= self.moved_at[location]):
                continue
            held = self.ledger.units_at(location, sku)
            if 0 <= s.count < held:
                out.append(ev.StockLost(id=f"{e.id}:{s.slot}:short", ts=e.ts, shop=e.shop, sku=sku,
                                        quantity=held - s.count, location=location,
                                        reason=f"counted short: the machine counted {s.count}, the books held {held}"))
        return out

    def commit(self) -> None:
        """Flush the store (one transaction), then acknowledge to the source. A failed flush raises:
        the process stops with nothing acknowledged, and a restart receives the batch again. A broken
        loop commits and acknowledges nothing (what it holds may be half a batch)."""
        if self.broken is not None:
            self.store.discard()
            return
        try:
            self.store.flush()
        except BaseException as err:
            self.broken = err
            raise
        self.source.acknowledge()
        del self.ledger.anomalies[:-100]  # live sales of unstocked lots would grow it without bound
        if self._pending:
            self.commits += 1
            if self.on_commit is not None:
                self.on_commit(self._pending, time.time())
        self._pending = []


def storable(ts: datetime) -> datetime:
    """`ts` if every backend stores it, else the wall clock's time (for the record of a failure only)."""
    try:
        return ts if STORABLE[0] <= ts <= STORABLE[1] else datetime.now(UTC)
    except (OverflowError, TypeError):
        return datetime.now(UTC)


def failed_event(e: ev.Event, err: BaseException) -> ev.DeadLettered:
    """The dead letter of an event that raised while it was recorded (its id follows the event's: once)."""
    return ev.DeadLettered(id=f"failed:{e.id}"[:250], ts=storable(e.ts), source="ingest", topic=e.kind,
                           reason=f"could not book: {type(err).__name__}: {err}"[:500],
                           raw=repr(e).encode("utf-8", "backslashreplace")[:65536])


def status_report(store: Store, *, shop: str = "main") -> dict[str, Any]:
    """What `vend status` prints: sales, dead letters and each machine's state, from the store alone."""
    units = store.scalar("SELECT COALESCE(SUM(units), 0) FROM ledger_line WHERE shop = :shop AND credit = :rev",
                         shop=shop, rev=REVENUE)
    revenue = store.scalar("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_line WHERE shop = :shop "
                           "AND credit = :rev", shop=shop, rev=REVENUE)
    # a free vend (price 0) books no revenue line: counted from its event (a live vend is one unit)
    free = store.scalar("SELECT COUNT(*) FROM processed_event p WHERE p.shop = :shop AND p.kind = 'sale' "
                        "AND NOT EXISTS (SELECT 1 FROM ledger_line l WHERE l.event_id = p.event_id "
                        "AND l.credit = :rev)", shop=shop, rev=REVENUE)
    dead = store.scalar("SELECT COUNT(*) FROM dead_letter")
    machines = []
    slots_by: dict[str, list[dict[str, Any]]] = {}
    for s in sorted(store.rows("slot_telemetry", shop=shop), key=lambda r: (r["machine_id"], r["slot"])):
        slots_by.setdefault(s["machine_id"], []).append(
            {"slot": s["slot"], "count": s["count"], "price_cents": s["price_cents"]})
    for m in sorted(store.rows("machine", shop=shop), key=lambda r: r["machine_id"]):
        machines.append({
            "id": m["machine_id"], "online": bool(m["online"]),
            "status_at": m["status_at"].isoformat() if m["status_at"] else None,
            "last_seen_at": m["last_seen_at"].isoformat() if m["last_seen_at"] else None,
            "door_open": bool(m["door_open"]), "temperature_c": m["temperature_c"],
            "slots": slots_by.get(m["machine_id"], [])})
    return {"shop": shop, "units_sold": int(units) + int(free), "free_vends": int(free),
            "revenue_cents": int(revenue), "dead_letters": int(dead),
            "machines": machines}
