"""A shop's history as the store has it, read into what a calibration fits: a daily panel of each
product on offer (units sold, the units it had, the price, sold out or not), the card/cash mix,
stock lost, orders and their deliveries, and how long ops took over tasks and approvals.

Only the store is read (the books' tables, the task and audit rows, and the live ingest's
`world_action` where it has rows): a simulated and a live shop are read alike.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import ConfigError

SHORTFALL = re.compile(r"(?P<slot>[A-Za-z0-9]+): placed (?P<placed>-?\d+) of (?P<want>\d+) (?P<sku>\S+)")
MACHINE_LOSSES = ("shrinkage", "temperature")  # reasons stock leaves a slot unsold


@dataclass(slots=True)
class ProductDay:
    """One product on one day it was on offer."""

    day: date
    sku: str
    units: int  # sold that day
    available: int  # units it had that day (sold + left at the day's sales moment)
    price_cents: int  # the price in force (the cheapest slot's)
    n_distinct: int  # products on offer that day

    @property
    def sold_out(self) -> bool:
        return self.units >= self.available


@dataclass(slots=True, kw_only=True)
class Order:
    supplier: str
    placed: datetime
    delivered: datetime | None
    status: str
    total_cents: int
    received_cents: int


@dataclass(slots=True, kw_only=True)
class History:
    shop: str
    tz: tzinfo
    first_day: date
    last_day: date
    panel: list[ProductDay]
    card_units: int
    cash_units: int
    lost_in_machine: int  # units gone from the machine without a sale (shrinkage and the like)
    machine_unit_weeks: float  # units in the machine at each week's end, summed: shrinkage's exposure
    orders: list[Order]
    task_minutes: dict[str, list[float]]  # task kind -> minutes from asked to done
    approval_minutes: list[float]
    daily_units: dict[date, int] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def sales_days(self) -> int:
        return sum(1 for u in self.daily_units.values() if u > 0)

    def until(self, last: date) -> History:
        """The history up to and including `last` (what a fit on all but the held-out weeks sees)."""
        return History(shop=self.shop, tz=self.tz, first_day=self.first_day, last_day=last,
                       panel=[p for p in self.panel if p.day <= last], card_units=self.card_units,
                       cash_units=self.cash_units, lost_in_machine=self.lost_in_machine,
                       machine_unit_weeks=self.machine_unit_weeks,
                       orders=[o for o in self.orders if o.placed.astimezone(self.tz).date() <= last],
                       task_minutes=self.task_minutes, approval_minutes=self.approval_minutes,
                       daily_units={d: u for d, u in self.daily_units.items() if d <= last})


@dataclass(slots=True)
class _Slot:
    sku: str = ""
    count: int = 0
    price: int = 0


def read_history(engine: Any, *, shop: str, tz: tzinfo, sales_hour: int, refs: dict[str, int]) -> History:
    """Everything a calibration needs, from a store's database. Raises ConfigError when the database
    is not a store or holds no sales of `shop`."""
    try:
        tables = set(inspect(engine).get_table_names())
    except SQLAlchemyError as err:
        raise ConfigError(f"not a readable database: {str(getattr(err, 'orig', err)).strip().splitlines()[0]}") \
            from None
    if not {"ledger_line", "task", "purchase_order", "audit_log"} <= tables:
        raise ConfigError("not a vend store (no ledger_line, task, purchase_order and audit_log tables)")
    with engine.connect() as conn:
        def q(sql: str, **params: Any) -> list[Any]:
            return list(conn.execute(text(sql), {"s": shop, **params}))

        sales = q("SELECT ts, sku, units, amount_cents, memo, debit FROM ledger_line WHERE shop = :s "
                  "AND credit = 'revenue' AND units > 0 AND memo LIKE '%:%' ORDER BY ts, id")
        if not sales:
            raise ConfigError(f"the store holds no sales of shop {shop!r}: nothing to calibrate from")
        losses = q("SELECT ts, sku, units, memo FROM ledger_line WHERE shop = :s AND debit = 'losses' "
                   "AND credit = 'inventory' AND units > 0 ORDER BY ts, id")
        tasks = q("SELECT kind, status, created_at, done_at, payload_json FROM task WHERE shop = :s")
        prices = q("SELECT ts, args_json FROM audit_log WHERE shop = :s AND tool = 'set_price' AND ok ORDER BY ts, id")
        asked = q("SELECT ts, result_json FROM audit_log WHERE shop = :s AND tool = 'request_approval' AND ok")
        decided = {r[0]: r[1] for r in q("SELECT approval_id, ts FROM approval_decision WHERE shop = :s")} \
            if "approval_decision" in tables else {}
        orders = q("SELECT order_id, supplier, status, created_at, total_cents, received_cents FROM purchase_order "
                   "WHERE shop = :s")
        lots = q("SELECT order_id, MIN(received_at) FROM inventory_lot WHERE shop = :s GROUP BY order_id") \
            if "inventory_lot" in tables else []
        actions = q("SELECT ts, kind, slot, sku, count, amount_cents FROM world_action WHERE shop = :s "
                    "AND kind IN ('restock', 'set_price') ORDER BY ts, id") if "world_action" in tables else []

    sales = [(_at(r[0]), *r[1:]) for r in sales]
    losses = [(_at(r[0]), *r[1:]) for r in losses]
    tasks = [(r[0], r[1], _at(r[2]), _ts(r[3]), r[4]) for r in tasks]
    prices = [(_at(r[0]), r[1]) for r in prices]
    asked = [(_at(r[0]), r[1]) for r in asked]
    decided = {k: _ts(v) for k, v in decided.items()}
    orders = [(r[0], r[1], r[2], _at(r[3]), r[4], r[5]) for r in orders]
    lots = [(r[0], _ts(r[1])) for r in lots]
    actions = [(_at(r[0]), *r[1:]) for r in actions]

    # the happenings that move a slot, in time order: (ts, order, kind, data)
    moves: list[tuple[datetime, int, str, Any]] = []
    if actions:  # the live ingest saw each restock and price change itself
        for ts, kind, slot, sku, count, amount in actions:
            moves.append((ts, 0, "restock" if kind == "restock" else "price", (slot, sku, count, amount)))
    else:
        for kind, _status, _created, done, payload in tasks:
            if kind != "restock" or done is None:
                continue
            body = _json(payload)
            short = {m["slot"]: int(m["placed"]) for m in SHORTFALL.finditer(str(body.get("detail", "")))}
            for line in body.get("lines", []):
                slot, sku = str(line.get("slot", "")), str(line.get("sku", ""))
                placed = max(0, short.get(slot, int(line.get("count", 0) or 0)))
                moves.append((done, 0, "restock", (slot, sku, placed, int(line.get("price_cents", 0) or 0))))
        for ts, args in prices:
            a = _json(args)
            moves.append((ts, 1, "price", (str(a.get("slot", "")), "", 0, int(a.get("price_cents", 0) or 0))))
    for ts, sku, units, amount, memo, _debit in sales:
        moves.append((ts, 2, "sale", (str(memo).split(":", 1)[1], sku, units, amount // units)))
    for ts, sku, units, memo in losses:
        if str(memo) in MACHINE_LOSSES:
            moves.append((ts, 3, "loss", ("", sku, units, 0)))
    moves.sort(key=lambda m: (m[0], m[1]))

    card = sum(u for _, _, u, _, _, debit in sales if debit == "card_pending")
    cash = sum(u for _, _, u, _, _, debit in sales if debit == "machine_cash")
    lost = sum(u for _, _, u, memo in losses if str(memo) == "shrinkage")

    first = sales[0][0].astimezone(tz).date()
    last_move = max(m[0] for m in moves).astimezone(tz).date()
    slots: dict[str, _Slot] = defaultdict(_Slot)
    panel: list[ProductDay] = []
    daily_units: dict[date, int] = {}
    unit_weeks = 0.0
    i = 0
    day = min(first, moves[0][0].astimezone(tz).date())
    sold_before: dict[str, int] = defaultdict(int)
    while day <= last_move:
        moment = datetime.combine(day, datetime.min.time(), tz) + timedelta(hours=sales_hour)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
        sold_before.clear()
        while i < len(moves) and moves[i][0] < moment:
            _apply(slots, moves[i], sold_before)
            i += 1
        # on offer at the day's sales moment: each product's units (with those it sold earlier today)
        offer: dict[str, list[int]] = {}  # sku -> [available, price]
        for s in slots.values():
            if s.sku and s.count > 0:
                o = offer.setdefault(s.sku, [0, s.price or refs.get(s.sku, 0)])
                o[0] += s.count
                if s.price:
                    o[1] = min(o[1], s.price) if o[1] else s.price
        for sku, n in sold_before.items():
            offer.setdefault(sku, [0, 0])[0] += n
        sold: dict[str, int] = defaultdict(int)
        sale_price: dict[str, int] = {}
        for sku, n in sold_before.items():
            sold[sku] += n
        while i < len(moves) and moves[i][0] < end:
            m = moves[i]
            if m[2] == "sale":
                sku = m[3][1]
                if sku not in offer:
                    offer[sku] = [0, m[3][3]]
                if m[0] < end:
                    sold[sku] += m[3][2]
                    sale_price[sku] = min(sale_price.get(sku, m[3][3]), m[3][3])
            _apply(slots, m, None)
            i += 1
        if day >= first:
            n_distinct = len(offer)
            for sku, (avail, price) in sorted(offer.items()):
                units = sold.get(sku, 0)
                price = sale_price.get(sku, price)
                if price > 0 and sku in refs:
                    panel.append(ProductDay(day=day, sku=sku, units=units, available=max(avail, units),
                                            price_cents=price, n_distinct=n_distinct))
            daily_units[day] = sum(sold.values())
            if day.weekday() == 6:
                unit_weeks += sum(s.count for s in slots.values() if s.sku and s.count > 0)
        day += timedelta(days=1)

    placed_orders: list[Order] = []
    arrived = {oid: ts for oid, ts in lots}
    for oid, supplier, status, created, total, received in orders:
        placed_orders.append(Order(supplier=supplier, placed=created, delivered=arrived.get(oid), status=str(status),
                                   total_cents=total, received_cents=received))
    minutes: dict[str, list[float]] = defaultdict(list)
    for kind, status, created, done, _ in tasks:
        if done is not None and status == "done" and kind in ("restock", "collect_cash"):
            minutes[kind].append((done - created).total_seconds() / 60)
    approvals = []
    for ts, result in asked:
        aid = _json(result).get("approval_id")
        if aid in decided and decided[aid] is not None:
            approvals.append((decided[aid] - ts).total_seconds() / 60)
    return History(shop=shop, tz=tz, first_day=first, last_day=max(daily_units), panel=panel, card_units=card,
                   cash_units=cash, lost_in_machine=lost, machine_unit_weeks=unit_weeks, orders=placed_orders,
                   task_minutes=dict(minutes), approval_minutes=approvals, daily_units=daily_units)


def _apply(slots: dict[str, _Slot], move: tuple[datetime, int, str, Any], sold_before: dict[str, int] | None) -> None:
    _, _, kind, (slot, sku, count, price) = move
    if kind == "restock":
        s = slots[slot]
        if s.sku != sku:
            s.sku, s.count = sku, 0
        s.count += count
        if price:
            s.price = price
    elif kind == "price":
        if price:
            slots[slot].price = price
    elif kind == "sale":
        s = slots[slot]
        if not s.sku:
            s.sku = sku
        s.count = max(0, s.count - count) if s.sku == sku else s.count
        if sold_before is not None:
            sold_before[sku] += count
    elif kind == "loss":
        for s in slots.values():
            if s.sku == sku and s.count > 0 and count > 0:
                take = min(s.count, count)
                s.count -= take
                count -= take


def _ts(value: Any) -> datetime | None:
    """A stored time, aware (SQLite hands raw queries naive UTC text back)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ConfigError(f"not a time in the store: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _at(value: Any) -> datetime:
    found = _ts(value)
    if found is None:
        raise ConfigError("a missing time in the store")
    return found


def _json(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
