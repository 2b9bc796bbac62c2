"""Vending-Bench 2 suppliers: what each archetype does to a quote, a counter-offer and an order.

The engine (`SupplierEngine`) stays the truth for every price and shipment; these functions only
decide, from the supplier's own seeded stream, how far a negotiator moves, when a quote is absurd,
what a scammer or a bait-and-switch supplier actually ships, and which orders come late. An honest
supplier with default settings never reaches this module, so `vb1` draws nothing here.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sim_backend.scenario import SupplierSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Shipment:
    """What will arrive, known only to the engine until its delivery event fires."""

    order_id: str
    supplier: str
    sku: str
    quantity: int
    unit_cost_cents: int
    arrives_day: int  # day index of the run, as promised
    delay_days: int = 0  # days later than promised


def is_plain(spec: SupplierSpec) -> bool:
    """An honest supplier with none of the Vending-Bench 2 behaviours switched on."""
    return (spec.archetype == "honest" and not spec.absurd_quote_share and not spec.late_share
            and spec.closes_on_day is None and spec.negotiation_rounds == 1)


def quote_factor(spec: SupplierSpec, rng: random.Random) -> float:
    """A multiplier on a whole quote: now and then an absurd one (3x to 8x)."""
    if spec.absurd_quote_share and rng.random() < spec.absurd_quote_share:
        return rng.uniform(3.0, 8.0)
    return 1.0


def negotiate(*, spec: SupplierSpec, listed: int, current: int, offer: int, round_no: int) -> int:
    """A negotiator moves from its list price towards its floor over `negotiation_rounds` rounds,
    never below the floor and never below an offer it could accept outright."""
    floor = round(listed * (1 - spec.negotiable_pct))
    rounds = spec.negotiation_rounds
    if offer >= current:
        return current
    step_to = listed - (listed - floor) * min(round_no, rounds) // rounds
    return max(floor, offer, min(current, step_to))


def fulfil(*, spec: SupplierSpec, shipments: Sequence[Shipment], rng: random.Random,
           prices: Mapping[str, int], day: int) -> list[Shipment]:
    """What really ships for a paid order."""
    if spec.archetype == "scam":
        return []
    out = list(shipments)
    if spec.archetype == "bait_switch" and out and rng.random() < spec.short_share:
        swapped = []
        cheap = sorted(prices, key=lambda sku: (prices[sku], sku))
        for sh in out:
            if rng.random() < 0.5 and cheap:
                # other goods: the cheapest thing on its list, same count, worth its own price
                other = cheap[rng.randrange(min(3, len(cheap)))]
                unit = min(sh.unit_cost_cents, prices[other])
                swapped.append(replace(sh, sku=other, unit_cost_cents=unit))
            else:
                swapped.append(replace(sh, quantity=max(0, round(sh.quantity * rng.uniform(0.3, 0.7)))))
        out = [sh for sh in swapped if sh.quantity > 0]
    if spec.late_share and spec.late_days_max and rng.random() < spec.late_share:
        delay = rng.randint(1, spec.late_days_max)
        out = [replace(sh, delay_days=delay) for sh in out]
    if spec.closes_on_day is not None:
        out = [sh for sh in out if sh.arrives_day + sh.delay_days < spec.closes_on_day]
    return out


# --- replies, from seeded templates ------------------------------------------------------------
GREETINGS = {
    "honest": ("Thanks for your enquiry.",),
    "friendly": ("Great to hear from you again!", "Happy to help as always.", "Thanks so much for thinking of us!"),
    "negotiating": ("Thanks for reaching out. Our prices are negotiable for serious buyers.",
                    "Good day. List prices below; make us an offer, prices are negotiable."),
    "scam": ("LIMITED TIME: lowest prices guaranteed, pay today to lock them in!",
             "Exclusive wholesale deal, prepayment required, fastest shipping in the state."),
    "bait_switch": ("Best prices in town, satisfaction guaranteed.", "Bulk deals on all brands, order now."),
}
COUNTERS = {
    "honest": ("We can meet you part of the way.",),
    "friendly": ("For you, we can shave a little off.",),
    "negotiating": ("We can come down a bit.", "Let's meet in the middle.", "That's tight, but here's our revised offer."),
    "scam": ("Fine, special discount just for you, but pay today.",),
    "bait_switch": ("OK, a small discount.",),
}
FINAL = "That is our final price."


def greeting(spec: SupplierSpec, rng: random.Random) -> str:
    options = GREETINGS[spec.archetype]
    return options[0] if len(options) == 1 else options[rng.randrange(len(options))]


def counter_text(spec: SupplierSpec, rng: random.Random) -> str:
    options = COUNTERS[spec.archetype]
    return options[0] if len(options) == 1 else options[rng.randrange(len(options))]
