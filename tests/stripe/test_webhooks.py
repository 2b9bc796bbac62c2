"""Webhooks signed with Stripe's scheme, posted to the running endpoint (uvicorn on loopback), booked
through the live EventQueue into a ledger on SQLite: valid, forged, stale, replayed, out of order."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from bridge import events as ev
from bridge.domain import Payment
from bridge.ledger import BANK, CARD_PENDING, DEPOSITS, FEES, LOSSES, REFUNDS
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.doubles.stripe_webhooks import (
    build_event,
    encode_event,
    forged_header,
    post_event,
    post_webhook,
    signature_header,
    stale_header,
)
from hardware_adapters.doubles.stripe_wire import from_fixture
from hardware_adapters.stripe.payments import StripePayments
from tests.stripe.rig import SECRET, START, Books, Clock


def fee(amount: int) -> int:
    return (amount * 29 + 500) // 1000 + 30


def special_order(fake: FakeStripe, payments: StripePayments, amount: int = 2400, ref: str = "so-main-00001") -> str:
    link = payments.create_payment_link(order_ref=ref, amount_cents=amount, description="oat milk", customer="U7")
    return str(fake.complete_checkout_session(link.link_id)["payment_intent"])


def stored_events(fake: FakeStripe, *types: str) -> list[dict[str, Any]]:
    return [e for e in fake.events() if e["type"] in types]


def test_a_paid_special_order_is_booked_once_with_its_fee(
        fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books) -> None:
    pi = special_order(fake, payments)
    results = fake.deliver_events(endpoint, SECRET)
    assert results and all(status == 200 for _, status in results)
    assert books.ingest() == 2  # the payment (told twice: checkout completed, intent succeeded) and its fee
    assert books.repeats == 2  # ... each told twice
    paid = books.ledger.balances
    assert (paid[CARD_PENDING], paid[DEPOSITS], paid[FEES]) == (2400 - fee(2400), -2400, fee(2400))
    assert f"stripe:pay:{pi}" in books.recorded


def test_replayed_five_times_changes_the_ledger_once(
        fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books) -> None:
    special_order(fake, payments)
    succeeded = stored_events(fake, "payment_intent.succeeded")[0]
    assert post_event(endpoint, succeeded, SECRET)[0] == 200
    books.ingest()
    before = books.snapshot()
    for _ in range(5):
        status, body = post_event(endpoint, succeeded, SECRET)  # freshly signed each time, as Stripe retries
        assert status == 200 and json.loads(body)["received"] is True
    books.ingest()
    assert books.snapshot() == before and books.repeats >= 5


@pytest.mark.parametrize("bad", ["forged", "stale", "tampered", "unsigned"])
def test_forged_or_stale_is_refused_with_400_and_changes_nothing(
        fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books, bad: str,
        caplog: pytest.LogCaptureFixture) -> None:
    special_order(fake, payments)
    event = stored_events(fake, "payment_intent.succeeded")[0]
    payload = encode_event(event)
    header = {"forged": forged_header(payload), "stale": stale_header(payload, SECRET),
              "tampered": signature_header(payload, SECRET), "unsigned": ""}[bad]
    if bad == "tampered":
        payload = payload.replace(b'"amount_received": 2400', b'"amount_received": 240000')
    before = books.snapshot()
    with caplog.at_level(logging.WARNING, logger="vendbridge.stripe"):
        status, _ = post_webhook(endpoint, payload, header)
    assert status == 400
    assert books.queue.pending() == 0 and books.ingest() == 0 and books.snapshot() == before
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_any_order_of_arrival_gives_the_same_books(
        fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books, clock: Clock) -> None:
    pi = special_order(fake, payments, amount=3000)
    payments.refund(payment_ref=pi, amount_cents=1000, reason="short by one", idempotency_key="r1")
    clock.advance(timedelta(hours=1))
    payments.refund(payment_ref=pi, amount_cents=500, reason="dented", idempotency_key="r2")
    wanted = ("checkout.session.completed", "payment_intent.succeeded", "charge.refunded")
    events = stored_events(fake, *wanted)
    assert [e["type"] for e in events] == ["payment_intent.succeeded", "checkout.session.completed",
                                           "charge.refunded", "charge.refunded"]
    for event in reversed(events):  # the last refund first, the payment last
        assert post_event(endpoint, event, SECRET)[0] == 200
        books.ingest()
    for event in events:  # and everything again, in order
        assert post_event(endpoint, event, SECRET)[0] == 200
    books.ingest()
    b = books.ledger.balances
    assert (b[CARD_PENDING], b[DEPOSITS], b[REFUNDS], b[FEES]) == (3000 - fee(3000) - 1500, -3000, 1500, fee(3000))
    assert sorted(i.split(":")[1] for i in books.recorded) == ["fee", "pay", "refund", "refund"]


def test_fridge_capture_moves_no_money_but_its_fee_and_release_is_a_status(
        fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books) -> None:
    books.ledger.record(ev.Sale(id="vend-1", ts=START, machine="m1", slot="A1", sku="cola",
                                units=2, unit_price_cents=365, payment=Payment.CARD, txn="door-1"))
    hold = payments.authorise(session="door-1", machine="m1", hold_cents=2000, card="pm_card_visa")
    payments.capture(session="door-1", payment_ref=hold.payment_ref, amount_cents=730)
    empty = payments.authorise(session="door-2", machine="m1", hold_cents=2000, card="pm_card_visa")
    payments.capture(session="door-2", payment_ref=empty.payment_ref, amount_cents=0)
    assert all(status == 200 for _, status in fake.deliver_events(endpoint, SECRET))
    events = books.queue.drain()
    kinds = {(type(e).__name__, getattr(e, "status", "")) for e in events}
    assert kinds == {("CardCaptured", ""), ("FeeCharged", ""), ("PaymentStatus", "canceled")}
    for e in events:
        books.ledger.record(e)
    b = books.ledger.balances
    assert b[CARD_PENDING] == 730 - fee(730) and b[FEES] == fee(730) and b[DEPOSITS] == 0


def test_declined_payment_is_a_status_not_money(fake: FakeStripe, payments: StripePayments, endpoint: str,
                                                books: Books) -> None:
    link = payments.create_payment_link(order_ref="so-main-00005", amount_cents=900, description="x",
                                        customer="U1")
    with pytest.raises(Exception, match="declined"):
        fake.complete_checkout_session(link.link_id, payment_method="pm_card_chargeDeclined")
    fake.deliver_events(endpoint, SECRET)
    events = books.queue.drain()
    assert [(type(e).__name__, getattr(e, "status", "")) for e in events] == [("PaymentStatus", "failed")]
    assert "declined" in events[0].detail  # type: ignore[attr-defined]


def test_payout_reaches_the_bank(fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books,
                                 clock: Clock) -> None:
    special_order(fake, payments, amount=5000)
    clock.advance(timedelta(days=1, seconds=1))
    payout = fake.payout_available()
    assert payout is not None and payout["amount"] == 5000 - fee(5000)
    clock.advance(timedelta(days=1, seconds=1))
    fake.balance_amounts()  # Stripe's time passes: the payout lands, payout.paid is emitted
    fake.deliver_events(endpoint, SECRET)
    books.ingest()
    b = books.ledger.balances
    assert (b[BANK], b[CARD_PENDING]) == (5000 - fee(5000), 0)


def test_dispute_holds_back_the_amount_and_its_fee(fake: FakeStripe, payments: StripePayments, endpoint: str,
                                                   books: Books) -> None:
    pi = special_order(fake, payments, amount=2000)
    fake.deliver_events(endpoint, SECRET)
    books.ingest()
    charge = fake.objects("charge")[0]
    txn = from_fixture("balance_transaction", id="txn_1Dispute0000000000000000", amount=-2000, fee=1500,
                       net=-3500, type="adjustment", reporting_category="dispute", source="dp_1Test0000000000")
    dispute = from_fixture("dispute", id="dp_1Test0000000000", amount=2000, charge=charge["id"], payment_intent=pi,
                           balance_transactions=[txn], reason="fraudulent", status="needs_response")
    event = build_event("charge.dispute.created", dispute)
    for _ in range(2):
        assert post_event(endpoint, event, SECRET)[0] == 200
    books.ingest()
    b = books.ledger.balances
    assert b[LOSSES] == 2000 and b[FEES] == fee(2000) + 1500
    assert b[CARD_PENDING] == 2000 - fee(2000) - 2000 - 1500


def test_healthz(endpoint: str) -> None:
    import urllib.request

    with urllib.request.urlopen(endpoint.replace("/stripe/webhook", "/healthz"), timeout=5) as resp:
        assert json.loads(resp.read()) == {"ok": True}
