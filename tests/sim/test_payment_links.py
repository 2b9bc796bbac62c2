"""Simulated customers pay a payment link, whichever tool made it, when it is for what they asked for
at a price they accept, and abandon it otherwise: as a customer live would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bridge import events as ev
from sim_backend.customers import Request

ASKER, STRANGER = "U9001", "U9002"  # outside the scenario's own personas, who write on their own
SKU, NAME = "snapple-peach-16oz", "Snapple Peach Tea"


def _shop(make_sim: Any) -> Any:
    sim = make_sim(scenario="project_vend", seed=3, days=10, events_log=True)
    customers = sim.world.extras.customers
    customers.spec = customers.spec.model_copy(update={"pay_share": 1.0})  # no chance in these tests
    customers.requests.append(Request(uid=ASKER, sku=SKU, quantity=2, max_unit_cents=400))  # "up to $4 each"
    sim.world.advance_to(sim.world.at(0, 9))
    sim.runtime.ingest()
    return sim


def _link(sim: Any, tool: str, customer: str, amount: int, description: str) -> str:
    """Make the link with the tool; its reference, as the payment notice will name it."""
    if tool == "create_payment_link":
        r = sim.toolbox.call(tool, {"customer": customer, "amount_cents": amount, "description": description})
        assert r.ok, r.error
        return str(r.value["order_ref"])
    r = sim.toolbox.call(tool, {"conversation": f"D{customer[1:]}", "customer": customer, "sku": SKU,
                                "quantity": 2, "unit_price_cents": amount // 2})
    assert r.ok, r.error
    return str(r.value["link_id"])


def _payments_after_a_day(sim: Any) -> list[dict[str, Any]]:
    sim.world.advance_to(sim.world.now + timedelta(days=1))
    sim.runtime.ingest()
    return [n["payment"] for n in sim.toolbox.call("read_inbox").value["items"] if "payment" in n]


@pytest.mark.parametrize(("tool", "description"), [
    ("create_payment_link", f"2 x {NAME}"),
    ("create_payment_link", f"special order: {SKU} (2)"),
    ("create_payment_link", "your special order"),  # names nothing: the customer's one open request
    ("create_special_order", ""),
])
def test_a_link_for_what_the_customer_asked_at_their_price_is_paid(make_sim: Any, tool: str,
                                                                    description: str) -> None:
    sim = _shop(make_sim)
    ref = _link(sim, tool, ASKER, 700, description)
    paid = [p for p in _payments_after_a_day(sim) if p["customer"] == ASKER]
    assert len(paid) == 1 and paid[0]["amount_cents"] == 700
    assert ref in (paid[0]["order_ref"], paid[0]["payment_ref"])
    received = [e for e in sim.events if isinstance(e, ev.PaymentReceived) and e.customer == ASKER]
    assert received and received[0].ts > sim.world.at(0, 9)  # paid a while after it was sent
    # the books hold it as the customer's deposit until the goods are handed over
    assert sim.ledger.balances["customer_deposits"] == -700


@pytest.mark.parametrize(("customer", "amount", "description"), [
    (STRANGER, 700, f"2 x {NAME}"),  # never asked for anything
    (ASKER, 900, f"2 x {NAME}"),  # more than the $8 they would pay
    (ASKER, 700, "2 x Doritos Cool Ranch"),  # not what they asked for
])
def test_an_unwanted_link_is_abandoned(make_sim: Any, customer: str, amount: int, description: str) -> None:
    sim = _shop(make_sim)
    _link(sim, "create_payment_link", customer, amount, description)
    assert [p for p in _payments_after_a_day(sim) if p["customer"] == customer] == []
    assert sim.world.extras.customers.truth.links_abandoned >= 1


def test_a_request_is_paid_once_and_a_second_link_for_it_is_abandoned(make_sim: Any) -> None:
    sim = _shop(make_sim)
    _link(sim, "create_payment_link", ASKER, 700, f"2 x {NAME}")
    _link(sim, "create_special_order", ASKER, 700, "")
    assert len([p for p in _payments_after_a_day(sim) if p["customer"] == ASKER]) == 1
