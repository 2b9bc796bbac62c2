"""StripePayments on the real `stripe` SDK against the loopback fake: links, refunds, fridge sessions,
error mapping, and no double charge when the network fails mid-request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.errors import AdapterError, ToolError
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.payments import StripePayments
from tests.stripe.rig import Clock


def fee(amount: int) -> int:
    return (amount * 29 + 500) // 1000 + 30


def paid_link(fake: FakeStripe, payments: StripePayments, order_ref: str = "so-main-00001",
              amount: int = 2400) -> str:
    link = payments.create_payment_link(order_ref=order_ref, amount_cents=amount, description="12 oat milks",
                                        customer="U123")
    session = fake.complete_checkout_session(link.link_id)
    return str(session["payment_intent"])


def test_payment_link_is_a_one_shot_checkout_carrying_the_order(fake: FakeStripe, payments: StripePayments) -> None:
    link = payments.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="12 oat milks",
                                        customer="U123")
    assert (link.amount_cents, link.order_ref) == (2400, "so-main-00001")
    assert link.url.startswith("https://checkout.stripe.com/") and link.link_id.startswith("cs_test_")
    sent = fake.requests_to("/v1/checkout/sessions", "POST")[0]
    assert sent.idempotency_key == "vb:main:checkout:so-main-00001"
    pi = fake.get(str(fake.complete_checkout_session(link.link_id)["payment_intent"]))
    assert pi["metadata"]["order_ref"] == "so-main-00001" and pi["amount_received"] == 2400
    with pytest.raises(Exception, match="not open"):  # paid once: the same link cannot charge again
        fake.complete_checkout_session(link.link_id)
    # the same order asked again (a retry of the tool) is the same session, not a second one
    again = payments.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="12 oat milks",
                                         customer="U123")
    assert again.link_id == link.link_id and len(fake.objects("checkout.session")) == 1
    with pytest.raises(ToolError, match="already used"):
        payments.create_payment_link(order_ref="so-main-00001", amount_cents=999, description="x", customer="U123")


def test_refunds_full_partial_and_refused(fake: FakeStripe, payments: StripePayments) -> None:
    pi = paid_link(fake, payments, amount=3000)
    first = payments.refund(payment_ref=pi, amount_cents=1000, reason="one bottle broken", idempotency_key="r-1")
    assert first.startswith("re_")
    assert payments.refund(payment_ref=pi, amount_cents=1000, reason="one bottle broken",
                           idempotency_key="r-1") == first  # a retry is replayed, not refunded twice
    with pytest.raises(ToolError, match="greater than"):
        payments.refund(payment_ref=pi, amount_cents=2500, reason="too much", idempotency_key="r-2")
    rest = payments.refund(payment_ref=pi, amount_cents=2000, reason="order cancelled", idempotency_key="r-3")
    charge = fake.objects("charge")[0]
    assert charge["amount_refunded"] == 3000 and charge["refunded"] is True and rest != first
    assert [r["metadata"]["reason"] for r in fake.objects("refund")] == ["one bottle broken", "order cancelled"]
    with pytest.raises(ToolError, match="already been refunded"):
        payments.refund(payment_ref=pi, amount_cents=1, reason="more", idempotency_key="r-4")
    with pytest.raises(ToolError, match="no card payment"):
        payments.refund(payment_ref="plink-00001", amount_cents=100, reason="?", idempotency_key="r-5")
    with pytest.raises(ToolError, match="No such"):
        payments.refund(payment_ref="pi_3doesnotexist", amount_cents=100, reason="?", idempotency_key="r-6")


def test_refund_by_the_checkout_session_id(fake: FakeStripe, payments: StripePayments) -> None:
    link = payments.create_payment_link(order_ref="so-main-00002", amount_cents=1500, description="tea",
                                        customer="U9")
    with pytest.raises(ToolError, match="not been paid"):
        payments.refund(payment_ref=link.link_id, amount_cents=100, reason="?", idempotency_key="r-0")
    fake.complete_checkout_session(link.link_id)
    payments.refund(payment_ref=link.link_id, amount_cents=1500, reason="changed mind", idempotency_key="r-1")
    assert fake.objects("charge")[0]["refunded"] is True


def test_fridge_session_from_unlock_to_capture(fake: FakeStripe, payments: StripePayments, clock: Clock) -> None:
    hold = payments.authorise(session="door-0001", machine="m1", hold_cents=2000, card="pm_card_visa")
    assert (hold.status, hold.held_cents) == ("authorised", 2000)
    pi = fake.get(hold.payment_ref)
    assert (pi["status"], pi["capture_method"], pi["metadata"]["session"]) == ("requires_capture", "manual",
                                                                               "door-0001")
    assert fake.balance_amounts() == (0, 0)  # a hold is not money yet
    done = payments.capture(session="door-0001", payment_ref=hold.payment_ref, amount_cents=730)
    assert (done.status, done.captured_cents) == ("captured", 730)
    assert fake.balance_amounts() == (0, 730 - fee(730))
    clock.advance(timedelta(days=1, seconds=1))
    assert payments.balance().available_cents == 730 - fee(730)
    keys = [r.idempotency_key for r in fake.requests if r.method == "POST"]
    assert keys == ["vb:main:fridge:door-0001:authorise", "vb:main:fridge:door-0001:capture"]
    # the capture repeated (a retry after a timeout) changes nothing
    payments.capture(session="door-0001", payment_ref=hold.payment_ref, amount_cents=730)
    assert len(fake.objects("balance_transaction")) == 1


def test_empty_fridge_session_releases_the_hold(fake: FakeStripe, payments: StripePayments) -> None:
    hold = payments.authorise(session="door-0002", machine="m1", hold_cents=2000, card="pm_card_visa")
    released = payments.capture(session="door-0002", payment_ref=hold.payment_ref, amount_cents=0)
    assert released.status == "canceled" and fake.get(hold.payment_ref)["status"] == "canceled"
    assert fake.objects("balance_transaction") == []
    with pytest.raises(ToolError, match="canceled"):
        payments.capture(session="door-0002b", payment_ref=hold.payment_ref, amount_cents=500)


def test_declined_card_keeps_the_door_shut(payments: StripePayments) -> None:
    with pytest.raises(ToolError, match="card declined"):
        payments.authorise(session="door-0003", machine="m1", hold_cents=2000, card="pm_card_chargeDeclined")


def test_basket_above_the_hold_is_refused(payments: StripePayments) -> None:
    hold = payments.authorise(session="door-0004", machine="m1", hold_cents=1000, card="pm_card_visa")
    with pytest.raises(ToolError, match="less than or equal"):
        payments.capture(session="door-0004", payment_ref=hold.payment_ref, amount_cents=1500)


def test_outages_are_adapter_errors(fake: FakeStripe) -> None:
    payments = StripePayments(client=stripe_client(api_key="sk_test_vendbridge", api_base=fake.url,
                                                   max_network_retries=0))
    fake.fail_next("/v1/balance", method="GET", status=500)
    with pytest.raises(AdapterError, match="500"):
        payments.balance()
    fake.fail_next("/v1/balance", method="GET", status=429)
    with pytest.raises(AdapterError, match="rate limit"):
        payments.balance()
    fake.fail_next("/v1/balance", method="GET", mode="drop")
    with pytest.raises(AdapterError, match="unreachable"):
        payments.balance()
    wrong = StripePayments(client=stripe_client(api_key="sk_test_wrong", api_base=fake.url))
    with pytest.raises(AdapterError, match="API key"):
        wrong.balance()
    assert payments.balance().available_cents == 0  # and it works again afterwards


# --- must show: no path charges twice for one order when the network fails mid-request ------------
@pytest.mark.parametrize("path", ["/v1/checkout/sessions", "/v1/payment_intents", "/v1/payment_intents/*/capture",
                                  "/v1/refunds"])
def test_sdk_retry_after_a_commit_whose_reply_was_lost_charges_once(
        fake: FakeStripe, payments: StripePayments, path: str) -> None:
    fake.fail_next(path, mode="drop_after_commit")
    link = payments.create_payment_link(order_ref="so-main-00009", amount_cents=1200, description="crisps",
                                        customer="U1")
    pi = str(fake.complete_checkout_session(link.link_id)["payment_intent"])
    hold = payments.authorise(session="door-0009", machine="m1", hold_cents=2000, card="pm_card_visa")
    payments.capture(session="door-0009", payment_ref=hold.payment_ref, amount_cents=450)
    payments.refund(payment_ref=pi, amount_cents=200, reason="dented", idempotency_key="r-9")
    attempts = [r for r in fake.requests_to(path, "POST") if r.fault or r.replayed]
    assert [(a.fault, a.replayed) for a in attempts] == [("drop_after_commit", False), (None, True)]
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    assert len(fake.objects("checkout.session")) == 1
    assert len([p for p in fake.objects("payment_intent") if p["status"] == "succeeded"]) == 2
    assert sorted(t["amount"] for t in fake.objects("balance_transaction")) == [-200, 450, 1200]


def test_a_retry_by_the_caller_after_the_sdk_gave_up_charges_once(fake: FakeStripe) -> None:
    payments = StripePayments(client=stripe_client(api_key="sk_test_vendbridge", api_base=fake.url,
                                                   max_network_retries=0))
    hold = payments.authorise(session="door-0010", machine="m1", hold_cents=2000, card="pm_card_visa")
    fake.fail_next("/v1/payment_intents/*/capture", mode="drop_after_commit")
    with pytest.raises(AdapterError, match="unreachable"):
        payments.capture(session="door-0010", payment_ref=hold.payment_ref, amount_cents=900)
    assert fake.get(hold.payment_ref)["status"] == "succeeded"  # Stripe did it; the reply was lost
    # later (a restart, the next job run) the caller tries again with the same project ids
    again = payments.capture(session="door-0010", payment_ref=hold.payment_ref, amount_cents=900)
    assert again.captured_cents == 900
    assert [t["amount"] for t in fake.objects("balance_transaction")] == [900]
    fake.fail_next("/v1/refunds", mode="drop_after_commit")
    with pytest.raises(AdapterError):
        payments.refund(payment_ref=hold.payment_ref, amount_cents=300, reason="x", idempotency_key="r-10")
    payments.refund(payment_ref=hold.payment_ref, amount_cents=300, reason="x", idempotency_key="r-10")
    assert [r["amount"] for r in fake.objects("refund")] == [300]
