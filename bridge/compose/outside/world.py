"""The outside of a live shop, played by a scenario's simulated world (`vend hil`).

The world (sim_backend SimWorld) keeps its hidden truth and its schedule of happenings; this module is
the mover of the shop's VirtualClock: when the shop spends time or waits for its next job, the world
is played up to then, happening by happening, and each happening reaches the shop the way the real one
would:
- a sale is a vend on the emulated machine (hardware_adapters/emulator), published over the broker;
- the restocker's work and a cash collection are done on the emulated machine (its telemetry) and then
  confirmed by the ops person in Slack (bridge/compose/outside/ops.py), as are deliveries, the
  suppliers' quotes and the approver's decisions;
- units gone from a slot (shrinkage, spoiled or expired stock taken out) are taken from the emulated
  machine, a smart fridge that counts its shelves: its inventory report tells the shop (which books the
  count short of its books as lost); what is lost from storage has no way to the shop yet (`unplayed`);
- customers write in their DMs; the shop's replies there reach them (OpsTeam reads the bot's DM posts), and
  one in a talk (sim_backend/talk.py) writes back in the thread they opened, as in the simulator;
- the card processor's payout (the world's card settlement) is a signed `payout.paid` webhook to the
  shop's /stripe/webhook; a refund the world took from the bank (the processor's balance did not cover
  it) is the processor's debit of the bank, a payout of the negative amount.
After each happening the mover waits until the shop's adapters hold what was sent (the broker's
messages received, the HTTP requests answered), so the shop sees the world in the simulator's order.
Happenings the live side has no way to learn of yet are counted in `unplayed` (by event type).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge import events as ev
from bridge.compose.outside.cards import CardDesk
from bridge.compose.outside.faults import Faults
from bridge.compose.outside.ops import OpsTeam
from bridge.domain import Payment
from bridge.errors import AdapterError
from bridge.ledger import BANK

QUIET_DEADLINE_S = 30.0
# played by the ops person (the world's SupplierPaid is the order ops placed and pays in Slack)
_PLAYED_ELSEWHERE = (ev.Restocked, ev.CashCollected, ev.DeliveryReceived, ev.TaskCompleted, ev.ApprovalDecided,
                     ev.Unloaded, ev.SupplierPaid, ev.QuoteReceived, ev.PaymentReceived, ev.RefundIssued,
                     ev.FeeCharged, ev.FeeMissed)  # the daily fee: the shop's close books its [site] costs


class Outside:
    """`advance_to(when)`: the VirtualClock's mover. `received()` is how many broker messages the shop has
    received (its MQTT link's count); `quiet()` lets the shop's adapters take in what they received."""

    def __init__(self, *, world: Any, clock: Any, devices: dict[str, Any], ops: OpsTeam,
                 received: Callable[[], int], received_reports: Callable[[], int], quiet: Callable[[], None],
                 payout: Callable[[int, datetime], None], faults: Faults | None = None,
                 restart_broker: Callable[[], None] | None = None, cards: CardDesk | None = None,
                 pace: Callable[[datetime], bool] | None = None, killer: Any = None) -> None:
        self.world = world
        self.clock = clock
        self.devices = devices
        self.ops = ops
        self.received = received
        self.received_reports = received_reports
        self.reports = 0  # inventory reports the devices sent for the world
        self.reports_base = 0
        self.quiet = quiet
        self.payout = payout
        self.faults = faults
        self.cards = cards
        self.restart_broker = restart_broker
        self.pace = pace  # before the world moves to a time (`vend demo`: waits for the wall clock); False: stop playing
        self.killer = killer  # --faults with the shop in its own process: kills it (bridge/compose/hil_process.py)
        self.failure: Exception | None = None
        self.on_failure: Callable[[], None] | None = None  # ends the shop's run
        self.vends: list[tuple[str, str]] = []  # (machine, message id) of recent vends, for duplicates
        self.published = 0  # broker messages the devices sent for the world
        self.base = 0  # the shop's received count when the world started playing
        self.unplayed: Counter[str] = Counter()
        self.history: list[ev.Event] = []  # the world's events, in the order they were played
        self.steps = 0

    def start(self) -> None:
        self.base = self.received()
        self.reports_base = self.received_reports()

    def advance_to(self, when: datetime) -> None:
        """Play the world up to `when` (the VirtualClock's mover). A failure here is the outside's, not the
        shop's: it is kept in `failure` (the shop's runtime would take it for a policy crash and go on)."""
        try:
            self._advance(when)
        except Exception as err:
            if self.failure is None:
                self.failure = err
                if self.on_failure is not None:
                    self.on_failure()
            raise

    def _advance(self, when: datetime) -> None:
        w = self.world
        self.intake()
        due = w.next_due()
        if due is not None and due <= when and self.faults is not None and self.restart_broker is not None \
                and self.faults.roll("broker_restart"):
            self._restart()
        while (due := w.next_due()) is not None and due <= when:
            if self.pace is not None and not self.pace(due):
                return  # the run is ending: the world plays no further
            self._sync_prices()
            w.advance_to(due)
            self.clock.set(w.now)
            self.steps += 1
            self.play(w.drain())
            self.intake()
        if self.pace is not None and not self.pace(when):
            return
        w.advance_to(when)
        self.clock.set(when)

    def intake(self) -> None:
        """What the shop did outside since the last look (Slack posts, payment links, refunds), taken in at
        the time it was done."""
        self.ops.intake()
        if self.cards is not None:
            self.cards.intake()

    def play(self, events: list[ev.Event]) -> None:
        if not events:
            return
        self.history += events
        sent = 0
        counted: set[str] = set()  # machines that lost units from a slot: their next report counts it
        for e in events:
            if isinstance(e, ev.Sale):
                device = self.devices[e.machine]
                for _ in range(e.units):
                    self.vends.append((e.machine, device.vend(e.slot, "card" if e.payment is Payment.CARD else "cash")))
                sent += e.units
                if self.faults is not None and self.faults.roll("mqtt_duplicate"):
                    machine, msg_id = self.faults.pick(self.vends[-20:])
                    sent += self.devices[machine].redeliver(msg_id)
            elif isinstance(e, ev.CardSettled):
                continue
            elif isinstance(e, ev.Alarm) and e.source in self.devices and e.code != "offline":
                self.devices[e.source].fault(e.code, e.detail)  # the machine reports it
                sent += 1
            elif isinstance(e, ev.MessageReceived) and e.role == "customer" and e.conversation.startswith("D"):
                continue
            elif isinstance(e, ev.StockLost) and e.location.partition(":")[0] in self.devices:
                machine, _, slot = e.location.partition(":")
                self.devices[machine].take(slot, e.quantity)  # gone from the shelf; the fridge counts it
                counted.add(machine)
            elif not isinstance(e, _PLAYED_ELSEWHERE):
                self.unplayed[type(e).__name__] += 1
        for machine in sorted(counted):
            self.devices[machine].publish_inventory()
        keyed = self.ops.keyed
        sent += self.ops.physical_work(events)
        self._wait_received(sent, reports=self.ops.keyed - keyed + len(counted))
        self.ops.confirm(events)
        if self.cards is not None:
            self.cards.receipts(events)
        self.ops.customers_write(events)
        if self.cards is not None:
            self.cards.play(events)
        for e in events:
            if isinstance(e, ev.CardSettled):
                self.payout(e.amount_cents, e.ts)
            elif isinstance(e, ev.RefundIssued) and e.paid_from == BANK:
                self.payout(-e.amount_cents, e.ts)  # the processor's balance did not cover it: it debits the bank

    def _wait_received(self, sent: int, *, reports: int = 0) -> None:
        """Until the shop's MQTT link has every message the devices sent (events, and `reports` inventory
        reports) and has taken them in."""
        if not sent and not reports:
            return
        self.published += sent
        self.reports += reports
        if self.killer is not None and self.killer.chance("mqtt"):
            self.killer.kill_and_restart()  # with these messages in flight: the broker owes them to the new shop
        want = self.base + self.published
        want_reports = self.reports_base + self.reports
        deadline = time.monotonic() + QUIET_DEADLINE_S
        while self.received() < want or self.received_reports() < want_reports:
            if time.monotonic() > deadline:
                raise AdapterError(f"the shop received {self.received() - self.base} of {self.published} device "
                                   f"messages within {QUIET_DEADLINE_S:g} s")
            time.sleep(0.001)
        self.quiet()

    def _restart(self) -> None:
        """The broker restarts (between two happenings); once the shop and the devices are back, a report
        from each device marks the end of what the broker redelivered, and counting starts again."""
        assert self.restart_broker is not None
        self.restart_broker()
        reports = self.received_reports()
        for device in self.devices.values():
            device.publish_inventory()
        deadline = time.monotonic() + QUIET_DEADLINE_S
        while self.received_reports() < reports + len(self.devices):
            if time.monotonic() > deadline:
                raise AdapterError("the devices' reports did not reach the shop after the broker restarted")
            time.sleep(0.001)
        self.quiet()
        self.base = self.received() - self.published
        self.reports_base = self.received_reports() - self.reports

    def _sync_prices(self) -> None:
        """The machines' prices are what the shop set on them (over MQTT): the world sells at those."""
        for machine, device in self.devices.items():
            if machine != self.world.machine_id:
                continue
            for slot, s in device.inventory().items():
                if s["price_cents"] > 0 and slot in self.world.slots:
                    self.world.slots[slot].price_cents = s["price_cents"]
