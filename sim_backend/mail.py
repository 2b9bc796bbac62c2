"""Suppliers who answer mail: a message sent to a supplier's contact (`orders@<id>.example`, or its
id) is read for the products it names, the prices it offers and what it asks (prices, terms,
delivery, a discount), and answered a seeded while later as a `MessageReceived` from the supplier.

The answer is words around the engine's truth: the list prices of that moment, the lead time and
minimum order of the directory, and how far the supplier's archetype moves on a counter-offer. A
negotiator names a price it would accept for an offer in words; an honest supplier says its list
price stands but it meets a counter-offer part of the way; a scammer agrees to anything and asks
for payment today. Nothing here is orderable: orders go through quotes (`request_quote`). Delays
come from each supplier's own "supplier-mail" stream, so mail never shifts the other draws.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from bridge import events as ev
from sim_backend.rng import rng_for
from sim_backend.scenario import SupplierSpec

if TYPE_CHECKING:
    from sim_backend.engine import SimWorld

MONEY = re.compile(r"\$\s?(\d+(?:\.\d{1,2})?)|(\d+)\s?(?:c|cents)\b", re.IGNORECASE)
NEGOTIATE = re.compile(r"\b(discount|negotiat\w*|cheaper|better price|lower|offer|deal|would you take|can you do)\b",
                       re.IGNORECASE)
TERMS = re.compile(r"\b(terms|lead time|deliver\w*|minimum|min order|shipping|payment|pay)\b", re.IGNORECASE)


def contact_of(supplier: str) -> str:
    return f"orders@{supplier}.example"


class SupplierMail:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.rngs: dict[str, random.Random] = {}
        self.answered = 0  # mails answered, for the state hash and reports

    def addressee(self, conversation: str) -> SupplierSpec | None:
        """The supplier a conversation is addressed to: its contact address, "supplier:<id>", "email:<id>"
        or its id."""
        specs = self.world.suppliers.specs
        c = conversation.strip().lower()
        m = re.fullmatch(r"orders@([\w.-]+)\.example", c)
        if m:
            return specs.get(m.group(1))
        return specs.get(c.removeprefix("supplier:").removeprefix("email:"))

    def receive(self, conversation: str, text: str, thread: str = "") -> bool:
        """Mail to a supplier: its answer is scheduled. False when `conversation` is no supplier's."""
        spec = self.addressee(conversation)
        if spec is None:
            return False
        rng = self.rngs.setdefault(spec.id, rng_for(self.world.seed, f"supplier-mail:{spec.id}"))
        delay = timedelta(minutes=rng.randint(spec.reply_minutes_min, spec.reply_minutes_max))
        w = self.world
        w.schedule(w.now + delay, self._answer, spec, conversation, text, thread)
        return True

    def _answer(self, spec: SupplierSpec, conversation: str, text: str, thread: str) -> None:
        self.answered += 1
        self.world.emit(ev.MessageReceived, conversation=conversation, sender=contact_of(spec.id), role="supplier",
                        text=self.reply(spec, text), thread=thread)

    # --- the answer -----------------------------------------------------------------------------
    def reply(self, spec: SupplierSpec, text: str) -> str:
        w = self.world
        engine = w.suppliers
        if spec.closes_on_day is not None and w.day_index() >= spec.closes_on_day:
            return f"Delivery failure: mail to {contact_of(spec.id)} bounced; {spec.name} appears to have ceased trading."
        low = text.lower()
        sells = {sku for (sid, sku) in engine.prices if sid == spec.id}
        named = sorted(sku for sku, e in w.catalogue.items() if sku in low or _short(e.product.name) in low)
        parts = [f"Hello from {spec.name}."]
        carried = [sku for sku in named if sku in sells]
        missing = [sku for sku in named if sku not in sells]
        offers = [_cents(m) for m in MONEY.finditer(text)]
        for sku in carried:
            listed = engine.prices[(spec.id, sku)]
            line = f"{sku}: ${listed / 100:.2f} a unit"
            if spec.volume_discount and spec.volume_discount_units:
                line += f" ({spec.volume_discount:.0%} off from {spec.volume_discount_units} units)"
            parts.append(line + ".")
        if missing:
            parts.append(f"We do not carry {', '.join(missing)}.")
        if not named:
            cats = ", ".join(spec.categories)
            parts.append(f"We supply {cats}: {len(sells)} products. Name the products you want and we will price them.")
        if NEGOTIATE.search(text) or offers:
            parts.append(self._haggle(spec, carried, offers))
        if TERMS.search(text) or not (named or offers):
            parts.append(f"Terms: payment with the order, delivery {spec.lead_time_days} day(s) after payment, "
                         f"minimum order ${spec.min_order_cents / 100:.2f}.")
        parts.append("Ask for a quote (request_quote) to order; quotes are valid for 7 days.")
        return " ".join(parts)

    def _haggle(self, spec: SupplierSpec, carried: list[str], offers: list[int]) -> str:
        engine = self.world.suppliers
        if spec.archetype == "scam":
            return "Any price you like, friend: just pay today and it ships tomorrow, guaranteed!"
        if spec.archetype == "negotiating" and carried:
            sku = carried[0]
            listed = engine.prices[(spec.id, sku)]
            floor = round(listed * (1 - spec.negotiable_pct))
            offer = offers[0] if offers else 0
            if offer >= floor:
                return (f"For {sku} we could accept ${offer / 100:.2f}: ask for a quote and counter-offer that, "
                        "and we will confirm.")
            middle = (listed + floor) // 2
            return (f"That is too low for {sku}. We could come down towards ${middle / 100:.2f} over a couple "
                    "of counter-offers on a quote.")
        if spec.archetype == "negotiating":
            return "Our prices are negotiable for serious buyers: ask for a quote and make us an offer."
        if spec.negotiable_pct:
            return (f"Our list prices stand, but on a quote we can meet a counter-offer part of the way "
                    f"(up to {spec.negotiable_pct:.0%}), once.")
        return "Our list prices are firm."


def _cents(m: re.Match[str]) -> int:
    if m.group(1):
        return round(float(m.group(1)) * 100)
    return int(m.group(2))


def _short(name: str) -> str:
    """A product's name up to its size ("Snapple Peach Tea" of "Snapple Peach Tea 16 oz bottle")."""
    words = name.lower().split()
    cut = next((i for i, w in enumerate(words) if any(c.isdigit() for c in w)), len(words))
    return " ".join(words[:cut]) or name.lower()


__all__ = ["SupplierMail", "contact_of"]
