"""Twin ports for a shadow run: each answers a WRITE as the live adapter would (its checks, its kind
of id, its receipt) and records what it was asked, but touches nothing real: no command reaches a
machine, no Slack task or message is posted, no card is charged or refunded, no supplier is asked.
What they only read (a machine's view, the supplier directory, the balance) comes from the real port.

A twin supplier prices a quote from what the shop last paid (the books), else from half the product's
usual retail price, with the supplier's advertised lead time, as a supplier plausibly would. It answers
as the Procurement port says suppliers do, by event: a QuoteReceived, told at once to the shopkeeper
(its inbox) and the twin, never to the real books.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bridge import events as ev
from bridge.domain import (
    MachineView,
    OrderReceipt,
    Quote,
    QuoteLine,
    QuoteRequested,
    RestockLine,
    SupplierInfo,
    TaskReceipt,
)
from bridge.errors import ToolError
from bridge.ports import Balance, Clock, Machine, PaymentLink, Payments, Procurement

QUOTE_VALID_DAYS = 7  # as the live side's quotes (hardware_adapters/slack/procurement.py)
UNKNOWN_UNIT_COST_CENTS = 100  # a product the catalogue does not know


@dataclass(slots=True, kw_only=True)
class TwinLog:
    """What the twin ports were asked, in order (kind, details), and the ids they gave out."""

    prefix: str = "shadow"
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> str:
        n = self._seq[kind] = self._seq.get(kind, 0) + 1
        return f"{self.prefix}-{kind}-{n:05d}"

    def add(self, kind: str, **details: Any) -> None:
        self.asked.append((kind, details))


class TwinMachine:
    """The machine as it is (its view is the real one); commands are checked and recorded only."""

    def __init__(self, *, real: Machine, log: TwinLog) -> None:
        self.real = real
        self.machine_id = real.machine_id
        self.log = log

    def view(self) -> MachineView:
        return self.real.view()

    def set_price(self, slot: str, price_cents: int) -> None:
        self.log.add("set_price", machine=self.machine_id, slot=slot, price_cents=price_cents)

    def lock(self) -> None:
        self.log.add("lock", machine=self.machine_id)

    def unlock(self) -> None:
        self.log.add("unlock", machine=self.machine_id)

    def display(self, text: str) -> None:
        self.log.add("display", machine=self.machine_id, text=text)


class TwinPayments:
    def __init__(self, *, real: Payments, log: TwinLog) -> None:
        self.real = real
        self.log = log

    def balance(self) -> Balance:
        return self.real.balance()

    def create_payment_link(self, *, order_ref: str, amount_cents: int, description: str,
                            customer: str) -> PaymentLink:
        if amount_cents <= 0:
            raise ToolError("a payment link is for a positive amount")
        link_id = self.log.next_id("plink")
        self.log.add("payment_link", link_id=link_id, order_ref=order_ref, amount_cents=amount_cents,
                     customer=customer)
        return PaymentLink(link_id=link_id, url=f"https://shadow.invalid/pay/{link_id}", amount_cents=amount_cents,
                           order_ref=order_ref)

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        refund_id = self.log.next_id("re")
        self.log.add("refund", refund_id=refund_id, payment_ref=payment_ref, amount_cents=amount_cents)
        return refund_id


class TwinChat:
    def __init__(self, *, log: TwinLog) -> None:
        self.log = log

    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        message_id = self.log.next_id("msg")
        self.log.add("message", message_id=message_id, conversation=conversation, text=text)
        return message_id


class TwinApprovals:
    """Asked approvals are recorded; no person sees them, so none is ever decided."""

    def __init__(self, *, log: TwinLog) -> None:
        self.log = log

    def request_approval(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str = "") -> str:
        approval_id = self.log.next_id("approval")
        self.log.add("approval", approval_id=approval_id, subject=subject, amount_cents=amount_cents)
        return approval_id


TASK_DUE_MINUTES = 240  # as the live side's promise for a task posted to ops (SlackSettings.task_due_minutes)


class TwinPhysicalWork:
    """Tasks are checked as the live side checks them and get a receipt of the same kind, due as the live
    side promises (done only when a person confirms, which in a shadow run never happens)."""

    def __init__(self, *, clock: Clock, log: TwinLog, due_minutes: int = TASK_DUE_MINUTES) -> None:
        self.clock = clock
        self.log = log
        self.due = timedelta(minutes=due_minutes)

    def request_restock(self, *, machine: str, lines: Sequence[RestockLine], note: str = "") -> TaskReceipt:
        if not lines or len({ln.slot for ln in lines}) != len(lines):
            raise ToolError("a restock names each slot once, and at least one")
        if any(ln.count <= 0 for ln in lines):
            raise ToolError("restock counts must be positive")
        return self._task("restock", machine=machine, lines=[(ln.slot, ln.sku, ln.count) for ln in lines])

    def request_cash_collection(self, *, machine: str) -> TaskReceipt:
        return self._task("collect_cash", machine=machine)

    def request_handover(self, *, sku: str, quantity: int, customer: str, payment_ref: str,
                         amount_cents: int) -> TaskReceipt:
        return self._task("handover", sku=sku, quantity=quantity, customer=customer, payment_ref=payment_ref)

    def _task(self, kind: str, **details: Any) -> TaskReceipt:
        task_id = self.log.next_id("task")
        self.log.add(kind, task_id=task_id, **details)
        return TaskReceipt(task_id=task_id, kind=kind, due_at=self.clock.now() + self.due)


class TwinProcurement:
    """Simulated suppliers behind the real directory: they answer a quote request at once (a
    QuoteReceived through `tell`), meet a counter-offer halfway, and take an order, which stays
    `placed` (nobody pays it, nothing is delivered: nothing is bought)."""

    def __init__(self, *, real: Procurement, clock: Clock, log: TwinLog, unit_cost: Callable[[str], int | None],
                 reference_price: Mapping[str, int], tell: Callable[[ev.Event], None]) -> None:
        self.real = real
        self.clock = clock
        self.log = log
        self.tell = tell
        self.unit_cost = unit_cost  # what the books say the shop last paid
        self.reference_price = dict(reference_price)
        self.quotes: dict[str, Quote] = {}
        self.orders: dict[str, OrderReceipt] = {}  # by idempotency key

    def suppliers(self) -> Sequence[SupplierInfo]:
        return self.real.suppliers()

    def _supplier(self, supplier: str) -> SupplierInfo:
        directory = {s.supplier: s for s in self.real.suppliers()}
        info = directory.get(supplier)
        if info is None:
            raise ToolError(f"no supplier {supplier!r}; suppliers: {', '.join(directory) or 'none'}")
        return info

    def _price(self, sku: str) -> int:
        paid = self.unit_cost(sku)
        if paid:
            return paid
        ref = self.reference_price.get(sku)
        return max(1, ref // 2) if ref else UNKNOWN_UNIT_COST_CENTS

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        info = self._supplier(supplier)
        if not items or any(int(n) <= 0 for n in items.values()):
            raise ToolError("name at least one product, each with a positive number of units")
        unknown = sorted(set(items) - set(info.skus)) if info.skus else []
        if unknown:
            raise ToolError(f"{supplier} does not sell {', '.join(unknown)}")
        lines = tuple(QuoteLine(sku=sku, quantity=int(n), unit_cost_cents=self._price(sku))
                      for sku, n in sorted(items.items()))
        return self._quote(info, lines, text="shadow quote")

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        base = self.quotes.get(quote_id)
        if base is None:
            raise ToolError(f"no quote {quote_id!r} has been answered")
        lines = tuple(QuoteLine(sku=ln.sku, quantity=ln.quantity, unit_cost_cents=max(
            1, (ln.unit_cost_cents + min(ln.unit_cost_cents, int(unit_costs_cents.get(ln.sku, ln.unit_cost_cents))))
            // 2)) for ln in base.lines)
        return self._quote(self._supplier(base.supplier), lines, text=f"shadow counter-offer on {quote_id}",
                           counter_of=quote_id)

    def _quote(self, info: SupplierInfo, lines: tuple[QuoteLine, ...], *, text: str,
               counter_of: str = "") -> QuoteRequested:
        """Asked and answered at once: the receipt, and the answer told as the supplier's event."""
        now = self.clock.now()
        quote = Quote(quote_id=self.log.next_id("quote"), supplier=info.supplier, lines=lines,
                      lead_time_days=info.lead_time_days, valid_until=now + timedelta(days=QUOTE_VALID_DAYS), text=text)
        self.quotes[quote.quote_id] = quote
        self.log.add("quote", quote_id=quote.quote_id, supplier=info.supplier, total_cents=quote.total_cents)
        self.tell(ev.QuoteReceived(id=f"{quote.quote_id}:quoted", ts=now, quote_id=quote.quote_id,
                                   supplier=quote.supplier, lines=quote.lines, lead_time_days=quote.lead_time_days,
                                   valid_until=quote.valid_until, text=text, counter_of=counter_of))
        return QuoteRequested(quote_id=quote.quote_id, supplier=quote.supplier, expected_by=now, counter_of=counter_of)

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        known = self.orders.get(idempotency_key)
        if known is not None:
            return known
        quote = self.quotes.get(quote_id)
        if quote is None:
            raise ToolError(f"no quote {quote_id!r} has arrived")
        now = self.clock.now()
        if quote.valid_until < now:
            raise ToolError(f"quote {quote_id} expired on {quote.valid_until.date().isoformat()}")
        receipt = OrderReceipt(order_id=self.log.next_id("order"), supplier=quote.supplier,
                               total_cents=quote.total_cents, expected_at=now + timedelta(days=quote.lead_time_days),
                               lines=quote.lines)
        self.orders[idempotency_key] = receipt
        self.log.add("order", order_id=receipt.order_id, quote_id=quote_id, total_cents=receipt.total_cents)
        return receipt
