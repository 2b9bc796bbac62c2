"""One contract for the Payments port, run over the simulator's SimPayments and the live StripePayments
(real `stripe` SDK, loopback fake Stripe, webhooks through the running endpoint): what a policy can
observe is the same, so it cannot tell the two apart.

Each harness gives the port plus what the outside world does: a customer pays or abandons a link, a
day passes, and the events the backend yields (sim: the world's outbox; live: Stripe's webhooks,
signed, posted to POST /stripe/webhook, queued for the runtime).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bridge import events as ev
from bridge.errors import ToolError
from bridge.live.http_app import build_http_app
from bridge.ports import Payments
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.live import EventQueue
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.payments import StripePayments
from hardware_adapters.stripe.webhooks import StripeEvents, webhook_route
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.stripe.rig import SECRET, Clock, serve

MONEY_EVENTS = (ev.PaymentReceived, ev.RefundIssued)


def once(seen: set[str], events: list[ev.Event]) -> list[ev.Event]:
    """What reaches a policy: the runtime records each event id once (Ledger.record) before tools see it.
    (Live, Stripe tells of one payment by two event types; both map to the same project event id.)"""
    out = []
    for e in events:
        if e.id not in seen:
            seen.add(e.id)
            out.append(e)
    return out


class Harness(Protocol):
    payments: Payments

    def pay(self, link_id: str) -> None: ...

    def abandon(self, link_id: str) -> None: ...

    def next_day(self) -> None: ...

    def events(self) -> list[ev.Event]: ...


class SimHarness:
    def __init__(self) -> None:
        self.world = SimWorld(scenario=load_scenario("project_vend", days=30, daily_fee_cents=0), catalogue=load_catalogue(None), seed=5)
        self.payments = sim_backend(self.world).payments
        self.customers = self.world.extras.customers  # type: ignore[union-attr]
        self.world.drain()
        self.seen: set[str] = set()

    def pay(self, link_id: str) -> None:
        self.customers.pay(link_id)  # the simulated customer pays (normally at a seeded time, if willing)

    def abandon(self, link_id: str) -> None:
        return None  # an abandoned link is one nobody pays

    def next_day(self) -> None:
        self.world.advance_to(self.world.now + timedelta(days=1, minutes=1))

    def events(self) -> list[ev.Event]:
        return once(self.seen, [e for e in self.world.drain() if isinstance(e, MONEY_EVENTS)])


class StripeHarness:
    def __init__(self, fake: FakeStripe, clock: Clock, url: str, queue: EventQueue) -> None:
        self.fake, self.clock, self.url, self.queue = fake, clock, url, queue
        self.payments = StripePayments(client=stripe_client(api_key="sk_test_c", api_base=fake.url))
        self.seen: set[str] = set()

    def pay(self, link_id: str) -> None:
        self.fake.complete_checkout_session(link_id)

    def abandon(self, link_id: str) -> None:
        self.clock.advance(timedelta(hours=25))  # the session expires unpaid

    def next_day(self) -> None:
        self.clock.advance(timedelta(days=1, minutes=1))

    def events(self) -> list[ev.Event]:
        assert all(status == 200 for _, status in self.fake.deliver_events(self.url, SECRET))
        return once(self.seen, [e for e in self.queue.drain() if isinstance(e, MONEY_EVENTS)])


@pytest.fixture(params=["sim", "stripe"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sim":
        yield SimHarness()
        return
    clock = Clock()
    queue = EventQueue()
    with FakeStripe(seed=3, clock=clock) as fake:
        client = stripe_client(api_key="sk_test_c", api_base=fake.url)
        app = build_http_app(routes=[webhook_route(secret=SECRET, events=StripeEvents(shop="main", client=client),
                                                   sink=queue.put)])
        with serve(app) as base:
            yield StripeHarness(fake, clock, f"{base}/stripe/webhook", queue)
        assert fake.internal_errors == []


def order(h: Harness, ref: str = "so-main-00001", amount: int = 2400) -> str:
    link = h.payments.create_payment_link(order_ref=ref, amount_cents=amount, description="12 x oat milk",
                                          customer="U0001")
    assert (link.order_ref, link.amount_cents) == (ref, amount) and link.url.startswith("https://")
    return link.link_id


def test_a_link_per_order_and_the_same_link_when_asked_again(harness: Harness) -> None:
    first = order(harness)
    assert order(harness) == first
    assert order(harness, "so-main-00002") != first
    with pytest.raises(ToolError):
        order(harness, amount=999)  # the order's reference was used for another amount
    with pytest.raises(ToolError):
        order(harness, "so-main-00003", amount=0)


def test_a_paid_link_is_one_payment_event_and_settles_next_day(harness: Harness) -> None:
    link = order(harness, amount=2400)
    before = harness.payments.balance()
    harness.pay(link)
    (paid,) = harness.events()
    assert isinstance(paid, ev.PaymentReceived)
    assert (paid.order_ref, paid.amount_cents) == ("so-main-00001", 2400) and paid.payment_ref
    after = harness.payments.balance()
    pending = after.pending_cents - before.pending_cents
    assert 0 < pending <= 2400 and after.available_cents == before.available_cents  # net of any card fee
    harness.next_day()
    settled = harness.payments.balance()
    assert settled.pending_cents == before.pending_cents
    assert settled.available_cents - before.available_cents == pending
    assert harness.events() == []


def test_an_abandoned_link_moves_nothing(harness: Harness) -> None:
    link = order(harness)
    before = harness.payments.balance()
    harness.abandon(link)
    harness.next_day()
    assert harness.events() == [] and harness.payments.balance() == before


def test_refunds_partial_then_the_rest_once_each(harness: Harness) -> None:
    harness.pay(order(harness, amount=3000))
    (paid,) = harness.events()
    ref = paid.payment_ref  # type: ignore[attr-defined]
    first = harness.payments.refund(payment_ref=ref, amount_cents=1000, reason="one broken", idempotency_key="k1")
    assert harness.payments.refund(payment_ref=ref, amount_cents=1000, reason="one broken",
                                   idempotency_key="k1") == first  # a retry: the same refund, not another
    with pytest.raises(ToolError):
        harness.payments.refund(payment_ref=ref, amount_cents=2001, reason="too much", idempotency_key="k2")
    second = harness.payments.refund(payment_ref=ref, amount_cents=2000, reason="cancelled", idempotency_key="k3")
    assert second != first
    with pytest.raises(ToolError):
        harness.payments.refund(payment_ref=ref, amount_cents=1, reason="again", idempotency_key="k4")
    refunds = harness.events()
    assert sorted((type(e).__name__, e.amount_cents) for e in refunds) == [  # type: ignore[attr-defined]
        ("RefundIssued", 1000), ("RefundIssued", 2000)]
    assert {e.payment_ref for e in refunds} == {ref}  # type: ignore[attr-defined]


def test_refusals(harness: Harness) -> None:
    with pytest.raises(ToolError):
        harness.payments.refund(payment_ref="nothing-paid-here", amount_cents=100, reason="?", idempotency_key="x")
    harness.pay(order(harness))
    (paid,) = harness.events()
    with pytest.raises(ToolError):
        harness.payments.refund(payment_ref=paid.payment_ref, amount_cents=0, reason="?",  # type: ignore[attr-defined]
                                idempotency_key="y")
