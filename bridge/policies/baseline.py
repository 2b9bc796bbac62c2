"""The heuristic baseline: a shopkeeper with no LLM and no hidden knowledge.

Every morning it reads the machine, yesterday's sales, storage and the bank; learns demand from
its own sales (`LearnedDemand`); weekly (twice a week in its first eight weeks) it re-chooses the
assortment by estimated profit at the upper confidence bound of each product's rate (one standard
error: a product little tried, or dropped after a few unlucky days, gets tried again before the
well-known mediocre ones), never dropping a product bought for its trial before it has been on
sale, and keeps a slot's outgoing product on sale until the incoming one has arrived. A new
product sells three weeks at its usual price, then at the price that maximises estimated profit,
dithered a little either side; it restocks slots from storage, reorders ahead of each
supplier's lead time up to a cover target within what the bank can afford (a product on trial:
its lead time plus a few days), meeting a cheap supplier's minimum with up to three weeks of the
products past their three weeks at the usual price rather than paying a dearer supplier's premium,
believes an order has arrived only when the books show the delivery, and collects cash. The oracle
in `sim_backend` is this same strategy with the true demand model plugged in instead of the learned one.

Buying is asynchronous, as the Procurement port is on both sides: the morning's plan asks suppliers
for quotes (`bridge/policies/awaited.py`), and the order is placed in the session that finds the
answer in the inbox (the runtime wakes the policy for "messages" when notices wait), within what
the bank holds then. On its first day the shop asks every supplier for its prices and makes its
first plan once those answers are in.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bridge.policies.awaited import Ask, Awaited
from bridge.policies.demand import PRIOR_RATE, LearnedDemand, clamp
from bridge.policies.trust import SupplierTrust
from bridge.tools.executor import Toolbox
from bridge.tools.paging import every, read_all_inbox

PRICE_GRID = (0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.05, 1.15, 1.3, 1.45, 1.6, 1.8, 2.0, 2.4)
EXPLORE_LEVELS = (1.0,)  # a product on trial sells at the usual retail price; its slope comes from its category
EXPLORE_DAYS = 20  # days (three weeks) a new product sells at the usual price before its own optimum and the dither
EXPLORE_Z = 1.0  # standard errors of a product's rate added to it when choosing the assortment
DITHER = 0.06  # half-width of the price dither: its cost grows with its square
DITHER_DAYS = 3  # days at each side of the dither
MIN_SHELF_DAYS = 30
RESERVE_CENTS = 3_000
COVER_DAYS = 7  # order cycle beyond the lead time
SAFETY_DAYS = 3
STOCKED_BONUS = 1.3  # score boost for products with stock in storage
MAX_DOUBLES = 2  # products that may take a second slot
SELLOUT_SHARE = 0.6  # expected daily sales above this share of a slot's capacity: give it a second slot
MAX_TOP_UP = 2.0  # an order may be scaled up this much to meet a supplier's minimum
TRIAL_DAYS = 4  # a product sold for fewer days than this is on trial: buy its lead time plus this many days
MAX_SWITCHES = 2  # per review once the shop has settled
EARLY_SWITCHES = 4  # per review in the first EARLY_DAYS, reviewed twice a week
EARLY_DAYS = 56
SWITCH_GAIN = 1.15
TOP_UP_DAYS = 21  # a supplier's minimum is met with up to this many days of an established product


class Estimator(Protocol):
    def rate(self, sku: str, ref: int, price: int) -> float: ...

    def tried(self, sku: str) -> int: ...

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        """(units a day at the reference price, elasticity)."""
        ...

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None: ...


@dataclass(slots=True)
class Offer:
    sku: str
    supplier: str
    unit_cost: int
    lead_days: int


@dataclass(frozen=True, slots=True)
class Menu:
    """A product's price bounds and the grid prices within them, kept until its offer or the prices
    paid for it change; each grid price with what its profit needs that does not change with the
    fit: its margin over the unit cost (a float: times a float, the same as the int) and its ratio
    to the usual retail price."""

    floor: int  # above the guardrail's floor, which counts the dearest stock on hand
    ceiling: int
    points: tuple[tuple[int, float, float], ...]  # (price, price - unit cost, price / reference price)
    unit: int = 0  # the unit cost the margins are counted from
    prices: tuple[int, ...] = ()  # the points' prices, ascending


def round5(cents: float) -> int:
    rounded: int = round(cents / 5.0) * 5
    return rounded if rounded > 5 else 5  # max(5, rounded)


class BaselinePolicy:
    name = "baseline"
    explore = True

    def __init__(self, *, estimator: Estimator | None = None, floor_markup: float = 1.0,
                 ceiling_cents: int = 2_000, ceiling_markup: float = 6.0, trust: SupplierTrust | None = None,
                 desk: Any = None) -> None:
        self.est: Estimator = estimator or LearnedDemand()
        self.trust = trust  # an open market: suppliers that may not deliver (bridge/policies/trust.py)
        self.desk = desk  # customers in chat (bridge/policies/desk.py)
        self.floor_markup = floor_markup
        self.ceiling_cents = ceiling_cents
        self.ceiling_markup = ceiling_markup
        self.products: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, int] = {}  # sku -> its usual retail price (reference price)
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.offers: dict[str, Offer] = {}
        self.paid: dict[str, list[int]] = {}  # sku -> unit costs of the last orders
        self.quoted: dict[str, dict[str, tuple[int, int]]] = {}  # sku -> supplier -> (unit cost, lead days)
        self.assortment: dict[str, str] = {}  # slot -> sku
        self.price: dict[str, int] = {}
        self.pending: dict[str, dict[str, int]] = {}  # order id -> sku -> units
        self.offered: dict[str, int] = {}  # sku -> price in force for the day's sales
        self.sizes: dict[str, str] = {}
        self.capacity: dict[str, int] = {}
        self.days_seen = 0
        self._best: dict[tuple[str, int, int], int] = {}
        self._menus: dict[str, Menu] = {}  # sku -> its price menu, until its offer or the prices paid change
        self._grids: dict[tuple[int, int, int], tuple[int, ...]] = {}
        self._rank: dict[str, list[str]] = {}  # sku -> `_ranked`, until its quotes change
        self._phase: dict[str, int] = {}  # sku -> its dither phase offset
        self._scores: dict[str, tuple[tuple[float, float], int, int, float]] = {}  # sku -> (fit, unit cost, tried, score)
        self._evidence = getattr(self.est, "evidence", None)  # an estimator that knows how sure it is
        self.awaited = Awaited(trust=trust)  # quotes asked and not answered yet
        self.plan_due = False  # the morning came; the day's plan waits for the first prices

    @property
    def wakes_for(self) -> frozenset[str]:
        """The reasons `act` does anything for (bridge.policies.base.jobs_for): the morning session, and
        messages (quotes answered, customers)."""
        return frozenset(("open_day", "messages"))

    # --- the session ------------------------------------------------------------------------
    def act(self, tools: Toolbox, *, reason: str) -> int:
        if reason not in ("open_day", "messages"):
            return 0
        call = _Caller(tools)
        today = _date(tools)
        if not self.products:
            self._start(call, today)
        self.awaited.forget_stale(today)
        if reason == "open_day" and not self.offers and not self.awaited.open("survey"):
            self._survey(call, today)  # nobody answered the opening survey (live: ops never relayed it)
        inbox = read_all_inbox(call)
        self._quotes_in(call, [n["quote"] for n in inbox if "quote" in n])
        if self.desk is not None:
            self.desk.handle(call, self, inbox)
        if reason == "open_day":
            self.plan_due = True
        if not (self.plan_due and self.offers and not self._surveying()):
            return 1 if inbox or reason == "open_day" else 0
        self.plan_due = False
        self._plan(call, today)
        if reason == "open_day":
            call("wait_for_next_day")
        return 1

    def _plan(self, call: _Caller, today: date) -> None:
        """The day's work: learn from yesterday, choose the assortment, price and restock, ask for
        the quotes to reorder, collect cash."""
        machine = call("check_machine")
        self._learn(call, machine, today)
        storage = call("check_storage")
        balance = call("check_balance")
        review_days = (0, 3) if self.days_seen < EARLY_DAYS else (0,)
        if not self.assortment or today.weekday() in review_days:
            self._choose_assortment(machine, storage)
        self._prices_and_restock(call, machine, storage)
        self._reorder(call, machine, storage, balance, today)
        if machine["cash_cents"] >= 3_000 or (today.weekday() == 4 and machine["cash_cents"] > 0):
            call("collect_cash")
        self.days_seen += 1

    def _start(self, call: _Caller, today: date) -> None:
        self.products = {p["sku"]: p for p in every(call, "list_products") or []
                         if p["shelf_life_days"] >= MIN_SHELF_DAYS}
        self.refs = {sku: p["reference_price_cents"] for sku, p in self.products.items()}
        learned = getattr(self.est, "categories", None)
        if isinstance(learned, dict):
            learned.update({sku: p["category"] for sku, p in self.products.items()})
        refs = getattr(self.est, "refs", None)
        if isinstance(refs, dict):
            refs.update(self.refs)
        self.suppliers = {s["supplier"]: s for s in every(call, "list_suppliers") or []}
        if not self.suppliers:  # a directory to find suppliers in, not one handed over: search it
            self.suppliers = self._discover(call)
        self._survey(call, today)

    def _discover(self, call: _Caller) -> dict[str, dict[str, Any]]:
        """Search the directory for each category the shop might carry; the suppliers found are listed."""
        for category in sorted({p["category"] for p in self.products.values()}):
            call("search_suppliers", query=f"{category} wholesale")
        return {s["supplier"]: s for s in every(call, "list_suppliers") or []}

    def _survey(self, call: _Caller, today: date) -> None:
        """Ask every supplier the prices of what it sells that the shop might carry."""
        for sid, sup in self.suppliers.items():
            items = {sku: 1 for sku in sup["skus"] if sku in self.products}
            if items:
                self._ask(call, sid, items, "survey", today)

    def _surveying(self) -> bool:
        """A supplier's first answer to the opening survey is still awaited."""
        return any(a.best is None for a in self.awaited.open("survey"))

    # --- quotes: asked now, acted on when they arrive -------------------------------------------
    def _ask(self, call: _Caller, sid: str, items: dict[str, int], purpose: str, today: date) -> bool:
        ok, error = self.awaited.ask(call.tools, supplier=sid, items=items, purpose=purpose, today=today,
                                     haggle=self.trust is not None)
        if not ok and self.trust is not None and "bounced" in error:
            self._forget(self.trust.drop(sid, "mail bounced"))
        return ok

    def _acceptable(self, ask: Ask, q: dict[str, Any]) -> bool:
        """Not an absurd quote (an open market: see bridge/policies/trust.py). The opening survey's
        answers come in any order, so each is judged against the usual retail prices alone, not
        against whichever supplier happened to answer first (a scammer's bait prices, maybe)."""
        if self.trust is None or ask.purpose not in ("survey", "order"):
            return True
        known = {} if ask.purpose == "survey" else {
            sku: self.offers[sku].unit_cost for sku in ask.items if sku in self.offers}
        retail = {sku: self.refs[sku] for sku in ask.items if sku in self.refs}
        return not self.trust.absurd(q, known, retail)

    def _quotes_in(self, call: _Caller, quotes: list[dict[str, Any]]) -> None:
        """Answered quotes: learn their prices; order those asked for an order; the desk's to the desk."""
        orders = []
        for quote in quotes:
            done = self.awaited.settle(call.tools, quote, self._acceptable)
            if done is None:
                continue
            ask, q = done
            if ask.purpose not in ("survey", "order"):
                if self.desk is not None:
                    self.desk.quoted(call, self, ask, q)
                continue
            if q is None:
                continue
            for line in q["lines"]:
                self._offer(line["sku"], ask.supplier, line["unit_cost_cents"], q["lead_time_days"])
            if ask.purpose == "order":
                orders.append((ask, q))
        if orders:
            self._order(call, orders)

    def _order(self, call: _Caller, orders: list[tuple[Ask, dict[str, Any]]]) -> None:
        """Order answered quotes within what the bank holds now, less orders placed and not yet paid."""
        balance = call("check_balance") or {}
        unpaid = sum(o["total_cents"] for o in every(call, "list_orders", status="open") or [] if o["status"] == "placed")
        budget = balance.get("bank_cents", 0) - RESERVE_CENTS - unpaid
        for ask, q in orders:
            if q["total_cents"] > budget:
                continue
            receipt = call("place_order", quote_id=q["quote_id"])
            if receipt is None:
                continue
            if self.trust is not None:
                self.trust.order_placed(receipt["order_id"], ask.supplier)
            self.pending[receipt["order_id"]] = {ln["sku"]: ln["quantity"] for ln in q["lines"]}
            for line in q["lines"]:
                self._paid(line["sku"], line["unit_cost_cents"])
            budget -= q["total_cents"]

    def _forget(self, suppliers: set[str]) -> None:
        """Stop buying from suppliers: re-pick each product's best offer among the rest."""
        self._rank.clear()
        for sid in suppliers:
            for sku, quotes in self.quoted.items():
                old = self.offers.get(sku)
                if quotes.pop(sid, None) is not None and old is not None and old.supplier == sid:
                    del self.offers[sku]
                    self._menus.pop(sku, None)
                    for other, (unit, lead) in quotes.items():
                        self._offer(sku, other, unit, lead)
                    if sku not in self.offers:  # nobody else sells it: keep pricing it, never reorder it
                        self.offers[sku] = old

    def _offer(self, sku: str, sid: str, unit: int, lead: int) -> None:
        self.quoted.setdefault(sku, {})[sid] = (unit, lead)
        self._rank.pop(sku, None)
        best = self.offers.get(sku)
        # a day of lead time is worth about 1% of the unit cost
        if best is None or unit * (1 + 0.01 * lead) < best.unit_cost * (1 + 0.01 * best.lead_days):
            self.offers[sku] = Offer(sku=sku, supplier=sid, unit_cost=unit, lead_days=lead)
            if best is None or unit != best.unit_cost:
                self._menus.pop(sku, None)

    # --- learning ---------------------------------------------------------------------------
    def _learn(self, call: _Caller, machine: dict[str, Any], today: date) -> None:
        """Yesterday's sales against the prices customers actually saw: this morning's slot
        prices, unchanged since yesterday's session (a refused price change is not assumed)."""
        for s in machine["slots"]:
            self.sizes[s["slot"]] = s["size"]
            self.capacity[s["slot"]] = s["capacity"]
        if not self.offered:
            return
        report = call("sales_report", days=1)
        yesterday = (today - timedelta(days=1)).isoformat()
        sold: dict[str, Any] = next((d["products"] for d in (report or {}).get("items", []) if d["date"] == yesterday), {})
        left: dict[str, int] = {}
        price: dict[str, int] = {}
        for s in machine["slots"]:
            if s["sku"]:
                left[s["sku"]] = left.get(s["sku"], 0) + s["count"]
                seen, lowest = s["price_cents"], price.get(s["sku"])
                price[s["sku"]] = seen if lowest is None or seen < lowest else lowest
        sales: dict[str, tuple[int, int]] = {}
        for sku in self.offered:
            if sku in price:
                row = sold.get(sku)
                sales[sku] = (0 if row is None else row.get("units", 0), price[sku])
        censored = {sku for sku in sales if left.get(sku, 0) == 0}
        self.est.observe_day(today - timedelta(days=1), sales, censored)

    # --- decisions --------------------------------------------------------------------------
    def _menu(self, sku: str) -> Menu:
        found = self._menus.get(sku)
        if found is None:
            unit = self.offers[sku].unit_cost
            paid = max(self.paid.get(sku, ()), default=unit)
            cheapest = min(self.paid.get(sku, ()), default=unit)
            floor = math.ceil(max(paid, unit) * self.floor_markup * 1.05)
            # stock bought cheaper than the offer now in force (from a supplier since dropped) may still
            # be on hand: the guardrail's ceiling counts its cost
            ceiling = min(self.ceiling_cents, int(min(unit, cheapest) * self.ceiling_markup))
            ref = self.refs[sku]
            grid = self._grid(ref, floor, ceiling)
            found = self._menus[sku] = Menu(floor=floor, ceiling=ceiling, points=tuple(
                (p, float(p - unit), p / ref) for p in grid), unit=unit, prices=grid)
        return found

    def best_price(self, sku: str, tried: int | None = None) -> int:
        """`_best_price`, kept per days tried and unit cost; `tried`: the estimator's, when the
        caller has it already."""
        key = (sku, self.est.tried(sku) if tried is None else tried, self.offers[sku].unit_cost)
        price = self._best.get(key)
        if price is None:
            price = self._best[key] = self._best_price(sku)
        return price

    def _best_price(self, sku: str) -> int:
        """The grid price with the highest estimated profit a day, within floor and ceiling (the
        lowest of equals). The profit (p - c) * a * (p / ref) ** -e rises with p up to c * e / (e - 1)
        and falls after it (e > 1; Lerner's rule for a constant elasticity), so only the grid's two
        prices either side of that optimum are compared; otherwise every grid price."""
        ref = self.refs[sku]
        a, e = self.est.fit(sku, ref)
        minus_e = -e
        best, best_profit = ref, -1.0
        menu = self._menus.get(sku) or self._menu(sku)  # the cached menu without a call
        points = menu.points
        if a > 0 and e > 1:
            i = bisect_left(menu.prices, menu.unit * e / (e - 1))
            points = points[i - 1:i + 1] if i else points[:1]
        for p, margin, ratio in points:
            profit = margin * a * ratio ** minus_e  # (p - cost) * a * (p / ref) ** -e
            if profit > best_profit:
                best, best_profit = p, profit
        return best

    def _grid(self, ref: int, lo: int, hi: int) -> tuple[int, ...]:
        key = (ref, lo, hi)
        grid = self._grids.get(key)
        if grid is None:
            grid = self._grids[key] = tuple(sorted({min(hi, max(lo, round5(ref * m))) for m in PRICE_GRID}))
        return grid

    def score(self, sku: str) -> float:
        """Estimated profit a day at the best price, with an exploration bonus for the little-tried.
        Kept while the estimator hands back the very same fit object and the unit cost and days
        tried are unchanged: the best price, the rate and the evidence read nothing else
        (`LearnedDemand` keeps a fit until a day's sales change it; an estimator that builds a new
        fit each time is scored afresh each time)."""
        ref = self.refs[sku]
        fit = self.est.fit(sku, ref)
        unit = self.offers[sku].unit_cost
        tried = self.est.tried(sku)
        found = self._scores.get(sku)
        if found is not None and found[0] is fit and found[1] == unit and found[2] == tried:
            return found[3]
        p = self.best_price(sku, tried)
        rate = self.est.rate(sku, ref, p)
        if self.explore and self._evidence is not None:
            # the rate's relative standard error is 1 / sqrt(units behind it) (a Poisson rate)
            rate *= 1 + EXPLORE_Z / math.sqrt(self._evidence(sku, ref))
        value = (p - unit) * rate
        self._scores[sku] = (fit, unit, tried, value)
        return value

    def _choose_assortment(self, machine: dict[str, Any], storage: dict[str, int]) -> None:
        candidates = [sku for sku in self.products if sku in self.offers]
        # stock already paid for sells without tying up more cash: prefer it
        scores = {sku: self.score(sku) * (STOCKED_BONUS if storage.get(sku, 0) >= 5 else 1.0)
                  for sku in candidates}
        small_slots = [s for s in self.capacity if self.sizes[s] == "small"]
        large_slots = [s for s in self.capacity if self.sizes[s] != "small"]
        first = not self.assortment

        def order(skus: list[str]) -> list[str]:
            return self._diverse(skus, scores) if first else sorted(skus, key=scores.__getitem__, reverse=True)

        chosen_small = order([s for s in candidates if self.products[s]["size"] == "small"])[: len(small_slots)]
        chosen_large = order([s for s in candidates if s not in chosen_small])[: len(large_slots)]
        if not self.assortment:
            self.assortment = dict(zip(small_slots, chosen_small, strict=False))
            self.assortment.update(zip(large_slots, chosen_large, strict=False))
            return
        self._undouble()
        limit = EARLY_SWITCHES if self.days_seen < EARLY_DAYS else MAX_SWITCHES
        switches = 0
        for slots, chosen in ((small_slots, chosen_small), (large_slots, chosen_large)):
            incoming = [s for s in chosen if s not in self.assortment.values()]
            for new in incoming:
                if switches >= limit:
                    break
                movable = [sl for sl in slots if storage.get(self.assortment.get(sl, ""), 0) < self.capacity[sl]
                           and not self._awaited(self.assortment.get(sl, ""), storage)]
                if not movable:
                    break
                worst = min(movable, key=lambda sl: scores.get(self.assortment.get(sl, ""), -1.0))
                if scores[new] > SWITCH_GAIN * scores.get(self.assortment.get(worst, ""), -1.0):
                    self.assortment[worst] = new
                    switches += 1
        self._double(scores)

    def _awaited(self, sku: str, storage: dict[str, int]) -> bool:
        """Bought for its trial and not yet on sale: it has not been judged yet."""
        return self.est.tried(sku) == 0 and (storage.get(sku, 0) > 0
                                             or any(sku in lines for lines in self.pending.values())
                                             or any(sku in a.items for a in self.awaited.open("order")))

    def _undouble(self) -> None:
        seen: set[str] = set()
        for slot in sorted(self.assortment):
            sku = self.assortment[slot]
            if sku in seen:
                del self.assortment[slot]
            seen.add(sku)

    def _double(self, scores: dict[str, float]) -> None:
        """A product likely to sell out its slot most days takes a second slot from the weakest
        product, when that product earns less than half what the seller does."""
        singles = [sku for sku in set(self.assortment.values()) if self.assortment_slots(sku) == 1]
        pressure = {}
        for slot, sku in self.assortment.items():
            if sku in singles:
                rate = self.est.rate(sku, self.refs[sku], self.best_price(sku))
                pressure[sku] = rate / self.capacity[slot]
        sellers = sorted((s for s in pressure if pressure[s] >= SELLOUT_SHARE), key=lambda s: -pressure[s])
        for sku in sellers[:MAX_DOUBLES]:
            fits = [sl for sl, o in self.assortment.items() if o != sku and self.assortment_slots(o) == 1
                    and o not in sellers and (self.products[sku]["size"] == "small" or self.sizes[sl] != "small")]
            if not fits:
                continue
            weakest = min(fits, key=lambda sl: scores.get(self.assortment[sl], 0.0))
            if scores.get(self.assortment[weakest], 0.0) < 0.5 * scores.get(sku, 0.0):
                self.assortment[weakest] = sku
        for slot in self.capacity:
            if slot not in self.assortment:
                spare = [s for s in sorted(scores, key=lambda k: -scores[k]) if s not in self.assortment.values()
                         and (self.products[s]["size"] == "small" or self.sizes[slot] != "small")]
                if spare:
                    self.assortment[slot] = spare[0]

    def _diverse(self, skus: list[str], scores: dict[str, float]) -> list[str]:
        """Best first, but one product per category before a second of any (variety)."""
        by_cat: dict[str, list[str]] = {}
        for sku in sorted(skus, key=lambda s: -scores[s]):
            by_cat.setdefault(self.products[sku]["category"], []).append(sku)
        out: list[str] = []
        while any(by_cat.values()):
            for cat in sorted(by_cat, key=lambda c: -scores[by_cat[c][0]] if by_cat[c] else 0):
                if by_cat[cat]:
                    out.append(by_cat[cat].pop(0))
        return out

    def _target_price(self, sku: str) -> int:
        """A product on trial sells at the reference price (its demand level is what the trial
        measures; its elasticity comes from its category's pooled evidence); after the trial the
        price alternates a little either side of the estimated optimum, every few days, which keeps
        the price experiment uncorrelated with seasons, weather runs and assortment changes."""
        if not self.explore:
            return self.best_price(sku)
        offset = self._phase.get(sku)
        if offset is None:
            offset = self._phase[sku] = zlib.crc32(sku.encode()) % 3
        phase = self.days_seen + offset
        tried = self.est.tried(sku)
        if tried < EXPLORE_DAYS:
            target = self.refs[sku] * EXPLORE_LEVELS[phase % len(EXPLORE_LEVELS)]
        else:
            target = self.best_price(sku, tried) * (1 + (DITHER if (phase // DITHER_DAYS) % 2 else -DITHER))
        menu = self._menus.get(sku) or self._menu(sku)  # the cached menu without a call
        return clamp(menu.floor, round5(target), menu.ceiling)

    def _prices_and_restock(self, call: _Caller, machine: dict[str, Any], storage: dict[str, int]) -> None:
        """Price the products already in their slots; load new ones with their price set as the
        restocker loads them (a price set before loading would apply to the old product)."""
        self.offered = offered = {}
        avail = dict(storage)
        lines = []
        for s in machine["slots"]:
            slot, loaded = s["slot"], s["sku"]
            sku = self.assortment.get(slot)
            if sku is None:
                continue
            if loaded is not None and loaded != sku and not avail.get(sku) and loaded in self.offers:
                sku = loaded  # the incoming product has not arrived: the outgoing one sells on meanwhile
            target = self._target_price(sku)
            self.price[sku] = target
            have = s["count"] if loaded == sku else 0
            room, stock = s["capacity"] - have, avail.get(sku, 0)
            add = stock if stock < room else room
            if loaded == sku:
                if s["price_cents"] != target:
                    call("set_price", slot=slot, price_cents=target)
                if add > 0:
                    lines.append({"slot": slot, "sku": sku, "count": add})
            elif add > 0:
                lines.append({"slot": slot, "sku": sku, "count": add, "price_cents": target})
            if add > 0:
                avail[sku] -= add
            if have > 0 or add > 0:  # have + max(add, 0) > 0: a slot's count is never negative
                offered[sku] = target
        if lines:
            call("restock", slots=lines)

    def _reorder(self, call: _Caller, machine: dict[str, Any], storage: dict[str, int],
                 balance: dict[str, int], today: date) -> None:
        """Ask for the quotes of the orders due: products at their reorder point, counting what is
        on order and what is asked and not yet answered (ordered when the answer comes)."""
        open_orders = list(reversed(every(call, "list_orders", status="open") or []))  # as placed, oldest first
        if self.trust is not None:
            self._forget(self.trust.review(call, open_orders, call.tools.clock.now()))
        open_ids = {o["order_id"] for o in open_orders}
        self.pending = {oid: lines for oid, lines in self.pending.items() if oid in open_ids}
        position = dict(storage)
        for s in machine["slots"]:
            if s["sku"]:
                position[s["sku"]] = position.get(s["sku"], 0) + s["count"]
        asked = self.awaited.open("order")
        for lines in [*self.pending.values(), *(a.items for a in asked)]:
            for sku, n in lines.items():
                position[sku] = position.get(sku, 0) + n
        busy = [*open_orders, *({"order_id": "", "supplier": a.supplier} for a in asked)]
        slots: dict[str, int] = {}
        for sku in self.assortment.values():
            slots[sku] = slots.get(sku, 0) + 1
        targets: dict[str, tuple[float, float, float]] = {}  # sku -> (reorder point, order-up-to, most to top up to), in units
        for sku in set(self.assortment.values()):
            tried = self.est.tried(sku)
            on_trial = self.explore and tried < TRIAL_DAYS
            ref = self.refs[sku]
            rate = self.est.rate(sku, ref, self.price.get(sku, ref))
            if on_trial and rate > PRIOR_RATE:
                rate = PRIOR_RATE  # no optimism when buying stock for a trial
            rate *= slots[sku]
            if not rate > 0.3:
                rate = 0.3
            lead = self.offers[sku].lead_days
            up_to = rate * (lead + COVER_DAYS + SAFETY_DAYS)
            if on_trial:
                trial_up_to = rate * (lead + TRIAL_DAYS)
                if trial_up_to < up_to:
                    up_to = trial_up_to
            # a product still selling at its usual price may yet be dropped: more of it than its
            # order would wait in storage, some of it until it expires
            settled = not self.explore or tried >= EXPLORE_DAYS
            top_up_to = rate * TOP_UP_DAYS
            most = top_up_to if settled and top_up_to > up_to else up_to  # max(up_to, top_up_to) if settled
            targets[sku] = (rate * (lead + SAFETY_DAYS), up_to, most)
        budget = balance["bank_cents"] - RESERVE_CENTS
        for sid, items in self._joint_orders(targets, position, budget):
            if self.trust is not None:
                items = self.trust.limit(sid, items, partial(self._unit, sid=sid), busy)
                if not items:
                    continue
            cost = sum(self._unit(sku, sid) * n for sku, n in items.items())
            if cost > budget:
                continue
            if self._ask(call, sid, items, "order", today):
                budget -= cost

    def _paid(self, sku: str, unit: int) -> None:
        """Remember the unit cost of an order (the last three count for the price floor)."""
        before = self.paid.get(sku, [])
        after = self.paid[sku] = [*before[-2:], unit]
        if not before or max(after) != max(before):
            self._menus.pop(sku, None)

    def _unit(self, sku: str, sid: str) -> int:
        return self.quoted[sku][sid][0]

    def _joint_orders(self, targets: dict[str, tuple[float, float, float]], position: dict[str, int],
                      budget: int) -> list[tuple[str, dict[str, int]]]:
        """Joint replenishment: when any product from a supplier reaches its reorder point, order
        every product from that supplier up to its target, topped up to the supplier's minimum
        order (with more of the established products, up to TOP_UP_DAYS of each, else by scaling
        the whole order up to MAX_TOP_UP) and cut to what the bank can pay; a product whose supplier's minimum cannot be met
        either way goes to the next supplier."""
        if not any(position.get(sku, 0) <= point for sku, (point, _, _) in targets.items()):
            return []  # nothing at its reorder point
        orders: dict[str, dict[str, int]] = {}
        todo = {sku: self._ranked(sku) for sku in targets}
        for _ in range(3):
            by_sup: dict[str, list[str]] = {}
            for sku, ranked in todo.items():
                if ranked:
                    by_sup.setdefault(ranked[0], []).append(sku)
            todo = {}
            for sid, skus in sorted(by_sup.items()):
                if not any(position.get(sku, 0) <= targets[sku][0] for sku in skus):
                    continue
                items = {sku: math.ceil(targets[sku][1] - position.get(sku, 0)) for sku in skus}
                items = {sku: n for sku, n in items.items() if n > 0}
                total = sum(self._unit(sku, sid) * n for sku, n in items.items())
                minimum = self.suppliers[sid]["min_order_cents"]
                if 0 < total < minimum:
                    # more of the products it knows sell, up to TOP_UP_DAYS of sales each, costs
                    # less than the dearer supplier's premium on every unit
                    room = {sku: math.floor(targets[sku][2] - position.get(sku, 0)) - items.get(sku, 0) for sku in skus}
                    room = {sku: n for sku, n in room.items() if n > 0}
                    spare = sum(self._unit(sku, sid) * n for sku, n in room.items())
                    if total + spare >= minimum:
                        scale = (minimum - total) / spare
                        for sku, n in room.items():
                            items[sku] = items.get(sku, 0) + math.ceil(n * scale)
                    elif total * MAX_TOP_UP >= minimum:
                        scale = minimum / total
                        items = {sku: math.ceil(n * scale) for sku, n in items.items()}
                    total = sum(self._unit(sku, sid) * n for sku, n in items.items())
                if total > budget > 0:
                    scale = budget / total
                    items = {sku: int(n * scale) for sku, n in items.items() if int(n * scale) > 0}
                    total = sum(self._unit(sku, sid) * n for sku, n in items.items())
                if total < minimum or not items:
                    for sku in skus:
                        if position.get(sku, 0) <= targets[sku][0]:
                            ranked = self._ranked(sku)
                            todo[sku] = ranked[ranked.index(sid) + 1:]
                    continue
                orders[sid] = {**orders.get(sid, {}), **items}
                budget -= total
            if not todo:
                break
        return sorted(orders.items())

    def _ranked(self, sku: str) -> list[str]:
        """Suppliers for a product, cheapest first (a day of lead time counts as 1% of cost); kept
        until the product's quotes change (callers do not modify it)."""
        found = self._rank.get(sku)
        if found is None:
            quotes = self.quoted.get(sku, {})
            found = self._rank[sku] = sorted(quotes, key=lambda sid: quotes[sid][0] * (1 + 0.01 * quotes[sid][1]))
        return found

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
