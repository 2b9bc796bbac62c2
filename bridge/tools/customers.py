"""Special orders for customers in chat, by product: a payment link priced per unit and passed by the
price guardrails (never below cost outside a clearance, discount within the cap), the order's
state as payments and hand-overs arrive, and handing paid-for goods over. Refunds and plain
payment links are `bridge/tools/service.py`'s; this group sits next to it in the toolbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge import events as ev
from bridge.errors import ToolError
from bridge.tools.paging import page_of
from bridge.tools.shop import ShopTools
from bridge.tools.spec import Kind, tool


@dataclass(slots=True)
class SpecialOrder:
    link_id: str
    customer: str
    conversation: str
    sku: str
    quantity: int
    amount_cents: int
    discount_percent: int
    status: str = "unpaid"  # unpaid, paid, handing_over, handed_over, refunded
    task: str = ""
    order_ref: str = ""  # what the payment names (live, Stripe's payment is not the link's id)


class CustomerTools:
    def __init__(self, *, shop: ShopTools) -> None:
        self.shop = shop
        self.orders: dict[str, SpecialOrder] = {}
        self.discount_cents = 0
        shop.listeners.append(self.observe)

    def observe(self, event: ev.Event) -> None:
        if isinstance(event, ev.PaymentReceived):
            paid = self._paid_by(event)
            if paid is not None:
                paid.status = "paid"
        elif isinstance(event, ev.HandedOver) and event.payment_ref in self.orders:
            self.orders[event.payment_ref].status = "handed_over"
        elif isinstance(event, ev.TaskCompleted) and not event.ok:
            for o in self.orders.values():
                if o.status == "handing_over" and event.task_id == o.task:
                    o.status = "paid"

    def _paid_by(self, e: ev.PaymentReceived) -> SpecialOrder | None:
        """The special order a payment pays: its link (the simulator's payment names it), else the oldest
        unpaid order of the payment's order reference and amount (a Stripe payment names its own id)."""
        if e.payment_ref in self.orders:
            return self.orders[e.payment_ref]
        for o in self.orders.values():
            if o.status == "unpaid" and e.order_ref and o.order_ref == e.order_ref and o.amount_cents == e.amount_cents:
                return o
        return None

    @tool(Kind.WRITE, minutes=10, guard="special_order")
    def create_special_order(self, conversation: str, customer: str, sku: str, quantity: int,
                            unit_price_cents: int, discount_percent: int = 0) -> dict[str, Any]:
        """Make a payment link for a special order (a product the machine does not carry). The
        customer pays first; buy the goods only once the payment has arrived (list_special_orders).

        Args:
            conversation: the customer's conversation id.
            customer: the customer's user id.
            sku: the product ordered.
            quantity: units.
            unit_price_cents: the price per unit before any discount; not below cost.
            discount_percent: a discount on the order, within the shop's discount cap.
        """
        if quantity <= 0:
            raise ToolError("quantity must be positive")
        full = unit_price_cents * quantity
        order_ref = f"special:{sku}:{quantity}:{customer}"
        amount = full * (100 - discount_percent) // 100
        link = self.shop.backend.payments.create_payment_link(
            order_ref=order_ref, amount_cents=amount,
            description=f"{quantity} x {sku}", customer=customer)
        self.orders[link.link_id] = SpecialOrder(link_id=link.link_id, customer=customer, conversation=conversation,
                                                 sku=sku, quantity=quantity, amount_cents=amount,
                                                 discount_percent=discount_percent, order_ref=order_ref)
        self.discount_cents += full - amount
        return {"link_id": link.link_id, "url": link.url, "amount_cents": amount}

    @tool(Kind.READ, minutes=3)
    def list_special_orders(self, status: str = "", page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """Special orders and where each stands, newest first: unpaid, paid (buy and hand over),
        handing_over, handed_over, refunded. Paged.

        Args:
            status: only orders in this state; empty for all.
            page: which page, from 1.
            per_page: orders per page, 1 to 1000.
        """
        items = [{"link_id": o.link_id, "customer": o.customer, "conversation": o.conversation, "sku": o.sku,
                  "quantity": o.quantity, "amount_cents": o.amount_cents, "status": o.status}
                 for o in reversed(self.orders.values()) if not status or o.status == status]
        return page_of(items, page=page, per_page=per_page)

    @tool(Kind.WRITE, minutes=15, guard="allow")
    def hand_over(self, link_id: str) -> dict[str, Any]:
        """Ask ops to take a paid special order from storage to the customer's desk.

        Args:
            link_id: the special order's payment link.
        """
        o = self.orders.get(link_id)
        if o is None or o.status != "paid":
            raise ToolError(f"{link_id} is not a paid special order waiting for its goods")
        if self.shop.storage_units(o.sku) < o.quantity:
            raise ToolError(f"storage has {self.shop.storage_units(o.sku)} x {o.sku}; {o.quantity} needed")
        receipt = self.shop.backend.physical.request_handover(sku=o.sku, quantity=o.quantity, customer=o.customer,
                                                              payment_ref=link_id, amount_cents=o.amount_cents)
        o.status = "handing_over"
        o.task = receipt.task_id
        return {"task_id": receipt.task_id}
