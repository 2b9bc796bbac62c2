"""Quotes a heuristic policy waits for: ask, carry on, and act when the answer is in the inbox.

A quote request returns only an id (bridge/ports.py, Procurement): the supplier answers later, in
the simulator after an e-mail delay, live when ops enter what the supplier wrote. The baseline and
its customer desk ask through `Awaited.ask`, naming what the quote is for, and hand every quote
notice from `read_inbox` to `settle`, which returns the ask it answers once nothing more is to be
said to the supplier: with a SupplierTrust, a quote whose text says its prices are negotiable is
countered first, a round a message, until the supplier stops moving (bridge/policies/trust.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bridge.policies.trust import FIRST_OFFER, MAX_ROUNDS, NEGOTIABLE, SupplierTrust
from bridge.tools.executor import Toolbox

STALE_DAYS = 3  # an ask unanswered this long is forgotten (live: ops never relayed it); the next plan asks again


@dataclass(slots=True)
class Ask:
    purpose: str  # what the answer is for: the asker's own word ("survey", "order", "special", ...)
    supplier: str
    items: dict[str, int]
    asked_on: date
    info: dict[str, Any] = field(default_factory=dict)  # what the asker needs to act on the answer
    haggle: bool = False  # counter a negotiable answer (with a SupplierTrust)
    rounds: int = 0  # counter-offers made on this chain
    first: dict[str, int] = field(default_factory=dict)  # sku -> the first answer's unit price
    best: dict[str, Any] | None = None  # the best answer so far, while haggling


class Awaited:
    def __init__(self, *, trust: SupplierTrust | None = None) -> None:
        self.trust = trust
        self.waiting: dict[str, Ask] = {}  # quote id the answer will carry -> the ask

    def ask(self, tools: Toolbox, *, supplier: str, items: dict[str, int], purpose: str, today: date,
            haggle: bool = False, **info: Any) -> tuple[bool, str]:
        """Request a quote; (True, quote id) or (False, the tool's error)."""
        result = tools.call("request_quote", {"supplier": supplier, "items": items})
        if not result.ok:
            return False, result.error or ""
        if not isinstance(result.value, dict) or "quote_id" not in result.value:
            return False, "no quote id in the answer"  # nothing to wait for (a shadowed call, say)
        quote_id = str(result.value["quote_id"])
        self.waiting[quote_id] = Ask(purpose=purpose, supplier=supplier, items=dict(items), asked_on=today,
                                     info=info, haggle=haggle and self.trust is not None)
        return True, quote_id

    def open(self, purpose: str) -> list[Ask]:
        """Asks of this purpose still waiting for an answer (a haggle in progress included)."""
        return [a for a in self.waiting.values() if a.purpose == purpose]

    def forget_stale(self, today: date) -> None:
        for qid in [qid for qid, a in self.waiting.items() if (today - a.asked_on).days >= STALE_DAYS]:
            del self.waiting[qid]

    def settle(self, tools: Toolbox, quote: dict[str, Any],
               acceptable: Callable[[Ask, dict[str, Any]], bool] | None = None
               ) -> tuple[Ask, dict[str, Any] | None] | None:
        """A quote from the inbox. Returns (its ask, the quote to act on) when the exchange is over: the
        quote to act on is None when the first answer was not `acceptable` (an absurd price). Returns
        None for a quote nobody here asked for, and while a counter-offer is out."""
        ask = self.waiting.pop(str(quote.get("quote_id")), None)
        if ask is None:
            return None
        if ask.best is None:  # the first answer
            if acceptable is not None and not acceptable(ask, quote):
                return ask, None
            if not ask.haggle or not NEGOTIABLE.search(quote.get("text", "")):
                return ask, quote
            ask.first = {ln["sku"]: ln["unit_cost_cents"] for ln in quote["lines"]}
            ask.best = quote
        else:  # the answer to a counter-offer
            if self.trust is not None:
                self.trust.haggled += 1
            if quote["total_cents"] >= ask.best["total_cents"]:
                return ask, ask.best
            ask.best = quote
        if ask.rounds >= MAX_ROUNDS:
            return ask, ask.best
        offer = {sku: max(1, int(p * FIRST_OFFER)) for sku, p in ask.first.items()}
        result = tools.call("counter_offer", {"quote_id": ask.best["quote_id"], "unit_costs_cents": offer})
        if not result.ok or not isinstance(result.value, dict) or "quote_id" not in result.value:
            return ask, ask.best
        ask.rounds += 1
        self.waiting[str(result.value["quote_id"])] = ask
        return None
