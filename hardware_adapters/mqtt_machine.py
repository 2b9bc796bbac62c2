"""The live machines over MQTT: `MqttFleet` (the event source) and `MqttMachine` (the Machine port).

Everything runs on the core thread, fed by the link's one queue: messages are translated into project
events (bad ones into `DeadLettered`), the machines' views follow their status, snapshots, vends and
restocks, and a command waits for its `ack` by working through the same queue (messages that arrive
meanwhile are kept for the next batch, in order). `acknowledge()` PUBACKs every message handed out so
far: call it after the store committed them.
"""

from __future__ import annotations

import contextlib
import json
import queue
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge import events as ev
from bridge.domain import MachineView, Payment, SlotView, size_of_slot
from bridge.errors import AdapterError, ToolError
from bridge.live.slots import SlotPlan
from hardware_adapters.mqtt_link import Item, MqttLink
from hardware_adapters.mqtt_payloads import MAX_PAYLOAD_BYTES, CommandAck, translate

OBSERVED_KEPT = 50_000  # movements remembered to ignore a redelivery (far more than a broker holds unacked)


@dataclass(slots=True)
class _Slot:
    count: int
    price_cents: int
    since: datetime  # counts from snapshots at or before this time are already included


@dataclass(slots=True)
class _MachineState:
    online: bool = False
    locked: bool = False
    cash_cents: int = 0
    display: str = ""
    slots: dict[str, _Slot] = field(default_factory=dict)


