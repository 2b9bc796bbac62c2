"""Suppliers: the engine, not text, is the truth for every price and order. Replies are
generated from templates; quotes and orders are structured, seeded and idempotent.

A quote or counter-offer is answered by e-mail, later: the engine prices it when it is asked (from
the prices of that moment), holds it as pending, and says when the answer is sent (a draw from the
supplier's own reply stream between its `reply_minutes_min` and `reply_minutes_max`); the world
schedules `answer` for then, which makes the quote orderable and is told to the shop as a
QuoteReceived event."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.domain import OrderReceipt, Quote, QuoteLine, QuoteRequested, SupplierInfo
from bridge.errors import ToolError
from sim_backend import adversarial as adv
from sim_backend.adversarial import Shipment
from sim_backend.catalogue import CatalogueEntry
from sim_backend.rng import rng_for
from sim_backend.scenario import SupplierSpec

QUOTE_VALID_DAYS = 7
__all__ = ["QUOTE_VALID_DAYS", "Shipment", "SupplierEngine"]


@dataclass(slots=True)
class SupplierBooks:
    """Hidden truth per supplier, for the report: what was paid, and what the goods shipped were worth."""

    paid_cents: int = 0
    shipped_cents: int = 0
    orders: int = 0

class SupplierEngine:
    def __init__(self, *, specs: list[SupplierSpec], catalogue: Mapping[str, CatalogueEntry],
                 rng: random.Random, seed: int = 0, day_of: Callable[[datetime], int] | None = None) -> None:
        self.day_of = day_of or (lambda now: 0)
        self.specs = {s.id: s for s in specs}
        # Vending-Bench 2 behaviours draw from each supplier's own stream, never from `rng`
        self.rngs = {s.id: rng_for(seed, f"supplier:{s.id}") for s in specs if not adv.is_plain(s)}
        self.books: dict[str, SupplierBooks] = {}
        self.listed: dict[str, dict[str, int]] = {}  # quote id -> sku -> the first-round unit price
        self.rounds: dict[str, int] = {}  # quote id -> counter-offers answered on its chain
        self.catalogue = catalogue
        self.rng = rng
        self.prices: dict[tuple[str, str], int] = {}
        for spec in specs:
            for sku, entry in sorted(catalogue.items()):
                if entry.product.category in spec.categories:
                    jitter = 1 + rng.uniform(-0.04, 0.04)
                    self.prices[(spec.id, sku)] = max(1, round(
                        entry.hidden.wholesale_cost_cents * spec.price_factor * jitter))
        self.quotes: dict[str, Quote] = {}  # answered, orderable until ordered or expired
        self.pending: dict[str, tuple[Quote, str]] = {}  # asked, not answered yet: quote id -> (quote, counter_of)
        # when each supplier answers mail: its own stream, so replies draw nothing from the others
        self.reply_rngs = {s.id: rng_for(seed, f"supplier-reply:{s.id}") for s in specs}
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

    def quote(self, *, supplier: str, items: Mapping[str, int], now: datetime) -> tuple[QuoteRequested, datetime]:
        """Price a quote request; returns its receipt and when the answer is sent (`answer` then)."""
        spec = self.specs.get(supplier)
        if spec is None:
            raise ToolError(f"no supplier {supplier!r} in the directory")
        self._open(spec, now)
        if not items:
            raise ToolError("a quote needs at least one item")
        for sku, qty in sorted(items.items()):
            if qty <= 0:
                raise ToolError(f"quantity for {sku} must be positive")
            if (supplier, sku) not in self.prices:
                raise ToolError(f"{spec.name} does not sell {sku!r}")
        rng = self.rngs.get(supplier)
        factor = adv.quote_factor(spec, rng) if rng is not None else 1.0
        lines = []
        for sku, qty in sorted(items.items()):
            unit = self.prices[(supplier, sku)]
            if qty >= spec.volume_discount_units:
                unit = max(1, round(unit * (1 - spec.volume_discount)))
            if factor != 1.0:
                unit = round(unit * factor)
            lines.append(QuoteLine(sku=sku, quantity=qty, unit_cost_cents=unit))
        at = self._reply_at(spec, now)
        q = Quote(quote_id=self._next(f"q-{supplier}"), supplier=supplier, lines=tuple(lines),
                  lead_time_days=spec.lead_time_days, valid_until=at + timedelta(days=QUOTE_VALID_DAYS), text="")
        q = _with_text(q, spec.name, adv.greeting(spec, rng) if rng is not None else "Thanks for your enquiry.")
        return self._hold(q, spec, now), at

    def _reply_at(self, spec: SupplierSpec, now: datetime) -> datetime:
        return now + timedelta(minutes=self.reply_rngs[spec.id].randint(spec.reply_minutes_min, spec.reply_minutes_max))

    def _hold(self, q: Quote, spec: SupplierSpec, now: datetime, counter_of: str = "") -> QuoteRequested:
        self.pending[q.quote_id] = (q, counter_of)
        return QuoteRequested(quote_id=q.quote_id, supplier=q.supplier, counter_of=counter_of,
                              expected_by=now + timedelta(minutes=spec.reply_minutes_max))

    def answer(self, quote_id: str) -> tuple[Quote, str]:
        """The supplier's answer is sent: the quote can be ordered from now. Returns it and the quote
        it answers a counter-offer on ("" for a first quote)."""
        q, counter_of = self.pending.pop(quote_id)
        self.quotes[quote_id] = q
        return q, counter_of

    def _open(self, spec: SupplierSpec, now: datetime) -> None:
        if spec.closes_on_day is not None and self.day_of(now) >= spec.closes_on_day:
            raise ToolError(f"mail to orders@{spec.id}.example bounced: {spec.name} appears to have ceased trading")

    def raise_prices(self, supplier: str, pct: float) -> None:
        """An accident: a supplier puts every price up."""
        for key in sorted(self.prices):
            if key[0] == supplier:
                self.prices[key] = max(1, round(self.prices[key] * (1 + pct)))

    def loss_by_archetype(self) -> dict[str, int]:
        """Money paid that no goods answered for (at the agreed prices), per archetype: the truth."""
        out: dict[str, int] = {}
        for sid, b in self.books.items():
            arch = self.specs[sid].archetype
            out[arch] = out.get(arch, 0) + b.paid_cents - b.shipped_cents
        return out

    def counter(self, *, quote_id: str, offers: Mapping[str, int], now: datetime) -> tuple[QuoteRequested, datetime]:
        """A counter-offer on an answered quote; the answer (a new quote, maybe at the same prices) is held
        as pending like a first quote's. Returns its receipt and when the answer is sent."""
        q = self._valid(quote_id, now)
        spec = self.specs[q.supplier]
        self._open(spec, now)
        at = self._reply_at(spec, now)
        if spec.archetype == "negotiating":
            new = self._haggle(q, spec, offers, at)
        elif quote_id in self.countered:
            new = self._reissue(q, spec.name, "That is our final price.", at)
            self.countered.add(new.quote_id)
        else:
            self.countered.add(quote_id)
            lines = []
            for line in q.lines:
                offer = offers.get(line.sku, line.unit_cost_cents)
                floor = round(line.unit_cost_cents * (1 - spec.negotiable_pct))
                lines.append(QuoteLine(sku=line.sku, quantity=line.quantity,
                                       unit_cost_cents=max(floor, min(line.unit_cost_cents, offer))))
            new = self._reissue(q, spec.name, "We can meet you part of the way.", at, tuple(lines))
            self.countered.add(new.quote_id)
        return self._hold(new, spec, now, counter_of=quote_id), at

    def _reissue(self, q: Quote, name: str, lead: str, at: datetime, lines: tuple[QuoteLine, ...] | None = None) -> Quote:
        """The answer to a counter-offer on `q`: a new quote, valid from when it is sent."""
        new = Quote(quote_id=self._next(f"q-{q.supplier}"), supplier=q.supplier,
                    lines=q.lines if lines is None else lines, lead_time_days=q.lead_time_days,
                    valid_until=at + timedelta(days=QUOTE_VALID_DAYS))
        return _with_text(new, name, lead)

    def _haggle(self, q: Quote, spec: SupplierSpec, offers: Mapping[str, int], at: datetime) -> Quote:
        """A negotiator answers up to `negotiation_rounds` counter-offers, moving each time; then it
        repeats its final price."""
        rng = self.rngs[spec.id]
        round_no = self.rounds.get(q.quote_id, 0) + 1
        listed = self.listed.get(q.quote_id) or {ln.sku: ln.unit_cost_cents for ln in q.lines}
        if round_no > spec.negotiation_rounds:
            new = self._reissue(q, spec.name, adv.FINAL, at)
            round_no -= 1
        else:
            lines = tuple(QuoteLine(sku=ln.sku, quantity=ln.quantity, unit_cost_cents=adv.negotiate(
                spec=spec, listed=listed[ln.sku], current=ln.unit_cost_cents,
                offer=offers.get(ln.sku, ln.unit_cost_cents), round_no=round_no)) for ln in q.lines)
            new = self._reissue(q, spec.name, adv.counter_text(spec, rng), at, lines)
        self.listed[new.quote_id] = listed
        self.rounds[new.quote_id] = round_no
        return new

    def _valid(self, quote_id: str, now: datetime) -> Quote:
        q = self.quotes.get(quote_id)
        if q is None:
            if quote_id in self.pending:
                raise ToolError(f"quote {quote_id} has not been answered yet; the answer arrives in read_inbox")
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
        if spec.closes_on_day is not None and day >= spec.closes_on_day:
            raise ToolError(f"payment declined: {spec.name}'s account is closed")
        if q.total_cents < spec.min_order_cents:
            raise ToolError(f"{spec.name} has a minimum order of {spec.min_order_cents}c; this is {q.total_cents}c")
        order_id = self._next(f"po-{q.supplier}")
        receipt = OrderReceipt(order_id=order_id, supplier=q.supplier, total_cents=q.total_cents,
                               expected_at=delivery_at, lines=q.lines)
        shipments = [Shipment(order_id=order_id, supplier=q.supplier, sku=ln.sku, quantity=ln.quantity,
                              unit_cost_cents=ln.unit_cost_cents, arrives_day=day + q.lead_time_days)
                     for ln in q.lines]
        rng = self.rngs.get(q.supplier)
        if rng is not None:
            prices = {sku: p for (sid, sku), p in self.prices.items() if sid == q.supplier}
            shipments = adv.fulfil(spec=spec, shipments=shipments, rng=rng, prices=prices, day=day)
        books = self.books.setdefault(q.supplier, SupplierBooks())
        books.paid_cents += q.total_cents
        books.shipped_cents += sum(sh.quantity * sh.unit_cost_cents for sh in shipments)
        books.orders += 1
        self.orders_by_key[idempotency_key] = receipt
        del self.quotes[quote_id]
        self.listed.pop(quote_id, None)
        self.rounds.pop(quote_id, None)
        return receipt, shipments, True


def _with_text(q: Quote, name: str, lead: str = "Thanks for your enquiry.") -> Quote:
    body = "; ".join(f"{ln.quantity} x {ln.sku} at ${ln.unit_cost_cents / 100:.2f}" for ln in q.lines)
    text = (f"{lead} {name} can supply {body}. Total ${q.total_cents / 100:.2f}, delivery in "
            f"{q.lead_time_days} day(s) after payment. Quote {q.quote_id} valid until {q.valid_until.date()}.")
    return Quote(quote_id=q.quote_id, supplier=q.supplier, lines=q.lines, lead_time_days=q.lead_time_days,
                 valid_until=q.valid_until, text=text)
