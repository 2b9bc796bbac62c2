"""Quotes in the simulator are answered later, by e-mail: wait for the answer as a policy would."""

from __future__ import annotations

from bridge import events as ev
from bridge.domain import Quote, QuoteRequested
from sim_backend.engine import SimWorld


def answered(w: SimWorld, receipt: QuoteRequested) -> Quote:
    """Let time pass until the supplier has answered `receipt`; the quote its QuoteReceived event carries.
    (Other events that happened meanwhile are drained and dropped.)"""
    assert receipt.status == "requested" and receipt.quote_id not in w.suppliers.quotes
    w.advance_to(receipt.expected_by)
    got = [e for e in w.drain() if isinstance(e, ev.QuoteReceived) and e.quote_id == receipt.quote_id]
    assert len(got) == 1 and got[0].counter_of == receipt.counter_of
    return got[0].quote()