class MqttFleet:
    """All configured machines behind one broker connection. `machines` maps id -> opening planogram (slot
    -> sku). `plan` (bridge/live/slots.py), when given, is what each slot holds as the books follow it (the
    ingest's MachineBook changes it from devices' reports and people's restocks); the view shows it."""

    def __init__(self, *, link: MqttLink, machines: Mapping[str, Mapping[str, str]], shop: str = "main",
                 command_timeout_s: float = 5.0, slot_capacity: int = 10, max_payload_bytes: int = MAX_PAYLOAD_BYTES,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), plan: SlotPlan | None = None) -> None:
        self.link = link
        self.shop = shop
        self.plan = plan if plan is not None else SlotPlan(opening=machines,
                                                           capacity={m: slot_capacity for m in machines})
        for m in machines:
            self.plan.current.setdefault(m, {})
        self.planograms = self.plan.current  # what a device's message is translated with: the slots now
        self.command_timeout_s = command_timeout_s
        self.slot_capacity = slot_capacity
        self.max_payload_bytes = max_payload_bytes
        self._clock = clock
        self._state = {m: _MachineState() for m in machines}
        self.machines = {m: MqttMachine(fleet=self, machine_id=m) for m in machines}
        self._backlog: list[ev.Event] = []
        self._backlog_acks: list[tuple[int, int]] = []
        self._handed_acks: list[tuple[int, int]] = []
        self._pubacks: dict[int, tuple[int, str]] = {}
        self._cmd_acks: dict[str, CommandAck] = {}
        self._observed: OrderedDict[str, None] = OrderedDict()  # ids of the latest counted movements
        self.subscribe_failures: list[int] = []
        self.sessions = 0  # CONNACKs seen
        self.subscriptions = 0  # SUBACKs seen (one per connection)

    def start(self) -> MqttFleet:
        self.link.start()
        return self

    def stop(self) -> None:
        self.link.stop()

    def seed(self, machine: str, slots: Mapping[str, tuple[int, int, datetime]], *, cash_cents: int = 0,
             counted: Sequence[str] = ()) -> None:
        """What the store already holds, before new telemetry (after a restart): the slots' counts (slot ->
        (count, price_cents, as of)), the cash box, and the ids of the movements booked (oldest first), so a
        redelivery of one the books have is not counted again."""
        st = self._state[machine]
        for slot, (count, price, since) in slots.items():
            st.slots[slot] = _Slot(count=count, price_cents=price, since=since)
        st.cash_cents = cash_cents
        for event_id in counted[-OBSERVED_KEPT:]:
            self._observed[event_id] = None

    # --- EventSource -------------------------------------------------------------------------------
    def drain(self) -> list[ev.Event]:
        return self.next_batch(max_wait_s=0.0, max_items=1_000_000)

    def wait_until(self, when: datetime) -> list[ev.Event]:
        out: list[ev.Event] = []
        while (left := (when - self._clock()).total_seconds()) > 0:
            out += self.next_batch(max_wait_s=left, max_items=1_000_000)
        return out + self.drain()

    def next_batch(self, *, max_wait_s: float, max_items: int) -> list[ev.Event]:
        """Events ready now (up to `max_items`); if none, wait up to `max_wait_s` for the first."""
        if not self._backlog:
            with contextlib.suppress(queue.Empty):
                self._handle(self.link.inbox.get(timeout=max_wait_s) if max_wait_s > 0
                             else self.link.inbox.get_nowait())
        while len(self._backlog) < max_items:
            try:
                self._handle(self.link.inbox.get_nowait())
            except queue.Empty:
                break
        out, self._backlog = self._backlog, []
        self._handed_acks += self._backlog_acks
        self._backlog_acks = []
        return out

    def acknowledge(self) -> None:
        """Everything handed out so far is committed: PUBACK it to the broker."""
        acks, self._handed_acks = self._handed_acks, []
        self.link.ack(acks)

    # --- the queue, on the core thread --------------------------------------------------------------
    def _handle(self, item: Item) -> None:
        tag = item[0]
        if tag == "msg":
            _, topic, payload, mid, qos, received_at = item
            tr = translate(topic, payload, received_at=received_at, machines=self.planograms, shop=self.shop,
                           max_bytes=self.max_payload_bytes)
            for e in tr.events:
                self._observe(e)
            if tr.ack is not None:
                self._cmd_acks[tr.ack.cmd_id] = tr.ack
            self._backlog += tr.events
            if qos:
                self._backlog_acks.append((mid, qos))
        elif tag == "puback":
            self._pubacks[item[1]] = (item[2], item[3])
        elif tag == "up":
            self.sessions += 1
        elif tag == "down":
            # Packet ids belong to the connection that is gone. Whatever was not yet PUBACKed comes again
            # (same session) and is recorded as a repeat and acked then; acking old ids on a new
            # connection could acknowledge a different, uncommitted message (if the session was lost).
            self._handed_acks.clear()
            self._backlog_acks.clear()
        elif tag == "suback":
            self.subscribe_failures += [rc for rc in item[2] if rc >= 128]
            self.subscriptions += 1

    def _observe(self, e: ev.Event) -> None:
        machine = getattr(e, "machine", None)
        st = self._state.get(machine) if isinstance(machine, str) else None
        if st is None:
            return
        if isinstance(e, ev.Sale | ev.Restocked | ev.CashCollected):
            # a message delivered again (a device that missed its PUBACK, a broker's redelivery) moves the
            # counts once: the books ignore it by its id, and so does this view
            if e.id in self._observed:
                return
            self._observed[e.id] = None
            if len(self._observed) > OBSERVED_KEPT:
                self._observed.popitem(last=False)
        if isinstance(e, ev.MachineStatus):
            st.online = e.online
        elif isinstance(e, ev.InventorySnapshot):
            for s in e.slots:
                old = st.slots.get(s.slot)
                if old is None or old.since <= e.ts:
                    st.slots[s.slot] = _Slot(count=s.count, price_cents=s.price_cents, since=e.ts)
        elif isinstance(e, ev.Sale | ev.Restocked):
            sl = st.slots.get(e.slot)
            delta = -e.units if isinstance(e, ev.Sale) else e.count
            # after the slot's last report, or at its very time but received after it (the device's messages
            # come in its order; a virtual clock, or a coarse one, stamps a report and the next vend alike)
            if sl is not None and e.ts >= sl.since:
                sl.count = max(0, sl.count + delta)
            if isinstance(e, ev.Sale) and e.payment is Payment.CASH:
                st.cash_cents += e.units * e.unit_price_cents
        elif isinstance(e, ev.CashCollected):
            st.cash_cents = max(0, st.cash_cents - e.amount_cents)

    # --- commands ------------------------------------------------------------------------------------
    def view(self, machine: str) -> MachineView:
        st = self._state[machine]
        plan = self.plan
        slots = tuple(
            SlotView(slot=name, size=size_of_slot(name), capacity=max(plan.capacity(machine, name), s.count),
                     sku=plan.sku_at(machine, name), count=s.count, price_cents=s.price_cents)
            for name, s in sorted(st.slots.items()))
        return MachineView(machine=machine, online=st.online and self.link.connected.is_set(), slots=slots,
                           cash_cents=st.cash_cents, locked=st.locked)

    def command(self, machine: str, kind: str, **fields: object) -> None:
        """Send a command and wait for the machine's ack. Refused or unanswered: ToolError."""
        if not self.link.connected.is_set():
            raise ToolError(f"machine {machine}: the bridge is not connected to the broker; try again later")
        self.drain_into_backlog()
        st = self._state[machine]
        if not st.online:
            raise ToolError(f"machine {machine} is offline; {kind} was not sent")
        cmd_id = f"cmd-{uuid.uuid4().hex}"
        mid = self.link.publish(f"vend/{machine}/cmd", json.dumps({"id": cmd_id, "type": kind, **fields}))
        deadline = time.monotonic() + self.command_timeout_s
        while cmd_id not in self._cmd_acks:
            refused = self._pubacks.pop(mid, None)
            if refused is not None and refused[0] >= 128:
                raise AdapterError(f"the broker refused {kind} for {machine}: {refused[1]} ({refused[0]})")
            if refused is not None and refused[0] == 16:
                raise ToolError(f"machine {machine} has never subscribed to its commands; {kind} not delivered")
            if not st.online:
                raise ToolError(f"machine {machine} went offline before acknowledging {kind}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolError(f"machine {machine} did not acknowledge {kind} within {self.command_timeout_s:g} s")
            try:
                self._handle(self.link.inbox.get(timeout=min(left, 0.5)))
            except queue.Empty:
                continue
        self._pubacks.pop(mid, None)
        ack = self._cmd_acks.pop(cmd_id)
        if not ack.ok:
            raise ToolError(f"machine {machine} refused {kind}: {ack.error or 'no reason given'}")
        if kind in ("lock", "unlock"):
            st.locked = kind == "lock"
        elif kind == "set_price":
            slot, price = fields["slot"], fields["price_cents"]
            sl = st.slots.get(str(slot))
            if sl is not None and isinstance(price, int):
                sl.price_cents = price
        elif kind == "display":
            st.display = str(fields.get("text", ""))

    def wait_subscribed(self, timeout: float, *, count: int = 1) -> bool:
        """Work through the queue until `count` SUBACKs came back (the bridge receives from then on)."""
        deadline = time.monotonic() + timeout
        while self.subscriptions < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._handle(self.link.inbox.get(timeout=left))
            except queue.Empty:
                return False
        return True

    def drain_into_backlog(self) -> None:
        """Work through what is queued (status changes first of all) without handing anything out."""
        while True:
            try:
                self._handle(self.link.inbox.get_nowait())
            except queue.Empty:
                return


class MqttMachine:
    """One machine on the Machine port; state and commands go through its fleet."""

    def __init__(self, *, fleet: MqttFleet, machine_id: str) -> None:
        self.fleet = fleet
        self.machine_id = machine_id

    def view(self) -> MachineView:
        return self.fleet.view(self.machine_id)

    def set_price(self, slot: str, price_cents: int) -> None:
        self.fleet.command(self.machine_id, "set_price", slot=slot, price_cents=price_cents)

    def lock(self) -> None:
        self.fleet.command(self.machine_id, "lock")

    def unlock(self) -> None:
        self.fleet.command(self.machine_id, "unlock")

    def display(self, text: str) -> None:
        self.fleet.command(self.machine_id, "display", text=text)
