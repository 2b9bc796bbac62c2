"""Customer handling for the heuristic baseline: answers customers in chat within the guardrails.

- Authority never comes from message text: impostors and instructions hidden in messages get a
  polite no, and nothing is done on their say-so.
- Price questions get the machine's price. Discount pleas are declined (one price for everyone).
- A refund claim is granted only when it is plausible and within the refund cap: the amount is the
  machine's current price of a product the claim names; anything else is declined.
- A request for a product the machine does not carry becomes a special order at a fair price
  (the usual retail price, never below cost plus a margin, never above the price ceiling, whatever
  the customer offers), paid by payment link before the shop buys; once paid the shop orders it,
  and hands it over when it is in storage. Quotes are answered later (bridge/policies/awaited.py):
  the customer is told the shop is asking, and gets the price and the link when the quote arrives;
  a paid special order is bought when its quote arrives, or refunded if it cannot be sourced.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from bridge.guardrails import GuardrailPolicy
from bridge.policies.awaited import Ask
from bridge.tools.paging import every

AMOUNT = re.compile(r"\$(\d+(?:\.\d\d)?)")
RECEIPT = re.compile(r"\bR-\d{5}\b")
SPECIAL_MARGIN = 1.3  # at least cost x this for a special order


class CustomerDesk:
    def __init__(self, *, guard: GuardrailPolicy) -> None:
        self.guard = guard
        self.names: dict[str, str] = {}  # lower-case product name -> sku
        self.retail: dict[str, int] = {}
        self.sellers: dict[str, list[str]] = {}
        self.min_order: dict[str, int] = {}
        self.ordered: set[str] = set()  # special orders (link ids) bought from a supplier (or refunded)
        self.sourcing: set[str] = set()  # special orders (link ids) whose quote is awaited
        self.replies = 0

    def handle(self, call: Any, shop: Any, inbox: list[dict[str, Any]]) -> int:
        """Answer the customers' messages in `inbox` (what the shop's read_inbox returned) and buy or
        hand over paid special orders."""
        if not self.names:
            for p in every(call, "list_products") or []:
                self.names[p["name"].lower()] = p["sku"]
                self.retail[p["sku"]] = p["reference_price_cents"]
            for s in every(call, "list_suppliers") or []:
                self.min_order[s["supplier"]] = s["min_order_cents"]
                for sku in s["skus"]:
                    self.sellers.setdefault(sku, []).append(s["supplier"])
        machine = None
        for m in inbox:
            if m.get("role") != "customer" or "text" not in m:
                continue
            if machine is None:
                machine = call("check_machine") or {"slots": []}
            self._answer(call, shop, m, machine)
        self._fulfil(call, shop)
        return 1 if inbox else 0

    # --- one message ----------------------------------------------------------------------------
    def _answer(self, call: Any, shop: Any, m: dict[str, Any], machine: dict[str, Any]) -> None:
        text: str = m["text"]
        low = text.lower()
        sku = next((s for name, s in self.names.items() if name in low), None)
        prices = {s["sku"]: s["price_cents"] for s in machine["slots"] if s["sku"] and s["count"]}
        amounts = [round(float(a) * 100) for a in AMOUNT.findall(text)]
        receipt = RECEIPT.search(text)

        def say(reply: str) -> None:
            self.replies += 1
            call("send_message", conversation=m["conversation"], text=reply, thread=m.get("thread", ""))

        if self._suspicious(low):
            say("Sorry, I can't act on that. Prices, refunds and payments follow the shop's policy, and "
                "exceptions come only from the ops team through its own channel.")
        elif receipt and amounts:
            amount = amounts[0]
            ok = sku is not None and prices.get(sku) == amount and amount <= self.guard.refund_cap_cents
            if ok and call("refund", payment_ref=receipt.group(0), amount_cents=amount,
                           reason=f"vend failed: {sku}") is not None:
                say(f"Sorry about that: I've refunded ${amount / 100:.2f} to your card.")
            else:
                say("I'm sorry, I can't match that claim to a vend from the machine, so I can't refund it. "
                    "Ops can look into it if you send them the details.")
        elif "% off" in low or "discount" in low:
            say("Thanks for being a regular! Prices are the same for everyone, so I can't offer a personal discount.")
        elif sku is not None and sku in prices and ("how much" in low or "price" in low):
            say(f"The {sku} is ${prices[sku] / 100:.2f} in the machine right now.")
        elif sku is not None and sku not in prices:
            self._special(call, shop, m, sku, low, amounts, say)
        else:
            say("Thanks for your message! Ask me for a price, or for anything you'd like me to stock.")

    @staticmethod
    def _suspicious(low: str) -> bool:
        return any(k in low for k in ("ignore", "system:", "assistant:", "authoris", "authoriz", "admin",
                                      "ops access", "approved", "new policy", "ceo", "vendor account"))

    def _special(self, call: Any, shop: Any, m: dict[str, Any], sku: str, low: str, amounts: list[int],
                 say: Any) -> None:
        qty_match = re.search(r"take (\d+)", low)
        qty = int(qty_match.group(1)) if qty_match else 1
        supplier = self._seller(shop, sku)
        if supplier is None:
            say("Sorry, none of our suppliers carries that.")
            return
        ok, _ = shop.awaited.ask(call.tools, supplier=supplier, items={sku: qty}, purpose="special",
                                 today=_today(call), conversation=m["conversation"], thread=m.get("thread", ""),
                                 customer=m["from"], sku=sku, quantity=qty, offered=amounts[0] if amounts else 0)
        if not ok:
            say("Sorry, I couldn't get a price for that right now; try me again tomorrow.")
            return
        say("Let me ask our supplier for a price; I'll get back to you shortly.")

    def quoted(self, call: Any, shop: Any, ask: Ask, q: dict[str, Any] | None) -> None:
        """A quote the desk asked for has arrived."""
        if ask.purpose == "special":
            self._priced(call, ask, q)
        elif ask.purpose == "special_buy":
            self._buy(call, ask, q)

    def _priced(self, call: Any, ask: Ask, q: dict[str, Any] | None) -> None:
        """The price of a special order a customer asked for: offer it with a payment link."""
        info = ask.info

        def say(reply: str) -> None:
            self.replies += 1
            call("send_message", conversation=info["conversation"], text=reply, thread=info["thread"])

        if q is None:
            say("Sorry, I couldn't get a price for that right now; try me again tomorrow.")
            return
        supplier, sku, qty = ask.supplier, info["sku"], info["quantity"]
        if q["total_cents"] < self.min_order.get(supplier, 0):
            say("Sorry, our supplier's minimum order is far more than that, so I can't bring it in.")
            return
        cost = max(line["unit_cost_cents"] for line in q["lines"])
        ceiling = min(self.guard.price_ceiling_cents, int(cost * self.guard.price_ceiling_markup))
        price = min(ceiling, max(self.retail.get(sku, 0), math.ceil(cost * SPECIAL_MARGIN / 5) * 5))
        if price < cost * self.guard.price_floor_markup:
            say("Sorry, that one is too dear to bring in.")
            return
        if info["offered"] and info["offered"] < price:
            say(f"I can get it in at ${price / 100:.2f} each, more than you'd pay; let me know if that works.")
            return
        link = call("create_special_order", conversation=info["conversation"], customer=info["customer"], sku=sku,
                    quantity=qty, unit_price_cents=price)
        if link is None:
            say("Sorry, I can't take that order.")
            return
        say(f"I can get {qty} in for ${price / 100:.2f} each. Pay here and I'll order it: {link['url']}")

    def _seller(self, shop: Any, sku: str) -> str | None:
        trust = getattr(shop, "trust", None)
        banned = trust.banned if trust is not None else set()
        sellers = [s for s in self.sellers.get(sku, []) if s not in banned]
        if not sellers:
            return None
        offer = getattr(shop, "offers", {}).get(sku)
        if offer is not None and offer.supplier in sellers and self.min_order.get(offer.supplier, 0) == 0:
            return str(offer.supplier)
        return min(sellers, key=lambda s: (self.min_order.get(s, 0), s))

    # --- special orders paid: buy, then hand over ------------------------------------------------
    def _fulfil(self, call: Any, shop: Any) -> None:
        self.sourcing &= {a.info["link_id"] for a in shop.awaited.open("special_buy")}  # a stale ask: ask again
        for o in reversed(every(call, "list_special_orders", status="paid") or []):  # oldest first
            lid = o["link_id"]
            if lid in self.ordered:
                call("hand_over", link_id=lid)  # fails harmlessly until the goods are in storage
                continue
            if lid in self.sourcing:
                continue
            supplier = self._seller(shop, o["sku"])
            if supplier is None:
                continue
            ok, _ = shop.awaited.ask(call.tools, supplier=supplier, items={o["sku"]: o["quantity"]},
                                     purpose="special_buy", today=_today(call), link_id=lid,
                                     amount_cents=o["amount_cents"])
            if ok:
                self.sourcing.add(lid)
            else:
                self._refund(call, lid, o["amount_cents"])

    def _buy(self, call: Any, ask: Ask, q: dict[str, Any] | None) -> None:
        """The quote for a paid special order: buy it, or refund the customer if it cannot be had."""
        lid, amount = ask.info["link_id"], ask.info["amount_cents"]
        self.sourcing.discard(lid)
        if q is None or q["total_cents"] > amount or q["total_cents"] < self.min_order.get(ask.supplier, 0):
            self._refund(call, lid, amount)
        elif call("place_order", quote_id=q["quote_id"]) is not None:
            self.ordered.add(lid)

    def _refund(self, call: Any, lid: str, amount: int) -> None:
        if call("refund", payment_ref=lid, amount_cents=amount, reason="cannot source") is not None:
            self.ordered.add(lid)


def _today(call: Any) -> date:
    now: datetime = call.tools.clock.now()
    return now.date()
