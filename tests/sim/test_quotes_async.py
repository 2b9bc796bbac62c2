"""Simulated suppliers answer quotes by e-mail, later: after a seeded delay within each supplier's
reply window (from the scenario), as a QuoteReceived event; a quote is orderable only once answered."""

from datetime import timedelta

import pytest

from bridge import events as ev
from bridge.errors import ConfigError, ToolError
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario


def world(seed: int = 1, **spec) -> SimWorld:
    sup = {"id": "s", "name": "S", "categories": ["soda"], "lead_time_days": 2, **spec}
    w = SimWorld(scenario=load_scenario("vb1", suppliers=[sup]), catalogue=load_catalogue(), seed=seed)
    w.advance_to(w.at(0, 9))
    w.drain()
    return w


def reply_minutes(w: SimWorld, asks: int = 12) -> list[float]:
    """Ask `asks` quotes at once; how many minutes after the asking each answer came (in asking order)."""
    b = sim_backend(w)
    asked_at = w.now
    ids = [b.procurement.request_quote(supplier="s", items={"coke-12oz": 10 + i}).quote_id for i in range(asks)]
    w.advance_to(asked_at + timedelta(days=1))
    got = {e.quote_id: e for e in w.drain() if isinstance(e, ev.QuoteReceived)}
    assert sorted(got) == sorted(ids)
    return [(got[q].ts - asked_at).total_seconds() / 60 for q in ids]


def test_a_quote_is_answered_later_and_orderable_only_then() -> None:
    w = world(reply_minutes_min=90, reply_minutes_max=90)
    b = sim_backend(w)
    receipt = b.procurement.request_quote(supplier="s", items={"coke-12oz": 24})
    assert receipt.status == "requested" and receipt.expected_by == w.now + timedelta(minutes=90)
    with pytest.raises(ToolError, match="not been answered"):
        b.procurement.place_order(quote_id=receipt.quote_id, idempotency_key="k")
    with pytest.raises(ToolError, match="not been answered"):
        b.procurement.counter_offer(quote_id=receipt.quote_id, unit_costs_cents={"coke-12oz": 1})
    w.advance_to(receipt.expected_by - timedelta(minutes=1))
    assert not any(isinstance(e, ev.QuoteReceived) for e in w.drain())
    w.advance_to(receipt.expected_by)
    got = [e for e in w.drain() if isinstance(e, ev.QuoteReceived)]
    assert [(e.quote_id, e.supplier, e.ts, e.counter_of) for e in got] == [
        (receipt.quote_id, "s", receipt.expected_by, "")]
    quote = got[0].quote()
    assert quote.lines[0].quantity == 24 and quote.valid_until > receipt.expected_by
    bank = w.bank
    order = b.procurement.place_order(quote_id=receipt.quote_id, idempotency_key="k")
    assert order.total_cents == quote.total_cents and w.bank == bank - quote.total_cents
    paid = [e for e in w.drain() if isinstance(e, ev.SupplierPaid)]
    assert [(e.order_id, e.amount_cents) for e in paid] == [(order.order_id, quote.total_cents)]


def test_answers_come_within_the_suppliers_window_at_seeded_times() -> None:
    minutes = reply_minutes(world(seed=3, reply_minutes_min=30, reply_minutes_max=300))
    assert all(30 <= m <= 300 for m in minutes) and len(set(minutes)) > 6
    assert reply_minutes(world(seed=3, reply_minutes_min=30, reply_minutes_max=300)) == minutes  # same seed
    assert reply_minutes(world(seed=4, reply_minutes_min=30, reply_minutes_max=300)) != minutes


def test_the_reply_delay_draws_nothing_from_the_prices_streams() -> None:
    """The answer's time comes from its own stream: a negotiator's quotes and counter-texts are the same
    whatever its reply window."""
    def quotes(**window) -> list[tuple[int, str]]:
        w = world(seed=2, archetype="negotiating", negotiation_rounds=3, **window)
        b = sim_backend(w)
        r = b.procurement.request_quote(supplier="s", items={"coke-12oz": 10})
        out = []
        for _ in range(3):
            w.advance_to(w.now + timedelta(days=1))
            q = next(e for e in w.drain() if isinstance(e, ev.QuoteReceived) and e.quote_id == r.quote_id)
            out.append((q.lines[0].unit_cost_cents, q.text.split(" S can")[0]))
            r = b.procurement.counter_offer(quote_id=q.quote_id, unit_costs_cents={"coke-12oz": 1})
        return out

    assert quotes(reply_minutes_min=40, reply_minutes_max=60) == quotes(reply_minutes_min=100, reply_minutes_max=900)


def test_a_reply_window_must_be_a_window() -> None:
    sup = {"id": "s", "name": "S", "categories": ["soda"], "reply_minutes_min": 120, "reply_minutes_max": 60}
    with pytest.raises(ConfigError, match="reply_minutes_max"):
        load_scenario("vb1", suppliers=[sup])
