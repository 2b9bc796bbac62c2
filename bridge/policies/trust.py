"""Supplier trust for the heuristic baseline: learns, from what happens to its own orders, which
suppliers deliver, and copes with the Vending-Bench 2 market without hidden knowledge.

- An order still owed after its expected date plus a grace period (longer for a supplier that has
  delivered before), or one delivered short or with other goods, is written off
  (`write_off_order`) and its supplier is no longer used.
- A supplier whose mail bounces is dropped at once.
- Until a supplier has delivered once it is on probation: one open order at a time, small.
- A quote far above what the shop knows the product costs (an absurd quote) is not ordered.
- A supplier whose quote says its prices are negotiable is haggled with (`counter_offer`) for a few
  rounds, each answered later like any quote (bridge/policies/awaited.py plays them); the structured
  quote, never the text, says what the price is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

GRACE_NEW = timedelta(days=3)  # past the expected date, for a supplier that has not delivered yet
GRACE_PROVEN = timedelta(days=7)  # for one that has
PROBATION_CENTS = 8_000  # the largest order a supplier on probation gets
ABSURD = 1.6  # a quote this many times the known unit cost is not ordered
ABSURD_OF_RETAIL = 0.9  # nor one at this share of the usual retail price
MAX_ROUNDS = 4
FIRST_OFFER = 0.6  # the opening counter-offer, as a share of the quoted price
NEGOTIABLE = re.compile(r"\bnegotiab|make us an offer|open to offers", re.IGNORECASE)

Caller = Callable[..., Any]


@dataclass(slots=True)
class SupplierTrust:
    banned: set[str] = field(default_factory=set)
    proven: set[str] = field(default_factory=set)
    placed: dict[str, str] = field(default_factory=dict)  # order id -> supplier
    written_off: dict[str, int] = field(default_factory=dict)  # order id -> cents
    reasons: dict[str, str] = field(default_factory=dict)  # supplier -> why it was dropped
    haggled: int = 0

    # --- orders ---------------------------------------------------------------------------------
    def review(self, call: Caller, open_orders: list[dict[str, Any]], now: datetime) -> set[str]:
        """Look at the open orders: write off what will not come. Returns suppliers newly dropped."""
        open_ids = {o["order_id"] for o in open_orders}
        for oid, sid in self.placed.items():
            if oid not in open_ids and oid not in self.written_off:
                self.proven.add(sid)  # it left the open list whole: delivered
        dropped: set[str] = set()
        for o in open_orders:
            oid, sid = o["order_id"], o["supplier"]
            expected = datetime.fromisoformat(o["expected"]) if o.get("expected") else None
            short = o["status"] == "short" and expected is not None and now >= expected
            grace = GRACE_PROVEN if sid in self.proven else GRACE_NEW
            overdue = expected is not None and now > expected + grace
            if not (short or overdue):
                continue
            owed = o["total_cents"] - o["received_cents"]
            why = "delivered short or other goods" if short else "not delivered"
            res = call("write_off_order", order_id=oid, reason=f"{sid}: {why}")
            if res is not None:
                self.written_off[oid] = res["written_off_cents"]
            elif owed > 0:
                self.written_off[oid] = 0
            if short or sid not in self.proven:
                dropped |= self.drop(sid, why)
        return dropped

    def drop(self, supplier: str, why: str) -> set[str]:
        if supplier in self.banned:
            return set()
        self.banned.add(supplier)
        self.reasons[supplier] = why
        return {supplier}

    def order_placed(self, order_id: str, supplier: str) -> None:
        self.placed[order_id] = supplier

    def limit(self, supplier: str, items: Mapping[str, int], unit: Callable[[str], int],
              open_orders: list[dict[str, Any]]) -> dict[str, int]:
        """A supplier on probation gets one small open order at a time."""
        if supplier in self.banned:
            return {}
        if supplier in self.proven:
            return dict(items)
        if any(o["supplier"] == supplier for o in open_orders):
            return {}
        total = sum(unit(sku) * n for sku, n in items.items())
        if total <= PROBATION_CENTS:
            return dict(items)
        scale = PROBATION_CENTS / total
        return {sku: int(n * scale) for sku, n in items.items() if int(n * scale) > 0}

    # --- quotes ---------------------------------------------------------------------------------
    def absurd(self, quote: dict[str, Any], known: Mapping[str, int], retail: Mapping[str, int]) -> bool:
        for line in quote["lines"]:
            unit, sku = line["unit_cost_cents"], line["sku"]
            if sku in known and unit > ABSURD * known[sku]:
                return True
            if sku in retail and unit > ABSURD_OF_RETAIL * retail[sku]:
                return True
        return False
