"""Customer-service tools: special orders paid by payment link, refunds, and approvals by a person.

A second tool group next to `ShopTools` (whose guard context it shares). Payment links and refunds
go through the Payments port; approvals through the Approvals port, whose decisions arrive as
`ApprovalDecided` events that only an adapter which checked the approver's role emits.
"""

from __future__ import annotations

from typing import Any, Literal

from bridge.errors import ToolError
from bridge.tools.shop import ShopTools
from bridge.tools.spec import Kind, tool


class ServiceTools:
    def __init__(self, *, shop: ShopTools) -> None:
        self.shop = shop
        self.backend = shop.backend
        self._orders = 0
        self.special_orders: dict[str, dict[str, Any]] = {}  # order_ref -> what was asked and for whom

    @tool(Kind.WRITE, minutes=10, guard="allow")
    def create_payment_link(self, customer: str, amount_cents: int, description: str) -> dict[str, Any]:
        """Make a card payment link for a special order; send its URL to the customer. You hear
        in read_inbox when it is paid (a "payment" notice with the order_ref); only then order the goods.

        Args:
            customer: the customer's id (the "from" of their message).
            amount_cents: what the customer pays, in cents.
            description: what they are buying, as the customer will see it.
        """
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        self._orders += 1
        order_ref = f"so-{self.backend.shop}-{self._orders:05d}"
        link = self.backend.payments.create_payment_link(order_ref=order_ref, amount_cents=amount_cents,
                                                         description=description, customer=customer)
        self.special_orders[order_ref] = {"customer": customer, "amount_cents": amount_cents,
                                          "description": description, "link_id": link.link_id}
        return {"order_ref": order_ref, "url": link.url, "amount_cents": link.amount_cents}

    @tool(Kind.WRITE, minutes=10, guard="refund")
    def refund(self, payment_ref: str, amount_cents: int, reason: str, customer: str = "",
               approval_id: str = "") -> dict[str, Any]:
        """Refund (part of) a card payment. Above the refund cap it needs an approval from a person
        with the ops role: call request_approval first and pass the approval_id it was granted under.

        Args:
            payment_ref: the card payment to refund.
            amount_cents: how much, in cents.
            reason: why, for the books and the customer.
            customer: the customer's id, if known.
            approval_id: an approval granted for this refund, when above the cap.
        """
        refund_id = self.backend.payments.refund(payment_ref=payment_ref, amount_cents=amount_cents, reason=reason,
                                                 idempotency_key=f"refund:{payment_ref}:{amount_cents}")
        day = self.shop.today()
        self.shop.refunds_by_day[day] = self.shop.refunds_by_day.get(day, 0) + amount_cents
        return {"refund_id": refund_id, "amount_cents": amount_cents}

    @tool(Kind.WRITE, minutes=10, guard="message")
    def request_approval(self, action: Literal["order", "refund"], ref: str, amount_cents: int, summary: str,
                         beneficiary: str = "") -> dict[str, Any]:
        """Ask the ops staff to approve an order or a refund above the guardrails' limits. The decision
        comes later in read_inbox (an "approval" notice); pass its approval_id to place_order or refund.

        Args:
            action: "order" (ref is the quote_id) or "refund" (ref is the payment_ref).
            ref: the quote or payment the approval is for.
            amount_cents: the amount to approve, in cents.
            summary: one or two sentences for the approver: what and why.
            beneficiary: for a refund, the customer it pays (they may not approve it themselves).
        """
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        approval_id = self.backend.approvals.request_approval(subject=f"{action}:{ref}", amount_cents=amount_cents,
                                                 summary=summary, beneficiary=beneficiary)
        return {"approval_id": approval_id, "status": "pending"}
