"""StripePayments: the Payments and CardSessions ports on the real `stripe` SDK.

- Special orders are paid through a one-shot Checkout Session (the port's "payment link"): it can be
  paid once, so one order is never charged twice, and the money arrives before the shop buys. The
  order's reference rides in the session's and the PaymentIntent's metadata, so webhooks tie the
  payment back to it.
- Fridge sessions are a PaymentIntent with manual capture: held when the door unlocks, captured for
  the basket when it closes, cancelled when nothing was taken.
- Every write carries an idempotency key derived from the project's own ids (`vb:<shop>:...`), so a
  retry (by the SDK after a dropped connection, or by the caller after an outage) is replayed by
  Stripe, never executed twice.

Only project types cross the port; Stripe's errors are mapped in `client.vendor_errors`.
"""

from __future__ import annotations

import re
from typing import Any

import stripe

from bridge.errors import ToolError
from bridge.ports import Balance, CardHold, PaymentLink
from hardware_adapters.stripe.client import call

FRIDGE = "fridge"  # metadata kind of a card-present session's PaymentIntent
SPECIAL_ORDER = "special_order"
VEND = "vend"  # metadata kind of a vend paid at a machine's card reader; `receipt` is the receipt it printed
RECEIPT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class StripePayments:
    def __init__(self, *, client: stripe.StripeClient, shop: str = "main", currency: str = "usd",
                 success_url: str = "https://vendbridge.invalid/paid",
                 card_method_types: tuple[str, ...] = ("card",)) -> None:
        self.client = client
        self.shop = shop
        self.currency = currency
        self.success_url = success_url
        self.card_method_types = list(card_method_types)

    def _key(self, *parts: str) -> dict[str, Any]:
        return {"idempotency_key": ":".join(("vb", self.shop, *parts))}

    # --- Payments ---------------------------------------------------------------------------------
    def balance(self) -> Balance:
        """Stripe's balance in the shop's currency: `available` is settled (paid out to the bank by
        Stripe's payouts), `pending` is card takings not settled yet; both net of Stripe's fees."""
        bal = call("balance", lambda: self.client.v1.balance.retrieve())

        def total(funds: Any) -> int:
            return sum(int(f.amount) for f in funds or () if f.currency == self.currency)

        return Balance(available_cents=total(bal.available), pending_cents=total(bal.pending))

    def create_payment_link(self, *, order_ref: str, amount_cents: int, description: str,
                            customer: str) -> PaymentLink:
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        meta = {"kind": SPECIAL_ORDER, "order_ref": order_ref, "customer": customer[:500], "shop": self.shop}
        params: dict[str, Any] = {
            "mode": "payment", "client_reference_id": order_ref, "metadata": meta,
            "success_url": self.success_url, "payment_method_types": list(self.card_method_types),
            "line_items": [{"quantity": 1, "price_data": {
                "currency": self.currency, "unit_amount": amount_cents,
                "product_data": {"name": description[:250] or order_ref}}}],
            "payment_intent_data": {"metadata": meta, "description": f"{order_ref}: {description}"[:1000]},
        }
        session = call(f"payment link for {order_ref}", lambda: self.client.v1.checkout.sessions.create(
            params=params, options=self._key("checkout", order_ref)))  # type: ignore[arg-type]
        return PaymentLink(link_id=session.id, url=str(session.url), amount_cents=int(session.amount_total or 0),
                           order_ref=order_ref)

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        """Refund (part of) a payment. `payment_ref` is what PaymentReceived carried (a PaymentIntent
        id) or the checkout session id of a payment link; the RefundIssued event follows by webhook."""
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        intent = self._intent_of(payment_ref)
        params: dict[str, Any] = {"payment_intent": intent, "amount": amount_cents, "reason": "requested_by_customer",
                                  "metadata": {"reason": reason[:500], "shop": self.shop, "payment_ref": payment_ref}}
        refund = call(f"refund of {payment_ref}", lambda: self.client.v1.refunds.create(
            params=params, options=self._key("refund", idempotency_key)))  # type: ignore[arg-type]
        return str(refund.id)

    def _intent_of(self, payment_ref: str) -> str:
        if payment_ref.startswith("pi_"):
            return payment_ref
        if payment_ref.startswith("cs_"):
            session = call(f"payment {payment_ref}", lambda: self.client.v1.checkout.sessions.retrieve(payment_ref))
            if not session.payment_intent:
                raise ToolError(f"{payment_ref} has not been paid")
            return str(session.payment_intent if isinstance(session.payment_intent, str)
                       else session.payment_intent.id)
        if payment_ref.startswith("ch_"):
            charge = call(f"payment {payment_ref}", lambda: self.client.v1.charges.retrieve(payment_ref))
            return str(charge.payment_intent)
        return self._intent_of_receipt(payment_ref)

    def _intent_of_receipt(self, receipt: str) -> str:
        """A vend paid at a machine's card reader, by the receipt number the customer quotes (its
        PaymentIntent carries it in its metadata)."""
        if not RECEIPT.match(receipt):
            raise ToolError(f"no card payment {receipt!r} to refund")
        query = f"metadata['receipt']:'{receipt}'"
        found = call(f"payment {receipt}", lambda: self.client.v1.payment_intents.search(params={"query": query}))
        intents = [pi for pi in found.data if pi.to_dict().get("metadata", {}).get("kind") == VEND]
        if not intents:
            raise ToolError(f"no card payment {receipt!r} to refund")
        return str(intents[0].id)

    # --- CardSessions (the fridge) -----------------------------------------------------------------
    def authorise(self, *, session: str, machine: str, hold_cents: int, card: str) -> CardHold:
        if hold_cents <= 0:
            raise ToolError("hold_cents must be positive")
        params: dict[str, Any] = {
            "amount": hold_cents, "currency": self.currency, "capture_method": "manual", "confirm": True,
            "payment_method": card, "payment_method_types": list(self.card_method_types),
            "description": f"{machine} session {session}",
            "metadata": {"kind": FRIDGE, "session": session, "machine": machine, "shop": self.shop}}
        pi = call(f"card hold for session {session}", lambda: self.client.v1.payment_intents.create(
            params=params, options=self._key("fridge", session, "authorise")))  # type: ignore[arg-type]
        if pi.status != "requires_capture":
            raise ToolError(f"card not authorised for session {session} (status {pi.status})")
        return CardHold(session=session, payment_ref=pi.id, held_cents=int(pi.amount_capturable or pi.amount),
                        status="authorised")

    def capture(self, *, session: str, payment_ref: str, amount_cents: int) -> CardHold:
        if amount_cents < 0:
            raise ToolError("amount_cents must not be negative")
        if amount_cents == 0:
            return self.cancel(session=session, payment_ref=payment_ref)
        params: dict[str, Any] = {"amount_to_capture": amount_cents, "metadata": {"basket_cents": str(amount_cents)}}
        pi = call(f"capture for session {session}", lambda: self.client.v1.payment_intents.capture(
            payment_ref, params=params, options=self._key("fridge", session, "capture")))  # type: ignore[arg-type]
        return CardHold(session=session, payment_ref=pi.id, held_cents=int(pi.amount), status="captured",
                        captured_cents=int(pi.amount_received or 0))

    def cancel(self, *, session: str, payment_ref: str) -> CardHold:
        params: dict[str, Any] = {"cancellation_reason": "abandoned"}
        pi = call(f"release of session {session}", lambda: self.client.v1.payment_intents.cancel(
            payment_ref, params=params, options=self._key("fridge", session, "cancel")))  # type: ignore[arg-type]
        return CardHold(session=session, payment_ref=pi.id, held_cents=int(pi.amount), status="canceled")
