"""Bookkeeping: events in, double-entry lines, FIFO inventory lots and stock levels out.

The ledger learns only from events. Balances follow the convention debit positive, credit
negative, so assets are positive and revenue negative. State lives in memory for speed and is
buffered into the Store, which writes it at each flush; `Ledger.load` rebuilds it after a restart.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import orjson
from sqlalchemy import text

from bridge import events as ev
from bridge.domain import OrderReceipt, OrderStatus, Payment
from bridge.store import Store

BANK = "bank"
CARD_PENDING = "card_pending"
MACHINE_CASH = "machine_cash"
INVENTORY = "inventory"
PREPAID = "prepaid_orders"
EQUITY = "equity"
REVENUE = "revenue"
COGS = "cost_of_goods"
FEES = "fees"
REFUNDS = "refunds"
LOSSES = "losses"
DEPOSITS = "customer_deposits"
TRANSFERS = "transfers"  # money sent to (debit) and received from (credit) other shopkeepers
TRADES = "trades"  # goods sold to other shopkeepers: the price in (credit), their cost out (debit)
ACCOUNTS = (BANK, CARD_PENDING, MACHINE_CASH, INVENTORY, PREPAID, EQUITY, REVENUE, COGS, FEES,
            REFUNDS, LOSSES, DEPOSITS, TRANSFERS, TRADES)
STORAGE = "storage"
DAILY_FEE = "daily_fee"  # a FeeCharged reason: the sim's daily fee; live, "daily_fee:<cost>" for each site cost
_CASH = Payment.CASH


def _dumps(value: Any) -> str:
    """Compact JSON for the books' text columns (a task's payload, an order's lines): orjson, several
    times faster than json.dumps on the ~1,500 tasks of a simulated year; read back with json.loads."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _paid_from(account: str) -> str:
    """Money out leaves the bank, or the takings a card processor holds (card_pending) for Stripe."""
    return CARD_PENDING if account == CARD_PENDING else BANK


def refund_source(card_pending_cents: int, amount_cents: int) -> str:
    """Where the simulated card processor takes a refund of a card payment from: the card takings it still
    holds when they cover it (the refund nets against the next payout, as Stripe's does), else the bank
    (the takings were paid out already). The event says which (RefundIssued.paid_from), so the books do
    not depend on the order events arrive in; live, Stripe's refunds always come out of its balance."""
    return CARD_PENDING if card_pending_cents >= amount_cents else BANK


def slot_location(machine: str, slot: str) -> str:
    return f"{machine}:{slot}"


@dataclass(slots=True)
class Lot:
    lot_id: str
    sku: str
    received_at: datetime
    qty_received: int
    qty_remaining: int
    unit_cost_cents: int
    order_id: str


@dataclass(slots=True)
class OrderBook:
    order_id: str
    supplier: str
    status: str
    created_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    total_cents: int
    received_cents: int
    lines_json: str
    prepaid_left: int = 0


