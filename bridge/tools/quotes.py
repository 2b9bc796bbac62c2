"""Quotes as the tools show them: asked (a receipt), answered (in the inbox), ordered or expired.

One shape on both sides: the simulator's supplier engine and ops relaying a supplier in Slack both
answer with a QuoteReceived event, so a policy reads the same dicts whichever world it is in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.domain import Quote, QuoteRequested


def receipt_json(r: QuoteRequested) -> dict[str, Any]:
    """What `request_quote` and `counter_offer` return: the id the answer will carry, and when it is due."""
    return {"quote_id": r.quote_id, "supplier": r.supplier, "status": r.status, "counter_of": r.counter_of,
            "expected_by": r.expected_by.isoformat()}


def quote_json(q: Quote, *, counter_of: str = "", status: str = "quoted") -> dict[str, Any]:
    """An answered quote, as the inbox notice and `list_quotes` show it."""
    return {"quote_id": q.quote_id, "supplier": q.supplier, "status": status, "counter_of": counter_of,
            "lead_time_days": q.lead_time_days, "valid_until": q.valid_until.isoformat(),
            "total_cents": q.total_cents, "text": q.text,
            "lines": [{"sku": ln.sku, "quantity": ln.quantity, "unit_cost_cents": ln.unit_cost_cents}
                      for ln in q.lines]}


class QuoteBook:
    """The shop's quotes: asked and not answered, answered (orderable until ordered or expired), ordered."""

    def __init__(self) -> None:
        self.asked: dict[str, QuoteRequested] = {}
        self.answered: dict[str, Quote] = {}
        self.counter_of: dict[str, str] = {}
        self.ordered: dict[str, str] = {}  # quote id -> order id

    def status(self, quote_id: str, now: datetime) -> str:
        if quote_id in self.ordered:
            return "ordered"
        if quote_id in self.answered:
            return "expired" if self.answered[quote_id].valid_until < now else "quoted"
        return "requested" if quote_id in self.asked else "unknown"

    def rows(self, which: str, now: datetime) -> list[dict[str, Any]]:
        """`which`: "open" (answered, orderable), "requested" (not answered yet) or "all"."""
        out: list[dict[str, Any]] = []
        if which in ("requested", "all"):
            out += [receipt_json(r) for r in self.asked.values()]
        if which in ("open", "all"):
            for qid, q in self.answered.items():
                status = self.status(qid, now)
                if which == "all" or status == "quoted":
                    out.append(quote_json(q, counter_of=self.counter_of.get(qid, ""), status=status))
        return out
