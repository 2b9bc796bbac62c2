"""Customers' card payments in `vend hil`: the payment links (Stripe Checkout Sessions) the shop creates
on the loopback Stripe double reach the scenario's simulated customers, who pay or abandon them as in
`vend sim`; a payment is made on the double (the session completed) and Stripe's signed webhooks tell the
shop; a refund the shop makes on the double is told to the customers' truth in the world."""

from __future__ import annotations

from typing import Any

from bridge import events as ev


class CardDesk:
    def __init__(self, *, world: Any, stripe: Any, webhook_url: str, secret: str) -> None:
        self.world = world
        self.stripe = stripe
        self.url = webhook_url
        self.secret = secret
        self.sessions: set[str] = set()
        self.refunds: set[str] = set()
        self.by_intent: dict[str, str] = {}  # a PaymentIntent -> the session (the world's link) it paid

    @property
    def customers(self) -> Any:
        extras = self.world.extras
        return extras.customers if extras is not None else None

    def intake(self) -> None:
        """Links and refunds the shop made on the double since the last look."""
        state = self.stripe.state
        with self.stripe.state.lock:
            sessions = [s for s in state.all("checkout.session") if s["id"] not in self.sessions]
            refunds = [r for r in state.all("refund") if r["id"] not in self.refunds]
            items = {s["id"]: state.line_items.get(s["id"], []) for s in sessions}
        customers = self.customers
        for s in sessions:
            self.sessions.add(s["id"])
            meta = s.get("metadata") or {}
            names = [str(it.get("description") or "") for it in items[s["id"]]]
            if customers is not None:
                customers.link_created(s["id"], int(s["amount_total"] or 0), str(meta.get("order_ref", "")),
                                       str(meta.get("customer", "")), " ".join(names))
        for r in refunds:
            self.refunds.add(r["id"])
            link = self.by_intent.get(str(r.get("payment_intent") or ""))
            if customers is not None and link is not None:
                meta = r.get("metadata") or {}
                customers.refund(link, int(r["amount"]), str(meta.get("reason", "")))
        if refunds:
            self.deliver()

    def play(self, events: list[ev.Event]) -> None:
        """The world's customers paid these links: complete the sessions on the double, then the webhooks."""
        paid = False
        for e in events:
            if isinstance(e, ev.PaymentReceived) and e.payment_ref in self.sessions:
                session = self.stripe.complete_checkout_session(e.payment_ref)
                if session.get("payment_intent"):
                    self.by_intent[str(session["payment_intent"])] = e.payment_ref
                paid = True
        if paid:
            self.deliver()

    def deliver(self) -> None:
        from bridge.errors import AdapterError

        for event_id, status in self.stripe.deliver_events(self.url, self.secret):
            if status != 200:
                raise AdapterError(f"/stripe/webhook answered {status} to {event_id}")