class Ledger:
    """One shop's books. `record(event)` is idempotent on the event id."""

    def __init__(self, *, shop: str, store: Store, tz: tzinfo = UTC) -> None:
        self.shop = shop
        self.tz = tz
        self.daily: dict[date, dict[str, list[int]]] = defaultdict(dict)  # day -> sku -> [units, revenue]
        self.store = store
        self._claim = store.claim
        self._events = store.buffer("processed_event", ("event_id", "shop", "kind", "ts"))
        self._lines = store.buffer("ledger_line", ("event_id", "shop", "ts", "debit", "credit", "amount_cents", "sku",
                                                   "units", "memo"))
        # stock levels and lots changed since the last flush, in the order first changed: written as they
        # stand when the store flushes (what the last of their upserts would have said, once per flush)
        self._stock_changed: dict[tuple[str, str], None] = {}
        self._lots_changed: dict[str, Lot] = {}
        store.before_flush(self._write_changed)
        self.balances: dict[str, int] = defaultdict(int)
        self.stock: dict[tuple[str, str], int] = defaultdict(int)  # (location, sku) -> units
        self._storage: dict[str, int] = {}  # the storage part of `stock`, kept for quick reads
        self.lots: dict[str, deque[Lot]] = defaultdict(deque)
        self.orders: dict[str, OrderBook] = {}
        # Orders open_orders looks at: every order that is open, and maybe some that no longer are, in
        # the order of `orders` (not every order ever placed, a year's ~200). An order enters when opened
        # and again whenever a handler changes it (_recheck); open_orders drops those it finds settled.
        self._unsettled: dict[str, OrderBook] = {}
        self._unsettled_in_order = True  # False once an order came back out of turn: open_orders re-sorts
        self._paid_early: dict[str, int] = {}
        self.last_cost: dict[str, int] = {}
        self.units_sold_total = 0
        self.fee_missed_streak = 0
        self.anomalies: list[str] = []
        self._lot_seq = 0
        self._tasks: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
        self._task_text: dict[str, str] = {}  # an open task's payload as _dumps wrote it when opened
        self.approvals: dict[str, ev.ApprovalDecided] = {}  # decisions by people with the approver role
        self.slot_sold: dict[str, int] = defaultdict(int)  # "m1:A1" -> units ever sold from it
        self._sale_ts: datetime | None = None  # the time of the last sale booked, and its day's sales
        self._sale_day: dict[str, list[int]] = {}
        # Every sale is booked on the shop's local day of its own time. A day whose close is booked (the
        # runtime sets `closed_through`) can still get sales that arrive late (live: a device that was
        # offline): `late_days` says which, and the runtime amends their closes.
        self.closed_through: date | None = None
        self.late_days: set[date] = set()
        self._handlers = {
            ev.Sale: self._sale, ev.CardSettled: self._card_settled, ev.CashCollected: self._cash_collected,
            ev.FeeCharged: self._fee, ev.SupplierPaid: self._supplier_paid,
            ev.DeliveryReceived: self._delivery, ev.OrderWrittenOff: self._written_off,
            ev.Restocked: self._restocked, ev.Unloaded: self._unloaded, ev.StockLost: self._stock_lost,
            ev.PaymentReceived: self._payment_received, ev.RefundIssued: self._refund,
            ev.CapitalIn: self._capital, ev.TaskCompleted: self._task_completed,
            ev.FeeMissed: self._fee_missed, ev.HandedOver: self._handed_over,
            ev.TransferSent: self._transfer_sent,
            ev.TransferReceived: self._transfer_received, ev.GoodsSent: self._goods_sent,
            ev.GoodsReceived: self._goods_received,
            ev.DisputeOpened: self._dispute,
            ev.ApprovalDecided: self._approval_decided,
        }

    @classmethod
    def load(cls, *, shop: str, store: Store, tz: tzinfo = UTC, into: Store | None = None) -> Ledger:
        """The books as the store has them: after a restart the live shop carries on from here.
        (Whatever was buffered and not flushed before a crash was never acknowledged to its
        sender, so it arrives again and is recorded then.) `into`: a ledger that starts from these
        books and writes into another store (a shadow run's twin of the books, bridge/twin)."""
        led = cls(shop=shop, store=into or store, tz=tz)
        with store.engine.connect() as conn:
            for debit, credit, amount in conn.execute(text(
                    "SELECT debit, credit, SUM(amount_cents) FROM ledger_line WHERE shop = :s GROUP BY debit, credit"),
                    {"s": shop}):
                led.balances[debit] += int(amount)
                led.balances[credit] -= int(amount)
        for row in store.rows("stock_level", shop=shop):
            if row["count"]:
                led.stock[(row["location"], row["sku"])] = row["count"]
                if row["location"] == STORAGE:
                    led._storage[row["sku"]] = row["count"]
        lots = sorted(store.rows("inventory_lot", shop=shop), key=lambda r: (r["received_at"], r["lot_id"]))
        for r in lots:
            led.last_cost[r["sku"]] = r["unit_cost_cents"]
            if r["qty_remaining"] > 0:
                led.lots[r["sku"]].append(Lot(lot_id=r["lot_id"], sku=r["sku"], received_at=r["received_at"],
                                              qty_received=r["qty_received"], qty_remaining=r["qty_remaining"],
                                              unit_cost_cents=r["unit_cost_cents"], order_id=r["order_id"]))
        for r in store.rows("purchase_order", shop=shop):
            book = OrderBook(order_id=r["order_id"], supplier=r["supplier"], status=r["status"],
                             created_at=r["created_at"], updated_at=r["updated_at"], expected_at=r["expected_at"],
                             total_cents=r["total_cents"], received_cents=r["received_cents"],
                             lines_json=r["lines_json"])
            led.orders[book.order_id] = book
        for book in led.orders.values():
            book.prepaid_left = led._prepaid_of(book.order_id, store)
        led._unsettled = dict(led.orders)
        for r in store.rows("task", shop=shop, status="open"):
            led._tasks[r["task_id"]] = (r["kind"], r["created_at"], json.loads(r["payload_json"]))
        for r in store.rows("approval_decision", shop=shop):
            led.approvals[r["approval_id"]] = ev.ApprovalDecided(
                id=r["event_id"], ts=r["ts"], shop=shop, approval_id=r["approval_id"], subject=r["subject"],
                approved=bool(r["approved"]), approver=r["approver"], amount_cents=r["amount_cents"])
        with store.engine.connect() as conn:
            for ts, sku, units, amount, memo in conn.execute(text(
                    "SELECT ts, sku, units, amount_cents, memo FROM ledger_line WHERE shop = :s AND credit = :r "
                    "AND units > 0"), {"s": shop, "r": REVENUE}):
                led.slot_sold[memo] += units  # a sale's memo is its slot location
                when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
                when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
                sold = led.daily[when.astimezone(tz).date()].setdefault(sku, [0, 0])
                sold[0] += units
                sold[1] += amount
                led.units_sold_total += units
        last = store.scalar("SELECT MAX(day) FROM day_close WHERE shop = :s", s=shop)
        led.closed_through = date.fromisoformat(str(last)) if last else None
        return led

    def _prepaid_of(self, order_id: str, store: Store) -> int:
        """Money paid for an order and not yet turned into goods or written off (lines carry the
        order id as their memo), as `store` has it."""
        with store.engine.connect() as conn:
            paid = conn.execute(text(
                "SELECT COALESCE(SUM(CASE WHEN debit = :p THEN amount_cents ELSE -amount_cents END), 0) "
                "FROM ledger_line WHERE shop = :s AND (debit = :p OR credit = :p) AND (memo = :o OR memo LIKE :like)"),
                {"s": self.shop, "p": PREPAID, "o": order_id, "like": f"{order_id}:%"}).scalar()
        return int(paid or 0)

    # --- recording --------------------------------------------------------------------------
    def record(self, event: ev.Event) -> bool:
        """Book an event once. Returns False (and changes nothing) for an id already recorded."""
        eid = event.id
        if not self._claim(eid):
            return False
        self._events.append((eid, self.shop, event.kind, event.ts))
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)  # type: ignore[operator]
        return True

    def _line(self, e: ev.Event, debit: str, credit: str, amount: int, sku: str | None = None,
              units: int = 0, memo: str = "") -> None:
        if amount == 0:
            return
        if amount < 0:
            debit, credit, amount = credit, debit, -amount
        self.balances[debit] += amount
        self.balances[credit] -= amount
        self._lines.append((e.id, self.shop, e.ts, debit, credit, amount, sku, units, memo))

    def _move_stock(self, location: str, sku: str, delta: int) -> None:
        key = (location, sku)
        stock = self.stock
        left = stock[key] = stock.get(key, 0) + delta
        if location == STORAGE:
            if left:
                self._storage[sku] = left
            else:
                self._storage.pop(sku, None)
        if left < 0:
            self.anomalies.append(f"negative stock {sku} at {location}: {left}")
        self._stock_changed[key] = None

    def _consume(self, sku: str, units: int) -> int:
        """Take units out of the FIFO lots; returns their cost."""
        cost = 0
        lots = self.lots[sku]
        changed = self._lots_changed
        left = units
        while left and lots:
            lot = lots[0]
            remaining = lot.qty_remaining
            take = left if left < remaining else remaining
            lot.qty_remaining = remaining = remaining - take
            left -= take
            cost += take * lot.unit_cost_cents
            changed[lot.lot_id] = lot  # _write_lot
            if remaining == 0:
                lots.popleft()
        if left:
            self.anomalies.append(f"{left} x {sku} left without a lot; costed at last known cost")
            cost += left * self.last_cost.get(sku, 0)
        return cost

    def _write_lot(self, lot: Lot) -> None:
        self._lots_changed[lot.lot_id] = lot

    def _write_changed(self) -> None:
        """Buffer the stock levels and lots changed since the last flush (the store calls this first)."""
        upsert, shop = self.store.upsert, self.shop
        for location, sku in self._stock_changed:
            upsert("stock_level", {"shop": shop, "location": location, "sku": sku,
                                   "count": self.stock[(location, sku)]})
        for lot in self._lots_changed.values():
            upsert("inventory_lot", {
                "lot_id": lot.lot_id, "shop": shop, "sku": lot.sku, "received_at": lot.received_at,
                "qty_received": lot.qty_received, "qty_remaining": lot.qty_remaining,
                "unit_cost_cents": lot.unit_cost_cents, "order_id": lot.order_id,
            })
        self._stock_changed.clear()
        self._lots_changed.clear()

    # --- handlers ---------------------------------------------------------------------------
    def _capital(self, e: ev.CapitalIn) -> None:
        self._line(e, BANK, EQUITY, e.amount_cents, memo="capital")

    def _sale(self, e: ev.Sale) -> None:
        """The busiest handler (a sale a slot and payment a simulated day): `_line` and `_move_stock`
        written out for the usual case, with the same lines, balances and stock."""
        sku, units = e.sku, e.units
        amount = units * e.unit_price_cents
        cash_acc = MACHINE_CASH if e.payment is _CASH else CARD_PENDING
        location = f"{e.machine}:{e.slot}"  # slot_location
        cost = self._consume(sku, units)
        if amount > 0 and cost > 0:
            eid, ts, shop, balances, append = e.id, e.ts, self.shop, self.balances, self._lines.append
            balances[cash_acc] += amount
            balances[REVENUE] -= amount
            append((eid, shop, ts, cash_acc, REVENUE, amount, sku, units, location))
            balances[COGS] += cost
            balances[INVENTORY] -= cost
            append((eid, shop, ts, COGS, INVENTORY, cost, sku, units, ""))
        else:
            self._line(e, cash_acc, REVENUE, amount, sku, units, location)
            self._line(e, COGS, INVENTORY, cost, sku, units)
        key = (location, sku)
        stock = self.stock
        left = stock[key] = stock.get(key, 0) - units
        if left < 0:
            self.anomalies.append(f"negative stock {sku} at {location}: {left}")
        self._stock_changed[key] = None
        self.slot_sold[location] += units
        self.units_sold_total += units
        if e.ts is not self._sale_ts:  # a simulated evening's sales share one time
            sale_day = e.ts.astimezone(self.tz).date()
            self._sale_ts, self._sale_day = e.ts, self.daily[sale_day]
            if self.closed_through is not None and sale_day <= self.closed_through:
                self.late_days.add(sale_day)
        day = self._sale_day
        row = day.get(sku)
        if row is None:
            day[sku] = [units, amount]
        else:
            row[0] += units
            row[1] += amount

    def _card_settled(self, e: ev.CardSettled) -> None:
        self._line(e, BANK, CARD_PENDING, e.amount_cents, memo="card settlement")

    def _cash_collected(self, e: ev.CashCollected) -> None:
        self._line(e, BANK, MACHINE_CASH, e.amount_cents, memo=e.machine)

    def _fee(self, e: ev.FeeCharged) -> None:
        self._line(e, FEES, _paid_from(e.paid_from), e.amount_cents, memo=e.reason)
        if e.reason.startswith(DAILY_FEE):  # the sim's "daily_fee", or a live site cost "daily_fee:rent"
            self.fee_missed_streak = 0

    def _fee_missed(self, e: ev.FeeMissed) -> None:
        self.fee_missed_streak = e.consecutive_days

    def _supplier_paid(self, e: ev.SupplierPaid) -> None:
        self._line(e, PREPAID, BANK, e.amount_cents, memo=e.order_id)
        book = self.orders.get(e.order_id)
        if book is None:  # paid before the order was opened here: remembered until it is
            self._paid_early[e.order_id] = self._paid_early.get(e.order_id, 0) + e.amount_cents
            return
        book.prepaid_left += e.amount_cents
        self._recheck(book)
        if book.status == OrderStatus.PLACED:
            book.status = OrderStatus.PAID
            book.updated_at = e.ts
            self._write_order(book)

    def _delivery(self, e: ev.DeliveryReceived) -> None:
        cost = e.quantity * e.unit_cost_cents
        book = self.orders.get(e.order_id)
        owed = cost if book is None else max(0, min(cost, book.prepaid_left))
        self._line(e, INVENTORY, PREPAID, owed, e.sku, e.quantity, e.order_id)
        if cost > owed:  # goods for money already written off (a late delivery): the loss is recovered
            self._line(e, INVENTORY, LOSSES, cost - owed, e.sku, e.quantity, f"{e.order_id}: recovered")
        self._lot_seq += 1
        lot = Lot(lot_id=f"{e.id}", sku=e.sku, received_at=e.ts, qty_received=e.quantity,
                  qty_remaining=e.quantity, unit_cost_cents=e.unit_cost_cents, order_id=e.order_id)
        self.lots[e.sku].append(lot)
        self._write_lot(lot)
        self.last_cost[e.sku] = e.unit_cost_cents
        self._move_stock(STORAGE, e.sku, e.quantity)
        if book is not None:
            self._recheck(book)
            book.received_cents += cost
            book.prepaid_left -= owed
            book.status = OrderStatus.DELIVERED if book.received_cents >= book.total_cents else OrderStatus.SHORT
            book.updated_at = e.ts
            self._write_order(book)

    def _written_off(self, e: ev.OrderWrittenOff) -> None:
        self._line(e, LOSSES, PREPAID, e.amount_cents, memo=f"{e.order_id}: {e.reason}")
        book = self.orders.get(e.order_id)
        if book is not None:
            self._recheck(book)
            book.prepaid_left -= e.amount_cents
            book.status = OrderStatus.LOST if book.received_cents == 0 else OrderStatus.SHORT
            book.updated_at = e.ts
            self._write_order(book)

    def _restocked(self, e: ev.Restocked) -> None:
        self._move_stock(STORAGE, e.sku, -e.count)
        self._move_stock(slot_location(e.machine, e.slot), e.sku, e.count)

    def _unloaded(self, e: ev.Unloaded) -> None:
        self._move_stock(slot_location(e.machine, e.slot), e.sku, -e.count)
        self._move_stock(STORAGE, e.sku, e.count)

    def _stock_lost(self, e: ev.StockLost) -> None:
        self._line(e, LOSSES, INVENTORY, self._consume(e.sku, e.quantity), e.sku, e.quantity, e.reason)
        self._move_stock(e.location, e.sku, -e.quantity)

    def _payment_received(self, e: ev.PaymentReceived) -> None:
        self._line(e, CARD_PENDING, DEPOSITS, e.amount_cents, memo=e.order_ref or e.payment_ref)

    def _handed_over(self, e: ev.HandedOver) -> None:
        self._line(e, DEPOSITS, REVENUE, e.amount_cents, e.sku, e.quantity, f"special order {e.payment_ref}")
        self._line(e, COGS, INVENTORY, self._consume(e.sku, e.quantity), e.sku, e.quantity)
        self._move_stock(STORAGE, e.sku, -e.quantity)

    def _approval_decided(self, e: ev.ApprovalDecided) -> None:
        """Kept so a decision outlives the process: an approval granted before a restart still counts."""
        self.approvals[e.approval_id] = e
        self.store.upsert("approval_decision", {
            "approval_id": e.approval_id, "shop": self.shop, "subject": e.subject, "approved": e.approved,
            "approver": e.approver, "amount_cents": e.amount_cents, "ts": e.ts, "event_id": e.id})

    def _refund(self, e: ev.RefundIssued) -> None:
        self._line(e, REFUNDS, _paid_from(e.paid_from), e.amount_cents, memo=e.reason)

    def _dispute(self, e: ev.DisputeOpened) -> None:
        self._line(e, LOSSES, CARD_PENDING, e.amount_cents, memo=f"dispute {e.dispute_ref} on {e.payment_ref}")

    def _transfer_sent(self, e: ev.TransferSent) -> None:
        self._line(e, TRANSFERS, BANK, e.amount_cents, memo=f"{e.transfer_id} to {e.to_shop}")

    def _transfer_received(self, e: ev.TransferReceived) -> None:
        self._line(e, BANK, TRANSFERS, e.amount_cents, memo=f"{e.transfer_id} from {e.from_shop}")

    def _goods_sent(self, e: ev.GoodsSent) -> None:
        self._line(e, BANK, TRADES, e.quantity * e.unit_price_cents, e.sku, e.quantity, e.trade_id)
        self._line(e, TRADES, INVENTORY, self._consume(e.sku, e.quantity), e.sku, e.quantity, e.trade_id)
        self._move_stock(STORAGE, e.sku, -e.quantity)

    def _goods_received(self, e: ev.GoodsReceived) -> None:
        self._line(e, INVENTORY, BANK, e.quantity * e.unit_price_cents, e.sku, e.quantity, e.trade_id)
        lot = Lot(lot_id=e.id, sku=e.sku, received_at=e.ts, qty_received=e.quantity, qty_remaining=e.quantity,
                  unit_cost_cents=e.unit_price_cents, order_id=e.trade_id)
        self.lots[e.sku].append(lot)
        self._write_lot(lot)
        self.last_cost[e.sku] = e.unit_price_cents
        self._move_stock(STORAGE, e.sku, e.quantity)

    # --- orders and tasks that tools open ---------------------------------------------------
    def open_order(self, receipt: OrderReceipt, ts: datetime) -> None:
        """Open the book of an order once; placing the same order again changes nothing."""
        if receipt.order_id in self.orders:
            return
        book = OrderBook(
            order_id=receipt.order_id, supplier=receipt.supplier, status=OrderStatus.PLACED, created_at=ts,
            updated_at=ts, expected_at=receipt.expected_at, total_cents=receipt.total_cents, received_cents=0,
            lines_json=_dumps([[ln.sku, ln.quantity, ln.unit_cost_cents] for ln in receipt.lines]),
        )
        early = self._paid_early.pop(receipt.order_id, 0)
        if early:
            book.prepaid_left, book.status = early, OrderStatus.PAID
        self.orders[receipt.order_id] = book
        self._unsettled[receipt.order_id] = book  # the newest order: `_unsettled` stays in order
        self._write_order(book)

    def _write_order(self, b: OrderBook) -> None:
        self.store.upsert("purchase_order", {
            "order_id": b.order_id, "shop": self.shop, "supplier": b.supplier, "status": str(b.status),
            "created_at": b.created_at, "updated_at": b.updated_at, "expected_at": b.expected_at,
            "total_cents": b.total_cents, "received_cents": b.received_cents, "lines_json": b.lines_json,
        })

    def open_task(self, *, task_id: str, kind: str, ts: datetime, payload: dict[str, Any]) -> None:
        text = _dumps(payload)
        self.store.upsert("task", {"task_id": task_id, "shop": self.shop, "kind": kind, "status": "open",
                                   "created_at": ts, "done_at": None, "payload_json": text})
        self._tasks[task_id] = (kind, ts, payload)
        self._task_text[task_id] = text

    def _task_completed(self, e: ev.TaskCompleted) -> None:
        info = self._tasks.pop(e.task_id, None)
        text = self._task_text.pop(e.task_id, None)
        if info is not None:
            kind, created, payload = info
            if text is not None and payload and "detail" not in payload:
                # _dumps({**payload, "detail": ...}): the payload's own text with one more key at the end
                text = f'{text[:-1]},"detail":{_dumps(e.detail)}}}'
            else:
                text = _dumps({**payload, "detail": e.detail})
            self.store.upsert("task", {"task_id": e.task_id, "shop": self.shop, "kind": kind,
                                       "status": "done" if e.ok else "failed", "created_at": created,
                                       "done_at": e.ts, "payload_json": text})

    def open_tasks(self) -> dict[str, tuple[str, datetime, dict[str, Any]]]:
        return dict(self._tasks)

    # --- views ------------------------------------------------------------------------------
    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    @property
    def net_worth_cents(self) -> int:
        get = self.balances.get  # written out: a generator for four accounts costs more than the sum
        return get(BANK, 0) + get(CARD_PENDING, 0) + get(MACHINE_CASH, 0) + get(INVENTORY, 0)

    def storage(self) -> dict[str, int]:
        return dict(self._storage)

    def units_at(self, location: str, sku: str) -> int:
        return self.stock.get((location, sku), 0)

    def open_orders(self) -> list[OrderBook]:
        """Orders still owed goods: placed and awaiting payment, or paid and not all delivered."""
        placed, paid, short = OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.SHORT  # read once, not per book
        unsettled = self._unsettled
        if not self._unsettled_in_order:
            unsettled = self._unsettled = {oid: b for oid, b in self.orders.items() if oid in unsettled}
            self._unsettled_in_order = True
        out, settled = [], []
        for oid, b in unsettled.items():
            if b.status == placed or ((b.status == paid or b.status == short) and b.prepaid_left > 0):
                out.append(b)
            else:
                settled.append(oid)
        for oid in settled:
            del unsettled[oid]
        return out

    def _recheck(self, book: OrderBook) -> None:
        """`book` is about to change: open_orders looks at it again (see `_unsettled`)."""
        if book.order_id not in self._unsettled:
            self._unsettled[book.order_id] = book
            self._unsettled_in_order = False
