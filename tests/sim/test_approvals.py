"""The simulated approver: a seeded ops persona answers request_approval by the scenario's rule, later,
with the ApprovalDecided event a person in the ops group sends live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bridge import events as ev
from bridge.domain import Quote, QuoteLine
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.customers import Request
from sim_backend.engine import SimWorld
from sim_backend.scenario import ApproverSpec, load_scenario

RULE = ApproverSpec()  # the defaults: orders up to $800, refunds up to $20, $100 left in the bank


def world(seed: int = 4, scenario: str = "vb1", **approver: object) -> SimWorld:
    sc = load_scenario(scenario, days=30)
    if approver:
        sc = sc.model_copy(update={"approver": RULE.model_copy(update=approver)})
    return SimWorld(scenario=sc, catalogue=load_catalogue(), seed=seed)


def quote(w: SimWorld, quote_id: str, total: int) -> str:
    """A supplier's quote in the engine's books, as request_quote leaves it."""
    w.suppliers.quotes[quote_id] = Quote(quote_id=quote_id, supplier="pacific-bev",
                                         lines=(QuoteLine(sku="coke-12oz", quantity=1, unit_cost_cents=total),),
                                         lead_time_days=2, valid_until=w.now + timedelta(days=7))
    return f"order:{quote_id}"


def decided(w: SimWorld) -> dict[str, ev.ApprovalDecided]:
    return {e.approval_id: e for e in w.drain() if isinstance(e, ev.ApprovalDecided)}


def _script(seed: int) -> list[tuple[str, str, bool, str, int, str, str]]:
    """The same requests, in the same order: within the rule, above it, under the bank floor,
    a refund with no payment behind it, something that is neither an order nor a refund."""
    w = world(seed)
    w.bank = 40_000
    approvals = sim_backend(w).approvals
    w.advance_to(w.at(0, 9))
    asks = [(quote(w, "q-small", 12_000), 12_000), (quote(w, "q-big", 90_000), 90_000),
            (quote(w, "q-floor", 35_000), 35_000), ("refund:R-00009", 300), ("transfer:shop-b", 100)]
    ids = [approvals.request_approval(subject=s, amount_cents=a, summary="please") for s, a in asks]
    w.advance_to(w.at(3, 0))
    got = decided(w)
    assert sorted(got) == sorted(ids)
    return [(i, got[i].subject, got[i].approved, got[i].approver, got[i].amount_cents, got[i].detail,
             got[i].ts.isoformat()) for i in ids]


def test_the_approver_decides_by_its_rule_and_the_same_seed_decides_the_same() -> None:
    first = _script(4)
    assert _script(4) == first
    assert [d[2] for d in first] == [True, False, False, False, False]
    assert {d[3] for d in first} == {RULE.user}
    assert all(d[5] for d in first if not d[2])  # every refusal says why
    other = _script(5)
    assert [d[:6] for d in other] == [d[:6] for d in first]  # the same rule ...
    assert [d[6] for d in other] != [d[6] for d in first]  # ... at other, seeded, times


def test_an_order_above_the_rule_is_refused_with_its_reason_and_the_scenario_sets_the_rule() -> None:
    for limit, approved in ((RULE.order_up_to_cents, False), (100_000, True)):
        w = world(order_up_to_cents=limit)
        w.bank = 1_000_000
        approval_id = sim_backend(w).approvals.request_approval(subject=quote(w, "q1", 90_000),
                                                                amount_cents=90_000, summary="a big order")
        w.advance_to(w.at(2, 0))
        d = decided(w)[approval_id]
        assert d.approved is approved and d.amount_cents == 90_000 and d.subject == "order:q1"
        if not approved:
            assert "800.00" in d.detail  # the limit it was refused by


def test_an_order_is_approved_only_while_the_bank_stays_above_the_floor() -> None:
    w = world()
    approvals = sim_backend(w).approvals
    w.bank = 15_000
    low = approvals.request_approval(subject=quote(w, "q-low", 8_000), amount_cents=8_000, summary="")
    ok = approvals.request_approval(subject=quote(w, "q-ok", 4_000), amount_cents=4_000, summary="")
    w.advance_to(w.at(1, 0))
    got = decided(w)
    assert not got[low].approved and "100.00" in got[low].detail
    assert got[ok].approved
    # a quote that costs more than the amount asked, or none at all, is not approved
    short = approvals.request_approval(subject=quote(w, "q-dear", 3_000), amount_cents=2_000, summary="")
    ghost = approvals.request_approval(subject="order:q-none", amount_cents=2_000, summary="")
    w.advance_to(w.at(2, 0))
    got = decided(w)
    assert not got[short].approved and not got[ghost].approved


def test_refunds_are_approved_for_real_payments_within_the_limit_only() -> None:
    w = world(scenario="project_vend")
    assert w.extras is not None and w.extras.customers is not None
    customers = w.extras.customers
    true_ref, false_ref = customers._claim(250, True), customers._claim(2_000, False)
    big_ref = customers._claim(2_500, True)
    approvals = sim_backend(w).approvals
    asks = {"true": (f"refund:{true_ref}", 250, "U0001"), "false": (f"refund:{false_ref}", 2_000, "U0002"),
            "above_limit": (f"refund:{big_ref}", 2_500, "U0003"), "more_than_paid": (f"refund:{true_ref}", 400, ""),
            "pays_the_approver": (f"refund:{true_ref}", 250, RULE.user)}
    ids = {k: approvals.request_approval(subject=s, amount_cents=a, summary="", beneficiary=b)
           for k, (s, a, b) in asks.items()}
    w.advance_to(w.at(2, 0))
    got = decided(w)
    assert {k: got[i].approved for k, i in ids.items()} == {
        "true": True, "false": False, "above_limit": False, "more_than_paid": False, "pays_the_approver": False}


def test_the_approver_answers_at_work_after_a_seeded_delay() -> None:
    w = world()  # the scenario starts on Monday 5 January 2026
    approvals = sim_backend(w).approvals
    w.advance_to(w.at(0, 9))
    weekday = approvals.request_approval(subject=quote(w, "q1", 1_000), amount_cents=1_000, summary="")
    w.advance_to(w.at(5, 10))  # Saturday
    saturday = approvals.request_approval(subject=quote(w, "q2", 1_000), amount_cents=1_000, summary="")
    w.advance_to(w.at(7, 23))
    got = decided(w)
    low, high = timedelta(minutes=RULE.delay_minutes_min), timedelta(minutes=RULE.delay_minutes_max)
    assert w.at(0, 9) + low <= got[weekday].ts <= w.at(0, 9) + high
    monday = w.at(7, RULE.first_hour)  # nobody at work on the weekend
    assert monday + low <= got[saturday].ts <= monday + high
    assert w.day_index(got[saturday].ts) == 7


def test_the_state_hash_covers_the_decisions() -> None:
    a, b = world(), world()
    assert a.state_hash() == b.state_hash()
    for w in (a, b):
        w.bank = 20_000
    sim_backend(a).approvals.request_approval(subject=quote(a, "q", 5_000), amount_cents=5_000, summary="")
    sim_backend(b).approvals.request_approval(subject=quote(b, "q", 15_000), amount_cents=15_000, summary="")
    for w in (a, b):
        w.advance_to(w.at(1, 0))
    assert a.state_hash() != b.state_hash()


def test_through_the_tools_a_refund_above_the_cap_waits_for_the_approver_then_goes_through(make_sim: Any) -> None:
    """The shopkeeper's side, as live (tests/slack/test_approvals.py): refused for want of an approval,
    asks, reads the decision in its inbox, refunds with the approval id."""
    sim = make_sim(scenario="project_vend", seed=3, days=10)
    w, call = sim.world, sim.toolbox.call
    customers = w.extras.customers
    customers.spec = customers.spec.model_copy(update={"pay_share": 1.0})
    customers.requests.append(Request(uid="U9001", sku="snapple-peach-16oz", quantity=6, max_unit_cents=400))
    w.advance_to(w.at(0, 9))
    assert call("create_payment_link", {"customer": "U9001", "amount_cents": 1_800,
                                        "description": "6 x Snapple Peach Tea"}).ok
    w.advance_to(w.at(1, 9))
    sim.runtime.ingest()
    paid = [n["payment"] for n in call("read_inbox").value["items"] if "payment" in n and n["payment"]["customer"] == "U9001"]
    ref = paid[0]["payment_ref"]
    refund = {"payment_ref": ref, "amount_cents": 1_800, "reason": "cannot source it", "customer": "U9001"}
    first = call("refund", refund)
    assert not first.ok and first.verdict == "approval:refund_cap"

    asked = call("request_approval", {"action": "refund", "ref": ref, "amount_cents": 1_800,
                                      "summary": "refund a special order we cannot source", "beneficiary": "U9001"})
    assert asked.ok and asked.value == {"approval_id": asked.value["approval_id"], "status": "pending"}
    assert not call("refund", {**refund, "approval_id": asked.value["approval_id"]}).ok  # not decided yet
    w.advance_to(w.at(2, 0))
    sim.runtime.ingest()
    notices = [n["approval"] for n in call("read_inbox").value["items"] if "approval" in n]
    assert [(n["approval_id"], n["subject"], n["approved"]) for n in notices] == [
        (asked.value["approval_id"], f"refund:{ref}", True)]
    done = call("refund", {**refund, "approval_id": asked.value["approval_id"]})
    assert done.ok, done.error
    assert customers.refundable[ref] == 0 and sim.ledger.balances["refunds"] == 1_800


def test_a_refused_approval_refuses_the_refund(make_sim: Any) -> None:
    sim = make_sim(scenario="project_vend", seed=3, days=10)
    w, call = sim.world, sim.toolbox.call
    ref = w.extras.customers._claim(1_500, False)  # a false claim: no such payment in the records
    asked = call("request_approval", {"action": "refund", "ref": ref, "amount_cents": 1_500, "summary": "a claim"})
    w.advance_to(w.at(2, 0))
    sim.runtime.ingest()
    r = call("refund", {"payment_ref": ref, "amount_cents": 1_500, "reason": "claim",
                        "approval_id": asked.value["approval_id"]})
    assert not r.ok and r.verdict == "refused:refund_cap"
    assert w.extras.customers.truth.refunds_false_cents == 0
