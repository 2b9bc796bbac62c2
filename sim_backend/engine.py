"""The simulated world: hidden truth, a schedule of timed happenings, and the events it emits.

Time only moves when the agent spends it (each tool costs minutes) or waits; whatever falls due
on the way happens in order: card settlement at midnight, deliveries in the morning, restocks a
while after they are asked for, the day's sales and the daily fee in the evening, spoilage at
the day's end. The ledger is told only through events; `truth()` is what the tests compare it to.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, Protocol

from bridge import events as ev
from bridge.domain import Payment, QuoteRequested, RestockLine, Size
from bridge.due import expected_delivery
from bridge.errors import ToolError
from sim_backend import realism
from sim_backend.approvals import SimApprover
from sim_backend.catalogue import CatalogueEntry
from sim_backend.demand import day_demand, draw_units
from sim_backend.rng import binomial, child_seed, rng_for
from sim_backend.scenario import Scenario
from sim_backend.suppliers import Shipment, SupplierEngine
from sim_backend.world import Weather, WeatherModel


@dataclass(slots=True)
class SlotState:
    slot: str
    size: Size
    capacity: int
    sku: str | None = None
    count: int = 0
    price_cents: int = 0


class Market(Protocol):
    """Where the day's customers meet the machines. Alone at its location a machine sells by the
    demand model of docs/demand-model.md (`LocalMarket`); in an arena several machines share one
    market (sim_backend/arena/market.py)."""

    def sell(self, world: SimWorld, day: int) -> None: ...


class LocalMarket:
    def sell(self, world: SimWorld, day: int) -> None:
        world.sell_alone(day)


LOCAL_MARKET = LocalMarket()
_BY_SLOT = attrgetter("slot")  # a sort key without a Python call per item


class SimWorld:
    def __init__(self, *, scenario: Scenario, catalogue: Mapping[str, CatalogueEntry], seed: int,
                 shop: str = "main", market: Market = LOCAL_MARKET) -> None:
        self.scenario = scenario
        self.market = market
        self.catalogue = catalogue
        self.seed = seed
        self.shop = shop
        self.tz = scenario.tz
        self.start = datetime.combine(scenario.start, time(0), self.tz)
        self.now = self.start
        # demand is drawn per day and product, each from its own seed (common random numbers): the
        # same product at the same price on the same day sells the same in any run of this seed,
        # whatever else the shop stocks or did before
        self.rng_demand = rng_for(seed, "demand")
        self._demand_seeds: dict[str, int] = {}
        self.rng_payment = rng_for(seed, "payment")
        self.weather_model = WeatherModel(rng=rng_for(seed, "weather"), mean_c=scenario.world.mean_celsius,
                                          swing_c=scenario.world.swing_celsius)
        self.suppliers = SupplierEngine(specs=scenario.suppliers, catalogue=catalogue, rng=rng_for(seed, "suppliers"),
                                        seed=seed, day_of=self.day_index)
        m = scenario.machine
        self.machine_id = m.id
        self.slots: dict[str, SlotState] = {}
        for r in range(m.rows):
            size = Size.SMALL if r < m.small_rows else Size.LARGE
            for c in range(m.columns):
                name = f"{chr(ord('A') + r)}{c + 1}"
                cap = m.small_capacity if size is Size.SMALL else m.large_capacity
                self.slots[name] = SlotState(slot=name, size=size, capacity=cap)
        self.bank = 0
        self.card_unsettled = 0
        self.cash_box = 0
        self.storage: dict[str, int] = {}
        self.batches: dict[str, deque[list[int]]] = {}  # sku -> [[expires_day, units], ...] oldest first
        self.unpaid_fee_days = 0
        self.bankrupt = False
        self.weather: Weather | None = None
        self.units_sold_today = 0
        self.payment_links: dict[str, tuple[int, str]] = {}
        self.machine_online = True
        self.machine_locked = False  # the shopkeeper locked the machine: nobody can buy from it
        self.lock_used = False  # whether it was ever locked (only then is it part of the state hash)
        self.cash_jammed = False
        self.sent_messages: list[tuple[datetime, str, str]] = []
        self.heard: set[str] = set()  # conversations a message came from: the shop may answer in them
        self.outbox: list[ev.Event] = []
        self._heap: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._hseq = 0
        self._eseq = 0
        self._id_format = shop.replace("%", "%%") + "-%07d"  # an event's id: the shop, a dash, the sequence number
        self._tseq = 0
        # order id -> (shipments still to arrive, units ordered per sku, units arrived per sku, paid cents):
        # when the last arrives the order's TaskCompleted says what came, as ops' "Delivered" does live
        self._receiving: dict[str, tuple[int, dict[str, int], dict[str, int], int]] = {}
        self._spans: dict[float, timedelta] = {}  # minutes -> timedelta: tools spend the same few durations
        self._emit(ev.CapitalIn, amount_cents=scenario.starting_cash_cents)
        self.bank = scenario.starting_cash_cents
        self._schedule_day(0)
        self.extras = realism.install(self)  # accidents, customers: nothing when the scenario has none
        self.approver = SimApprover(world=self, spec=scenario.approver)  # ops, answering request_approval

    # --- time --------------------------------------------------------------------------------
    def day_index(self, when: datetime | None = None) -> int:
        return ((when or self.now).astimezone(self.tz).date() - self.scenario.start).days

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        d = self.scenario.start + timedelta(days=day)
        return datetime.combine(d, time(hour, minute), self.tz)

    def schedule(self, when: datetime, fn: Callable[..., None], *args: Any) -> None:
        self._hseq += 1
        heapq.heappush(self._heap, (when, self._hseq, fn, args))

    def next_due(self) -> datetime | None:
        """When the next scheduled happening falls due (None: nothing is scheduled)."""
        return self._heap[0][0] if self._heap else None

    def advance_to(self, when: datetime) -> None:
        heap = self._heap
        while heap and heap[0][0] <= when:
            at, _, fn, args = heapq.heappop(heap)
            if at > self.now:
                self.now = at
            fn(*args)
        if when > self.now:
            self.now = when

    def spend(self, minutes: float) -> None:
        span = self._spans.get(minutes)
        if span is None:
            span = self._spans[minutes] = timedelta(minutes=minutes)
        when = self.now + span
        heap = self._heap
        if heap and heap[0][0] <= when:
            self.advance_to(when)
        elif when > self.now:  # nothing falls due on the way (most tool calls): only the clock moves
            self.now = when

    def _schedule_day(self, day: int) -> None:
        self.schedule(self.at(day, 0), self._midnight, day)
        self.schedule(self.at(day, self.scenario.world.sales_hour), self._evening, day)

    # --- events -------------------------------------------------------------------------------
    def _emit(self, cls: type[ev.Event], **fields: Any) -> None:
        if cls is ev.MessageReceived:
            self.heard.add(fields["conversation"])
        self.outbox.append(cls(id=self._next_id(), ts=self.now, shop=self.shop, **fields))

    def _next_id(self) -> str:
        """The id `_emit` gives the next event. The engine's daily events are built with it directly:
        `**fields` costs a dict or two an event, and the cyclic collector runs the more often for them."""
        self._eseq += 1
        return self._id_format % self._eseq  # f"{self.shop}-{self._eseq:07d}", with the format parsed once

    def emit(self, cls: type[ev.Event], **fields: Any) -> None:
        """An event from a part outside the engine (the arena's exchange), stamped now."""
        self._emit(cls, **fields)

    def drain(self) -> list[ev.Event]:
        out, self.outbox = self.outbox, []
        return out

    # --- the day ------------------------------------------------------------------------------
    def _midnight(self, day: int) -> None:
        if self.card_unsettled:
            self.bank += self.card_unsettled
            self.outbox.append(ev.CardSettled(id=self._next_id(), ts=self.now, shop=self.shop,
                                              amount_cents=self.card_unsettled))
            self.card_unsettled = 0
        self.weather = self.weather_model.next_day(self.scenario.start + timedelta(days=day))
        self._schedule_day(day + 1)

    def _evening(self, day: int) -> None:
        self.market.sell(self, day)
        fee = self.scenario.daily_fee_cents
        if fee:
            if self.bank >= fee:
                self.bank -= fee
                self.unpaid_fee_days = 0
                self.outbox.append(ev.FeeCharged(id=self._next_id(), ts=self.now, shop=self.shop, amount_cents=fee,
                                                 reason="daily_fee"))
            else:
                self.unpaid_fee_days += 1
                self._emit(ev.FeeMissed, amount_cents=fee, reason="daily_fee",
                           consecutive_days=self.unpaid_fee_days)
                if self.unpaid_fee_days >= self.scenario.bankruptcy_days:
                    self.bankrupt = True
        self._expire(day)

    def offers(self) -> dict[str, list[SlotState]]:
        """Products in stock and the slots holding them, cheapest slot first."""
        offers: dict[str, list[SlotState]] = {}
        for s in self.slots.values():
            if s.sku and s.count > 0:
                offers.setdefault(s.sku, []).append(s)
        for slots in offers.values():
            if len(slots) > 1:
                slots.sort(key=lambda s: (s.price_cents, s.slot))
        return offers

    def sell_units(self, slots: list[SlotState], units: int) -> int:
        """Sell up to `units` from the given slots, cheapest first; returns the units sold."""
        card_share = self.scenario.machine.card_share
        sold = 0
        for s in slots:
            if not units:
                break
            take = min(units, s.count)
            units -= take
            sold += take
            sku = s.sku
            assert sku is not None
            s.count -= take
            self._consume(sku, take)
            card = binomial(self.rng_payment, take, card_share)
            price = s.price_cents
            if card:
                self.card_unsettled += card * price
                self.outbox.append(ev.Sale(id=self._next_id(), ts=self.now, shop=self.shop,
                                           machine=self.machine_id, slot=s.slot, sku=sku, units=card,
                                           unit_price_cents=price, payment=Payment.CARD))
            cash = take - card
            if cash:
                self.cash_box += cash * price
                self.outbox.append(ev.Sale(id=self._next_id(), ts=self.now, shop=self.shop,
                                           machine=self.machine_id, slot=s.slot, sku=sku, units=cash,
                                           unit_price_cents=price, payment=Payment.CASH))
        return sold

    def sell_alone(self, day: int) -> None:
        assert self.weather is not None
        if not self.machine_online or self.machine_locked:
            self.units_sold_today = 0
            return
        offers = self.offers()
        calendar = self.scenario.world
        expected_units = day_demand(self.weather, len(offers), calendar.weekday_factors, calendar.month_factors)
        sold_total = 0
        for sku in sorted(offers):
            slots = offers[sku]
            entry = self.catalogue[sku]
            exp = expected_units(entry.hidden.base_daily_sales, slots[0].price_cents,
                                 entry.product.reference_price_cents, entry.hidden.elasticity, entry.product.category)
            stock = 0
            for s in slots:  # a loop, not sum() over a generator: a product is in one or two slots
                stock += s.count
            units = draw_units(self._demand_rng(day, sku), exp, stock)
            if units:
                sold_total += self.sell_units(slots, units)
        self.units_sold_today = sold_total

    def _demand_rng(self, day: int, sku: str) -> Any:
        """The demand stream of one product on one day (`rng_demand`, reseeded)."""
        base = self._demand_seeds.get(sku)
        if base is None:
            base = self._demand_seeds[sku] = child_seed(self.seed, f"demand:{sku}")
        self.rng_demand.seed(base ^ (day * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF))
        return self.rng_demand

    def _consume(self, sku: str, units: int) -> None:
        batches = self.batches.get(sku)
        while units and batches:
            take = min(units, batches[0][1])
            batches[0][1] -= take
            units -= take
            if batches[0][1] == 0:
                batches.popleft()

    def lose_from_slot(self, s: SlotState, units: int, reason: str) -> None:
        """Units gone from a slot without a sale (an accident), told to the books."""
        assert s.sku is not None
        s.count -= units
        self._consume(s.sku, units)
        self._emit(ev.StockLost, sku=s.sku, quantity=units, location=f"{self.machine_id}:{s.slot}", reason=reason)

    def _expire(self, day: int) -> None:
        due = []
        for sku, batches in self.batches.items():  # a loop, not a generator: every product is looked at nightly
            if batches and batches[0][0] <= day:
                due.append(sku)
        due.sort()
        for sku in due:  # in sku order, as every product with stock used to be visited
            batches = self.batches[sku]
            gone = 0
            while batches and batches[0][0] <= day:
                gone += batches.popleft()[1]
            if not gone:
                continue
            from_storage = min(gone, self.storage.get(sku, 0))
            if from_storage:
                self.storage[sku] -= from_storage
                self._emit(ev.StockLost, sku=sku, quantity=from_storage, location="storage", reason="expired")
            left = gone - from_storage
            for s in self.slots.values():
                if left and s.sku == sku and s.count:
                    take = min(left, s.count)
                    s.count -= take
                    left -= take
                    self._emit(ev.StockLost, sku=sku, quantity=take, location=f"{self.machine_id}:{s.slot}",
                               reason="expired")

    # --- actions (called by the backend adapters) -----------------------------------------------
    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        receipt, at = self.suppliers.quote(supplier=supplier, items=items, now=self.now)
        self.schedule(at, self._answer_quote, receipt.quote_id)
        return receipt

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        receipt, at = self.suppliers.counter(quote_id=quote_id, offers=unit_costs_cents, now=self.now)
        self.schedule(at, self._answer_quote, receipt.quote_id)
        return receipt

    def _answer_quote(self, quote_id: str) -> None:
        """A supplier's e-mail with a quote arrives."""
        q, counter_of = self.suppliers.answer(quote_id)
        self._emit(ev.QuoteReceived, quote_id=q.quote_id, supplier=q.supplier, lines=q.lines,
                   lead_time_days=q.lead_time_days, valid_until=q.valid_until, text=q.text, counter_of=counter_of)

    def place_order(self, *, quote_id: str, idempotency_key: str) -> Any:
        day = self.day_index()
        q = self.suppliers.quotes.get(quote_id)
        lead = q.lead_time_days if q else 0
        when = expected_delivery(self.now, lead, delivery_hour=self.scenario.world.delivery_hour, tz=self.tz)
        if q is not None and idempotency_key not in self.suppliers.orders_by_key and q.total_cents > self.bank:
            raise ToolError(f"insufficient funds: the order is {q.total_cents}c, the bank has {self.bank}c")
        receipt, shipments, new = self.suppliers.order(quote_id=quote_id, idempotency_key=idempotency_key,
                                                       now=self.now, day=day, delivery_at=when)
        if new:
            self.bank -= receipt.total_cents
            self.outbox.append(ev.SupplierPaid(id=self._next_id(), ts=self.now, shop=self.shop,
                                               order_id=receipt.order_id, supplier=receipt.supplier,
                                               amount_cents=receipt.total_cents))
            for sh in shipments:
                self.schedule(when + timedelta(days=sh.delay_days) if sh.delay_days else when, self._deliver, sh)
            if shipments:
                self._receiving[receipt.order_id] = (len(shipments), {ln.sku: ln.quantity for ln in receipt.lines},
                                                     {}, receipt.total_cents)
        return receipt

    def _deliver(self, sh: Shipment) -> None:
        self.storage[sh.sku] = self.storage.get(sh.sku, 0) + sh.quantity
        shelf = self.catalogue[sh.sku].product.perishable_days
        self.batches.setdefault(sh.sku, deque()).append([self.day_index() + shelf, sh.quantity])
        self.outbox.append(ev.DeliveryReceived(id=self._next_id(), ts=self.now, shop=self.shop, order_id=sh.order_id,
                                               supplier=sh.supplier, sku=sh.sku, quantity=sh.quantity,
                                               unit_cost_cents=sh.unit_cost_cents))
        left, ordered, got, paid = self._receiving.pop(sh.order_id)
        got[sh.sku] = got.get(sh.sku, 0) + sh.quantity
        if left > 1:
            self._receiving[sh.order_id] = (left - 1, ordered, got, paid)
            return
        short = [f"{sku}: {got.get(sku, 0)} of {n}" for sku, n in ordered.items() if got.get(sku, 0) != n]
        self._emit(ev.TaskCompleted, task_id=sh.order_id, ok=not short,
                   detail=f"delivered{'; short: ' + ', '.join(short) if short else ''}; paid {paid}c")

    def charge(self, amount_cents: int, reason: str) -> int:
        """A charge outside the daily cycle (the LLM's output tokens, Vending-Bench 2): as much of
        `amount_cents` as the bank holds; returns what was paid."""
        paid = min(amount_cents, max(self.bank, 0))
        if paid > 0:
            self.bank -= paid
            self._emit(ev.FeeCharged, amount_cents=paid, reason=reason)
        return paid

    def new_task(self) -> str:
        self._tseq += 1
        return f"task-{self._tseq:05d}"

    def restock(self, task_id: str, lines: tuple[RestockLine, ...]) -> None:
        shortfalls = []
        for line in sorted(lines, key=_BY_SLOT):
            slot_name, sku, want = line.slot, line.sku, line.count
            s = self.slots[slot_name]
            if s.sku != sku:
                if s.sku and s.count:
                    self.storage[s.sku] = self.storage.get(s.sku, 0) + s.count
                    self._emit(ev.Unloaded, machine=self.machine_id, slot=slot_name, sku=s.sku, count=s.count,
                               task_id=task_id)
                s.sku, s.count = sku, 0
                s.price_cents = s.price_cents or self.catalogue[sku].product.reference_price_cents
            if line.price_cents:
                s.price_cents = line.price_cents
            take = min(want, s.capacity - s.count, self.storage.get(sku, 0))
            if take > 0:
                self.storage[sku] -= take
                s.count += take
                self.outbox.append(ev.Restocked(id=self._next_id(), ts=self.now, shop=self.shop,
                                                machine=self.machine_id, slot=slot_name, sku=sku, count=take,
                                                task_id=task_id))
            if take < want:
                shortfalls.append(f"{slot_name}: placed {max(take, 0)} of {want} {sku}")
        self.outbox.append(ev.TaskCompleted(id=self._next_id(), ts=self.now, shop=self.shop, task_id=task_id,
                                            ok=not shortfalls, detail="; ".join(shortfalls)))

    def collect_cash(self, task_id: str) -> None:
        if self.cash_jammed:
            self._emit(ev.TaskCompleted, task_id=task_id, ok=False, detail="the cash box is jammed; nothing collected")
            return
        amount, self.cash_box = self.cash_box, 0
        self.bank += amount
        if amount:
            self.outbox.append(ev.CashCollected(id=self._next_id(), ts=self.now, shop=self.shop,
                                                machine=self.machine_id, amount_cents=amount, task_id=task_id))
        self.outbox.append(ev.TaskCompleted(id=self._next_id(), ts=self.now, shop=self.shop, task_id=task_id, ok=True,
                                            detail=f"collected {amount}c"))

    # --- truth ----------------------------------------------------------------------------------
    def inventory_units(self) -> dict[str, int]:
        units = dict(self.storage)
        for s in self.slots.values():
            if s.sku and s.count:
                units[s.sku] = units.get(s.sku, 0) + s.count
        return {k: v for k, v in units.items() if v}

    def truth(self) -> dict[str, Any]:
        return {
            "bank_cents": self.bank, "card_pending_cents": self.card_unsettled, "machine_cash_cents": self.cash_box,
            "storage": {k: v for k, v in sorted(self.storage.items()) if v},
            "slots": {n: (s.sku, s.count, s.price_cents) for n, s in self.slots.items()},
        }

    def state_hash(self) -> str:
        state = {**self.truth(), "now": self.now.isoformat(), "unpaid": self.unpaid_fee_days,
                 "bankrupt": self.bankrupt, "batches": {k: list(map(list, v)) for k, v in sorted(self.batches.items())},
                 "rng": [hash_rng(r) for r in (self.rng_demand, self.rng_payment, self.weather_model.rng)],
                 "events": self._eseq, "quotes": sorted(self.suppliers.quotes),
                 "asked": sorted(self.suppliers.pending)}
        if self.extras is not None:
            state["extras"] = self.extras.state()
        if self.approver.asked:  # a run that asks nothing hashes as before there was an approver
            state["approver"] = self.approver.state()
        if self.lock_used:  # likewise a run that never locks the machine
            state["locked"] = self.machine_locked
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

    def today(self) -> date:
        return self.now.astimezone(self.tz).date()


def hash_rng(rng: Any) -> str:
    return hashlib.sha256(repr(rng.getstate()).encode()).hexdigest()[:16]
