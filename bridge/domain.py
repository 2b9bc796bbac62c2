"""Domain types shared by every part: products, slots, machine views, quotes, orders.

Frozen, slotted, keyword-only dataclasses; money in integer cents; time timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bridge.frozen import fast_init_all


class Size(StrEnum):
    SMALL = "small"
    LARGE = "large"


class Payment(StrEnum):
    CARD = "card"
    CASH = "cash"


class OrderStatus(StrEnum):
    QUOTED = "quoted"
    PLACED = "placed"  # ordered, payment not yet confirmed (live purchases through ops)
    PAID = "paid"  # paid, not yet delivered: never counted as stock
    DELIVERED = "delivered"
    SHORT = "short"  # delivered less or other than ordered
    CANCELLED = "cancelled"
    LOST = "lost"  # written off: the supplier will not deliver


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    """What anyone can know of a product: the shelf facts, not the hidden demand."""

    sku: str
    name: str
    category: str
    size: Size
    reference_price_cents: int
    perishable_days: int = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotView:
    slot: str  # "A1".."D3"
    size: Size
    capacity: int
    sku: str | None
    count: int
    price_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineView:
    machine: str
    online: bool
    slots: tuple[SlotView, ...]
    cash_cents: int
    locked: bool = False

    def slot(self, slot: str) -> SlotView:
        for s in self.slots:
            if s.slot == slot:
                return s
        raise KeyError(slot)

    def to_json(self) -> dict[str, Any]:
        """The view as JSON data: fields by name in their order, slots as dicts of theirs, sizes as text."""
        return {"machine": self.machine, "online": self.online,
                "slots": [{"slot": s.slot, "size": str(s.size), "capacity": s.capacity, "sku": s.sku,
                           "count": s.count, "price_cents": s.price_cents} for s in self.slots],
                "cash_cents": self.cash_cents, "locked": self.locked}


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierInfo:
    supplier: str
    name: str
    contact: str
    lead_time_days: int  # as the supplier advertises it
    skus: tuple[str, ...]
    min_order_cents: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteLine:
    sku: str
    quantity: int
    unit_cost_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    quote_id: str
    supplier: str
    lines: tuple[QuoteLine, ...]
    lead_time_days: int
    valid_until: datetime
    text: str = ""  # what the supplier wrote; the engine's fields are the truth

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_cost_cents for line in self.lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteRequested:
    """A quote asked of a supplier (or a counter-offer sent on one): not an answer. The supplier's
    answer arrives later, on both sides, as a QuoteReceived event under `quote_id`."""

    quote_id: str  # the id the answer will carry
    supplier: str
    expected_by: datetime  # the answer is due by then (sim: the supplier's slowest reply; live: ops' turnaround)
    counter_of: str = ""  # the quote this counter-offer was made on, if any
    status: str = "requested"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReceipt:
    order_id: str
    supplier: str
    total_cents: int
    expected_at: datetime
    lines: tuple[QuoteLine, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReceipt:
    task_id: str
    kind: str
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RestockLine:
    """Fill `slot` with `count` more units of `sku` (emptying another product first); set the
    slot's price to `price_cents` when loading, if given."""

    slot: str
    sku: str
    count: int
    price_cents: int | None = None


def size_of_slot(slot: str, small_rows: str = "AB") -> Size:
    return Size.SMALL if slot[:1] in small_rows else Size.LARGE


# --- the arena: other shopkeepers at the same location --------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StallSlot:
    """A slot of another shop's machine as a person standing there sees it: through the glass the
    units left can be counted, as in Andon Labs' Arena."""

    slot: str
    sku: str | None
    price_cents: int
    in_stock: bool
    count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StallView:
    shop: str
    machine: str
    online: bool
    slots: tuple[StallSlot, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeOffer:
    """Goods for money between two shopkeepers. `side` is the offerer's: "sell" (the offerer gives
    the goods) or "buy" (the offerer pays). Nothing moves until the other side accepts; then goods
    and money move together."""

    offer_id: str
    from_shop: str
    to_shop: str
    side: str
    sku: str
    quantity: int
    unit_price_cents: int
    memo: str
    status: str  # "open", "accepted", "declined", "expired"
    expires_at: datetime

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


fast_init_all(globals())


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRecord:
    """One shop day as the daily close booked it (the run's charts and scores read these)."""

    day: str
    ts: datetime
    bank_cents: int
    card_pending_cents: int
    machine_cash_cents: int
    inventory_value_cents: int
    net_worth_cents: int
    units_sold: int
    revenue_cents: int
    units_sold_total: int
    tool_calls: dict[str, int]
    prepaid_cents: int = 0  # orders paid for, goods not yet delivered (in transit; not in net worth)
