"""Suppliers: the engine, not text, is the truth for every price and order. Replies are
generated from templates; quotes and orders are structured, seeded and idempotent."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.domain import OrderReceipt, Quote, QuoteLine, SupplierInfo
from bridge.errors import ToolError
from sim_backend.catalogue import CatalogueEntry
from sim_backend.scenario import SupplierSpec

QUOTE_VALID_DAYS = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class Shipment:
    """What will arrive, known only to the engine until its delivery event fires."""

    order_id: str
    supplier: str
    sku: str
    quantity: int
    unit_cost_cents: int
    arrives_day: int  # day index of the run


class SupplierEngine:
    def __init__(self, *, specs: list[SupplierSpec], catalogue: Mapping[str, CatalogueEntry],
                 rng: random.Random) -> None:
        self.specs = {s.id: s for s in specs}
        self.catalogue = catalogue
        self.rng = rng
        self.prices: dict[tuple[str, str], int] = {}
        for spec in specs:
            for sku, entry in sorted(catalogue.items()):
                if entry.product.category in spec.categories:
                    jitter = 1 + rng.uniform(-0.04, 0.04)
                    self.prices[(spec.id, sku)] = max(1, round(
                        entry.hidden.wholesale_cost_cents * spec.price_factor * jitter))
        self.quotes: dict[str, Quote] = {}
        self.countered: set[str] = set()
        self.orders_by_key: dict[str, OrderReceipt] = {}
        self._seq = 0
        self._directory: list[SupplierInfo] | None = None

    def directory(self) -> list[SupplierInfo]:
        if self._directory is None:
            self._directory = self._build_directory()
        return list(self._directory)

    def _build_directory(self) -> list[SupplierInfo]:
        return [SupplierInfo(supplier=s.id, name=s.name, contact=f"orders@{s.id}.example",
                             lead_time_days=s.lead_time_days, min_order_cents=s.min_order_cents,
                             skus=tuple(sku for (sid, sku) in self.prices if sid == s.id))
                for s in self.specs.values()]

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq:05d}"

    def quote(self, *, supplier: str, items: Mapping[str, int], now: datetime) -> Quote:
        spec = self.specs.get(supplier)
        if spec is None:
            raise ToolError(f"no supplier {supplier!r} in the directory")
        if not items:
            raise ToolError("a quote needs at least one item")
        lines = []
        for sku, qty in sorted(items.items()):
            if qty <= 0:
                raise ToolError(f"quantity for {sku} must be positive")
            unit = self.prices.get((supplier, sku))
            if unit is None:
                raise ToolError(f"{spec.name} does not sell {sku!r}")
            if qty >= spec.volume_discount_units:
                unit = max(1, round(unit * (1 - spec.volume_discount)))
            lines.append(QuoteLine(sku=sku, quantity=qty, unit_cost_cents=unit))
        q = Quote(quote_id=self._next(f"q-{supplier}"), supplier=supplier, lines=tuple(lines),
                  lead_time_days=spec.lead_time_days, valid_until=now + timedelta(days=QUOTE_VALID_DAYS), text="")
        q = _with_text(q, spec.name)
        self.quotes[q.quote_id] = q
        return q

    def counter(self, *, quote_id: str, offers: Mapping[str, int], now: datetime) -> Quote:
        q = self._valid(quote_id, now)
        spec = self.specs[q.supplier]
        if quote_id in self.countered:
            return _with_text(q, spec.name, "That is our final price.")
        self.countered.add(quote_id)
        lines = []
        for line in q.lines:
            offer = offers.get(line.sku, line.unit_cost_cents)
            floor = round(line.unit_cost_cents * (1 - spec.negotiable_pct))
            lines.append(QuoteLine(sku=line.sku, quantity=line.quantity,
                                   unit_cost_cents=max(floor, min(line.unit_cost_cents, offer))))
        new = Quote(quote_id=self._next(f"q-{q.supplier}"), supplier=q.supplier, lines=tuple(lines),
                    lead_time_days=q.lead_time_days, valid_until=now + timedelta(days=QUOTE_VALID_DAYS))
        new = _with_text(new, spec.name, "We can meet you part of the way.")
        self.quotes[new.quote_id] = new
        self.countered.add(new.quote_id)
        return new

    def _valid(self, quote_id: str, now: datetime) -> Quote:
        q = self.quotes.get(quote_id)
        if q is None:
            raise ToolError(f"no quote {quote_id!r}")
        if now > q.valid_until:
            raise ToolError(f"quote {quote_id} expired on {q.valid_until.date()}")
        return q

    def order(self, *, quote_id: str, idempotency_key: str, now: datetime, day: int,
              delivery_at: datetime) -> tuple[OrderReceipt, list[Shipment], bool]:
        """Returns the receipt, the shipments to schedule, and whether this is a new order."""
        if idempotency_key in self.orders_by_key:
            return self.orders_by_key[idempotency_key], [], False
        q = self._valid(quote_id, now)
        spec = self.specs[q.supplier]
        if q.total_cents < spec.min_order_cents:
            raise ToolError(f"{spec.name} has a minimum order of {spec.min_order_cents}c; this is {q.total_cents}c")
        order_id = self._next(f"po-{q.supplier}")
        receipt = OrderReceipt(order_id=order_id, supplier=q.supplier, total_cents=q.total_cents,
                               expected_at=delivery_at, lines=q.lines)
        shipments = [Shipment(order_id=order_id, supplier=q.supplier, sku=ln.sku, quantity=ln.quantity,
                              unit_cost_cents=ln.unit_cost_cents, arrives_day=day + q.lead_time_days)
                     for ln in q.lines]
        self.orders_by_key[idempotency_key] = receipt
        del self.quotes[quote_id]
        return receipt, shipments, True


def _with_text(q: Quote, name: str, lead: str = "Thanks for your enquiry.") -> Quote:
    body = "; ".join(f"{ln.quantity} x {ln.sku} at ${ln.unit_cost_cents / 100:.2f}" for ln in q.lines)
    text = (f"{lead} {name} can supply {body}. Total ${q.total_cents / 100:.2f}, delivery in "
            f"{q.lead_time_days} day(s) after payment. Quote {q.quote_id} valid until {q.valid_until.date()}.")
    return Quote(quote_id=q.quote_id, supplier=q.supplier, lines=q.lines, lead_time_days=q.lead_time_days,
                 valid_until=q.valid_until, text=text)
