"""The heuristic baseline: a shopkeeper with no LLM and no hidden knowledge.

Every morning it reads the machine, yesterday's sales, storage and the bank; learns demand from
its own sales (`LearnedDemand`); weekly it re-chooses the assortment (optimistic about products it
has not tried, so it explores) and prices each product at the price that maximises estimated
profit, after testing a few price levels; it restocks slots from storage, reorders ahead of each
supplier's lead time up to a cover target within what the bank can afford, believes an order has
arrived only when the books show the delivery, and collects cash. The oracle in `sim_backend`
is this same strategy with the true demand model plugged in instead of the learned one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bridge.policies.demand import LearnedDemand
from bridge.tools.executor import Toolbox

PRICE_GRID = (0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.7, 2.0, 2.4)
EXPLORE_LEVELS = (1.0, 1.25, 0.9)
DAYS_PER_LEVEL = 5
MIN_SHELF_DAYS = 30
RESERVE_CENTS = 3_000
COVER_DAYS = 7  # order cycle beyond the lead time
SAFETY_DAYS = 3
MAX_SWITCHES = 3
SWITCH_GAIN = 1.15


class Estimator(Protocol):
    def rate(self, sku: str, ref: int, price: int) -> float: ...

    def tried(self, sku: str) -> int: ...

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None: ...


@dataclass(slots=True)
class Offer:
    sku: str
    supplier: str
    unit_cost: int
    lead_days: int


def round5(cents: float) -> int:
    return max(5, int(round(cents / 5.0)) * 5)


class BaselinePolicy:
    name = "baseline"
    explore = True

    def __init__(self, *, estimator: Estimator | None = None, floor_markup: float = 1.0,
                 ceiling_cents: int = 2_000, ceiling_markup: float = 6.0) -> None:
        self.est: Estimator = estimator or LearnedDemand()
        self.floor_markup = floor_markup
        self.ceiling_cents = ceiling_cents
        self.ceiling_markup = ceiling_markup
        self.products: dict[str, dict[str, Any]] = {}
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.offers: dict[str, Offer] = {}
        self.assortment: dict[str, str] = {}  # slot -> sku
        self.price: dict[str, int] = {}
        self.level: dict[str, int] = {}  # sku -> index into EXPLORE_LEVELS while exploring
        self.level_days: dict[str, int] = {}
        self.pending: dict[str, dict[str, int]] = {}  # order id -> sku -> units
        self.offered: dict[str, int] = {}  # sku -> price in force for the day's sales
        self.sizes: dict[str, str] = {}
        self.capacity: dict[str, int] = {}
        self.days_seen = 0

    # --- the session ------------------------------------------------------------------------
    def act(self, tools: Toolbox, *, reason: str) -> int:
        if reason != "open_day":
            return 0
        call = _Caller(tools)
        if not self.products:
            self._start(call)
        machine = call("check_machine")
        today = _date(call.tools)
        self._learn(call, machine, today)
        storage = call("check_storage")
        balance = call("check_balance")
        if not self.assortment or today.weekday() == 0:
            self._choose_assortment(machine)
        self._set_prices(call, machine)
        self._restock(call, machine, storage)
        self._reorder(call, machine, storage, balance)
        if machine["cash_cents"] >= 3_000 or (today.weekday() == 4 and machine["cash_cents"] > 0):
            call("collect_cash")
        call("wait_for_next_day")
        self.days_seen += 1
        return 1

    def _start(self, call: _Caller) -> None:
        self.products = {p["sku"]: p for p in call("list_products")
                         if p["shelf_life_days"] >= MIN_SHELF_DAYS}
        self.suppliers = {s["supplier"]: s for s in call("list_suppliers")}
        for sid, sup in self.suppliers.items():
            items = {sku: 1 for sku in sup["skus"] if sku in self.products}
            if not items:
                continue
            q = call("request_quote", supplier=sid, items=items)
            if q is None:
                continue
            for line in q["lines"]:
                self._offer(line["sku"], sid, line["unit_cost_cents"], q["lead_time_days"])

    def _offer(self, sku: str, sid: str, unit: int, lead: int) -> None:
        best = self.offers.get(sku)
        # a day of lead time is worth about 1% of the unit cost
        if best is None or unit * (1 + 0.01 * lead) < best.unit_cost * (1 + 0.01 * best.lead_days):
            self.offers[sku] = Offer(sku=sku, supplier=sid, unit_cost=unit, lead_days=lead)

    # --- learning ---------------------------------------------------------------------------
    def _learn(self, call: _Caller, machine: dict[str, Any], today: date) -> None:
        for s in machine["slots"]:
            self.sizes[s["slot"]] = s["size"]
            self.capacity[s["slot"]] = s["capacity"]
        if not self.offered:
            return
        report = call("sales_report", days=1)
        yesterday = (today - timedelta(days=1)).isoformat()
        sold = (report or {}).get("days", {}).get(yesterday, {})
        left: dict[str, int] = {}
        for s in machine["slots"]:
            if s["sku"]:
                left[s["sku"]] = left.get(s["sku"], 0) + s["count"]
        sales = {sku: (sold.get(sku, {}).get("units", 0), price) for sku, price in self.offered.items()}
        censored = {sku for sku in self.offered if left.get(sku, 0) == 0}
        self.est.observe_day(today - timedelta(days=1), sales, censored)
        for sku in self.offered:
            self.level_days[sku] = self.level_days.get(sku, 0) + 1

    # --- decisions --------------------------------------------------------------------------
    def _floor(self, sku: str) -> int:
        return math.ceil(self.offers[sku].unit_cost * self.floor_markup * 1.05)

    def _ceiling(self, sku: str) -> int:
        return min(self.ceiling_cents, int(self.offers[sku].unit_cost * self.ceiling_markup))

    def best_price(self, sku: str) -> int:
        ref = self.products[sku]["reference_price_cents"]
        cost = self.offers[sku].unit_cost
        lo, hi = self._floor(sku), self._ceiling(sku)
        best, best_profit = ref, -1.0
        for mult in PRICE_GRID:
            p = min(hi, max(lo, round5(ref * mult)))
            profit = (p - cost) * self.est.rate(sku, ref, p)
            if profit > best_profit:
                best, best_profit = p, profit
        return best

    def score(self, sku: str) -> float:
        """Estimated profit a day at the best price, with an exploration bonus for the little-tried."""
        p = self.best_price(sku)
        ref = self.products[sku]["reference_price_cents"]
        rate = self.est.rate(sku, ref, p)
        if self.explore:
            rate *= 1 + 0.5 / math.sqrt(1 + self.est.tried(sku) / 7)
        return (p - self.offers[sku].unit_cost) * rate

    def _choose_assortment(self, machine: dict[str, Any]) -> None:
        candidates = [sku for sku in self.products if sku in self.offers]
        scores = {sku: self.score(sku) for sku in candidates}
        small_slots = [s for s in self.capacity if self.sizes[s] == "small"]
        large_slots = [s for s in self.capacity if self.sizes[s] != "small"]
        small = sorted((s for s in candidates if self.products[s]["size"] == "small"), key=lambda s: -scores[s])
        chosen_small = small[: len(small_slots)]
        rest = sorted((s for s in candidates if s not in chosen_small), key=lambda s: -scores[s])
        chosen_large = rest[: len(large_slots)]
        if not self.assortment:
            self.assortment = dict(zip(small_slots, chosen_small, strict=False))
            self.assortment.update(zip(large_slots, chosen_large, strict=False))
            return
        switches = 0
        for slots, chosen in ((small_slots, chosen_small), (large_slots, chosen_large)):
            incoming = [s for s in chosen if s not in self.assortment.values()]
            for new in incoming:
                if switches >= MAX_SWITCHES:
                    break
                worst = min(slots, key=lambda sl: scores.get(self.assortment.get(sl, ""), -1.0))
                if scores[new] > SWITCH_GAIN * scores.get(self.assortment.get(worst, ""), -1.0):
                    self.assortment[worst] = new
                    switches += 1

    def _target_price(self, sku: str) -> int:
        ref = self.products[sku]["reference_price_cents"]
        if self.explore:
            lv = self.level.setdefault(sku, 0)
            if lv < len(EXPLORE_LEVELS):
                if self.level_days.get(sku, 0) >= DAYS_PER_LEVEL:
                    lv = self.level[sku] = lv + 1
                    self.level_days[sku] = 0
                if lv < len(EXPLORE_LEVELS):
                    return min(self._ceiling(sku), max(self._floor(sku), round5(ref * EXPLORE_LEVELS[lv])))
        return self.best_price(sku)

    def _set_prices(self, call: _Caller, machine: dict[str, Any]) -> None:
        self.offered = {}
        for s in machine["slots"]:
            sku = self.assortment.get(s["slot"])
            if sku is None:
                continue
            target = self.price.get(sku) if sku in self.price and self.level_days.get(sku, 0) else None
            target = self._target_price(sku) if target is None or self.days_seen % 7 == 0 or \
                (self.explore and self.level.get(sku, 0) < len(EXPLORE_LEVELS)) else target
            self.price[sku] = target
            if s["price_cents"] != target:
                call("set_price", slot=s["slot"], price_cents=target)
            self.offered[sku] = target

    def _restock(self, call: _Caller, machine: dict[str, Any], storage: dict[str, int]) -> None:
        avail = dict(storage)
        lines = []
        for s in machine["slots"]:
            sku = self.assortment.get(s["slot"])
            if sku is None:
                continue
            have = s["count"] if s["sku"] == sku else 0
            room = s["capacity"] - have
            add = min(room, avail.get(sku, 0))
            if add > 0 and (s["sku"] != sku or have <= 0.6 * s["capacity"]):
                lines.append({"slot": s["slot"], "sku": sku, "count": add})
                avail[sku] -= add
        if lines:
            call("restock", slots=lines)

    def _daily_rate(self, sku: str) -> float:
        ref = self.products[sku]["reference_price_cents"]
        return self.est.rate(sku, ref, self.price.get(sku, ref))

    def _reorder(self, call: _Caller, machine: dict[str, Any], storage: dict[str, int],
                 balance: dict[str, int]) -> None:
        open_ids = {o["order_id"] for o in call("list_orders", status="open") or []}
        self.pending = {oid: lines for oid, lines in self.pending.items() if oid in open_ids}
        position = dict(storage)
        for s in machine["slots"]:
            if s["sku"]:
                position[s["sku"]] = position.get(s["sku"], 0) + s["count"]
        for lines in self.pending.values():
            for sku, n in lines.items():
                position[sku] = position.get(sku, 0) + n
        needs: dict[str, dict[str, int]] = {}
        for sku in set(self.assortment.values()):
            offer = self.offers[sku]
            rate = max(0.3, self._daily_rate(sku)) * self.assortment_slots(sku)
            reorder_point = rate * (offer.lead_days + SAFETY_DAYS)
            if position.get(sku, 0) <= reorder_point:
                up_to = rate * (offer.lead_days + COVER_DAYS + SAFETY_DAYS)
                qty = math.ceil(up_to - position.get(sku, 0))
                if qty > 0:
                    needs.setdefault(offer.supplier, {})[sku] = qty
        budget = balance["bank_cents"] - RESERVE_CENTS
        for sid, items in sorted(needs.items()):
            cost = sum(self.offers[sku].unit_cost * n for sku, n in items.items())
            minimum = self.suppliers[sid]["min_order_cents"]
            if cost < minimum:
                scale = minimum / max(cost, 1)
                if scale > 2.5:
                    continue  # not worth a minimum order yet
                items = {sku: math.ceil(n * scale) for sku, n in items.items()}
                cost = sum(self.offers[sku].unit_cost * n for sku, n in items.items())
            if cost > budget:
                scale = budget / max(cost, 1)
                items = {sku: int(n * scale) for sku, n in items.items() if int(n * scale) > 0}
                cost = sum(self.offers[sku].unit_cost * n for sku, n in items.items())
                if not items or cost < minimum:
                    continue
            q = call("request_quote", supplier=sid, items=items)
            if q is None:
                continue
            for line in q["lines"]:
                self._offer(line["sku"], sid, line["unit_cost_cents"], q["lead_time_days"])
            if q["total_cents"] > budget:
                continue
            receipt = call("place_order", quote_id=q["quote_id"])
            if receipt is not None:
                self.pending[receipt["order_id"]] = items
                budget -= q["total_cents"]

    def assortment_slots(self, sku: str) -> int:
        return sum(1 for s in self.assortment.values() if s == sku)


class _Caller:
    """Calls a tool; a refused or failed call returns None (the baseline carries on)."""

    def __init__(self, tools: Toolbox) -> None:
        self.tools = tools

    def __call__(self, name: str, **args: Any) -> Any:
        result = self.tools.call(name, args)
        return result.value if result.ok else None


def _date(tools: Toolbox) -> date:
    now: datetime = tools.clock.now()
    return now.date() if now.tzinfo is None else now.astimezone(now.tzinfo).date()
