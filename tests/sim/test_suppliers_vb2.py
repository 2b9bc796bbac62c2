"""Vending-Bench 2 suppliers: the engine is the truth for what each archetype really does."""

import json
from datetime import timedelta

import pytest

from bridge import events as ev
from bridge.errors import ToolError
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from sim_backend.scoring import books_disagree
from tests.sim.quotes import answered

CATS = ["soda", "water", "chips"]


def world(seed: int = 1, **spec) -> SimWorld:
    sup = {"id": "s", "name": "S", "categories": CATS, "lead_time_days": 2, **spec}
    return SimWorld(scenario=load_scenario("vb1", suppliers=[sup]), catalogue=load_catalogue(), seed=seed)


def order(w: SimWorld, key: str, items: dict[str, int] | None = None):
    b = sim_backend(w)
    q = answered(w, b.procurement.request_quote(supplier="s", items=items or {"coke-12oz": 40, "dasani-20oz": 20}))
    return q, b.procurement.place_order(quote_id=q.quote_id, idempotency_key=key)


def delivered(w: SimWorld, days: int = 20) -> list[ev.DeliveryReceived]:
    w.advance_to(w.now + timedelta(days=days))
    return [e for e in w.drain() if isinstance(e, ev.DeliveryReceived)]


def test_a_scammer_takes_the_money_and_ships_nothing() -> None:
    w = world(archetype="scam")
    bank = w.bank
    q, _receipt = order(w, "k")
    assert w.bank == bank - q.total_cents and q.total_cents > 0
    assert delivered(w) == []
    assert w.suppliers.loss_by_archetype()["scam"] == q.total_cents


def test_bait_and_switch_ships_fewer_or_other_goods() -> None:
    shorted = 0
    for i in range(12):
        w = world(seed=i, archetype="bait_switch", short_share=1.0)
        q, _receipt = order(w, "k")
        got = delivered(w)
        value = sum(e.quantity * e.unit_cost_cents for e in got)
        assert value < q.total_cents
        ordered = {ln.sku: ln.quantity for ln in q.lines}
        shorted += any(e.sku not in ordered or e.quantity < ordered[e.sku] for e in got)
    assert shorted == 12


def test_a_negotiator_moves_over_its_rounds_then_stops_at_its_floor() -> None:
    w = world(archetype="negotiating", price_factor=1.4, negotiable_pct=0.3, negotiation_rounds=3)
    b = sim_backend(w)
    q = answered(w, b.procurement.request_quote(supplier="s", items={"coke-12oz": 10}))
    assert "negotiable" in q.text
    listed = q.lines[0].unit_cost_cents
    prices = [listed]
    for _ in range(5):
        q = answered(w, b.procurement.counter_offer(quote_id=q.quote_id, unit_costs_cents={"coke-12oz": 1}))
        prices.append(q.lines[0].unit_cost_cents)
    assert prices[1] < prices[0] and prices[2] < prices[1] and prices[3] < prices[2]
    assert prices[3] == prices[4] == prices[5] == round(listed * 0.7)
    assert "final" in q.text


def test_an_honest_supplier_counters_once() -> None:
    w = world()
    b = sim_backend(w)
    q = answered(w, b.procurement.request_quote(supplier="s", items={"coke-12oz": 10}))
    q2 = answered(w, b.procurement.counter_offer(quote_id=q.quote_id, unit_costs_cents={"coke-12oz": 1}))
    q3 = answered(w, b.procurement.counter_offer(quote_id=q2.quote_id, unit_costs_cents={"coke-12oz": 1}))
    assert q2.lines[0].unit_cost_cents < q.lines[0].unit_cost_cents
    assert q3.lines[0].unit_cost_cents == q2.lines[0].unit_cost_cents


def test_a_supplier_that_closes_bounces_mail_and_never_ships_what_falls_due_after() -> None:
    w = world(closes_on_day=3)
    w.advance_to(w.at(1, 9))
    _q, _receipt = order(w, "k")  # due on day 3: the day it closes
    assert delivered(w, days=10) == []
    with pytest.raises(ToolError, match="bounced"):
        sim_backend(w).procurement.request_quote(supplier="s", items={"coke-12oz": 10})


def test_late_deliveries_come_late_but_come() -> None:
    lates = 0
    for i in range(10):
        w = world(seed=i, late_share=1.0, late_days_max=4)
        w.advance_to(w.at(0, 9))
        q, receipt = order(w, "k")
        got = delivered(w)
        assert sum(e.quantity for e in got) == sum(ln.quantity for ln in q.lines)
        lates += all(e.ts > receipt.expected_at for e in got)
    assert lates == 10


def test_absurd_quotes_appear_at_their_share() -> None:
    w = world(absurd_quote_share=0.3)
    usual = w.suppliers.prices[("s", "coke-12oz")]
    b = sim_backend(w)
    asked = [b.procurement.request_quote(supplier="s", items={"coke-12oz": 1}).quote_id for _ in range(200)]
    w.advance_to(w.now + timedelta(days=1))
    quotes = {e.quote_id: e for e in w.drain() if isinstance(e, ev.QuoteReceived)}
    units = [quotes[qid].lines[0].unit_cost_cents for qid in asked]
    absurd = sum(1 for u in units if u >= 3 * usual)
    assert 40 <= absurd <= 80
    assert all(u == usual for u in units if u < 3 * usual)


def test_vb2_year_books_agree_baseline_survives_and_loses_little_to_fraud(make_sim) -> None:
    # seed 0: a seed on which the baseline still wants Pacific's goods after Pacific closes (on
    # others it buys elsewhere by then and never learns of the closure, at no cost)
    sim = make_sim(scenario="vb2", seed=0)
    problems: list[tuple[str, list[str]]] = []
    sim.runtime.on_day = lambda r: problems.extend([(r.day, p)] if (p := books_disagree(sim.world, sim.ledger))
                                                   else [])
    sim.run()
    s = sim.summary()
    assert problems == []
    assert sim.ledger.anomalies == []
    assert sum(sim.ledger.balances.values()) == 0
    assert not s["bankrupt"] and s["days_run"] == 365 and s["score"] == "bank"
    assert s["scam_loss_cents"] > 0  # it did meet the scammers
    assert s["adversarial_loss_share"] < 0.10
    trust = sim.policy.trust
    assert {"cheapo-direct", "megadeal"} <= trust.banned
    closes = next(sup.closes_on_day for sup in sim.scenario.suppliers if sup.id == "pacific-bev")
    closed = sim.scenario.start + timedelta(days=closes)
    asked_after = [r for r in sim.store.rows("audit_log") if r["tool"] == "request_quote"
                   and json.loads(r["args_json"])["supplier"] == "pacific-bev" and r["ts"].date() >= closed]
    assert asked_after and "pacific-bev" in trust.banned  # went out of business: its mail bounced
    assert trust.haggled > 0


def test_an_orders_last_delivery_says_whether_it_came_whole() -> None:
    """As ops' "Delivered" confirmation does live: a finished task for the order, not ok when short."""
    def finished(w: SimWorld) -> list[tuple[str, bool]]:
        _q, receipt = order(w, "k")
        w.advance_to(w.now + timedelta(days=20))
        return [(e.task_id, e.ok) for e in w.drain() if isinstance(e, ev.TaskCompleted) and e.task_id == receipt.order_id]

    assert [ok for _, ok in finished(world())] == [True]
    assert [ok for _, ok in finished(world(seed=2, archetype="bait_switch", short_share=1.0))] == [False]
    assert finished(world(archetype="scam")) == []  # nothing came: nothing to confirm
