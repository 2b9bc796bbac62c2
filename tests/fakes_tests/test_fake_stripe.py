"""The Stripe fake, driven by the real `stripe` SDK (and raw HTTP where the wire itself is the point)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

from hardware_adapters.doubles.loopback import JsonHandler, LoopbackServer
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.doubles.stripe_webhooks import (
    build_event,
    encode_event,
    forged_header,
    post_webhook,
    signature_header,
    stale_header,
)
from hardware_adapters.doubles.stripe_wire import StripeError, decode_form, fixture

SECRET = "whsec_test_vendbridge"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeStripe]:
    with FakeStripe(seed=7, clock=clock) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(api_key="sk_test_x", base_addresses={"api": fake.url}, max_network_retries=2)


def ref(value: object) -> str:
    """An expandable field that was not expanded is an id string."""
    assert isinstance(value, str)
    return value


def fee(amount: int) -> int:
    return (amount * 29 + 500) // 1000 + 30


def manual_pi(client: stripe.StripeClient, amount: int = 1000) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_visa",
        "confirm": True, "metadata": {"order_id": "ord-1"}})


def paid_pi(client: stripe.StripeClient, amount: int = 1000) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})


# -- wire format ------------------------------------------------------------------------------------
def test_bracket_notation_decodes_to_nested_objects_and_lists() -> None:
    body = ("metadata[order_id]=x&line_items[0][price_data][unit_amount]=250&line_items[0][quantity]=2"
            "&line_items[1][price]=price_1&expand[0]=latest_charge&metadata[empty]=")
    assert decode_form(body) == {
        "metadata": {"order_id": "x", "empty": ""},
        "line_items": [{"price_data": {"unit_amount": "250"}, "quantity": "2"}, {"price": "price_1"}],
        "expand": ["latest_charge"],
    }


def test_auth_headers_and_error_objects_on_the_wire(fake: FakeStripe) -> None:
    no_auth = httpx.get(fake.url + "/v1/balance")
    assert no_auth.status_code == 401
    assert no_auth.json()["error"]["type"] == "invalid_request_error"
    assert set(no_auth.json()["error"]) >= {"type", "code", "message", "param"}

    auth = {"Authorization": "Bearer sk_test_x", "Stripe-Version": "2024-06-20"}
    resp = httpx.get(fake.url + "/v1/payment_intents/pi_nope", headers=auth)
    assert resp.status_code == 404
    assert resp.headers["Stripe-Version"] == "2024-06-20"
    assert resp.headers["Request-Id"].startswith("req_")
    assert resp.json()["error"]["code"] == "resource_missing"
    assert resp.json()["error"]["param"] == "intent"

    typo = httpx.post(fake.url + "/v1/payment_intents", headers=auth,
                      content="amount=500&currency=usd&metdata[x]=1",
                      )
    assert typo.status_code == 400
    assert typo.json()["error"]["code"] == "parameter_unknown"
    assert typo.json()["error"]["param"] == "metdata"
    assert [r.status for r in fake.requests] == [401, 404, 400]


# -- payment intents --------------------------------------------------------------------------------
def test_manual_capture_create_then_capture_settles_with_fee(
        fake: FakeStripe, client: stripe.StripeClient, clock: Clock) -> None:
    pi = manual_pi(client)
    assert (pi.status, pi.amount_capturable, pi.metadata["order_id"]) == ("requires_capture", 1000, "ord-1")
    assert fake.balance_amounts() == (0, 0)  # an authorisation moves no money

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 1200})
    assert too_much.value.code == "amount_too_large"

    captured = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 800})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 800, 0)
    charge = client.v1.charges.retrieve(ref(captured.latest_charge))
    assert (charge.captured, charge.amount_captured) == (True, 800)
    txn = client.v1.balance_transactions.retrieve(ref(charge.balance_transaction))
    assert (txn.amount, txn.fee, txn.net, txn.status) == (800, fee(800), 800 - fee(800), "pending")
    assert fake.balance_amounts() == (0, 800 - fee(800))

    clock.advance(timedelta(days=1))
    balance = client.v1.balance.retrieve()
    assert balance.available[0].amount == 800 - fee(800)
    assert balance.pending[0].amount == 0
    assert [e["type"] for e in fake.events()][-2:] == ["charge.captured", "payment_intent.succeeded"]


def test_cancel_releases_the_authorisation_and_cannot_be_repeated(client: stripe.StripeClient) -> None:
    pi = manual_pi(client)
    canceled = client.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert client.v1.charges.retrieve(ref(pi.latest_charge)).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.cancel(pi.id)
    assert again.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.capture(pi.id)


def test_declined_card_is_a_402_card_error(fake: FakeStripe, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params={
            "amount": 700, "currency": "usd", "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
            "confirm": True})
    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "insufficient_funds"
    (pi,) = fake.objects("payment_intent")
    assert pi["status"] == "requires_payment_method"
    assert fake.balance_amounts() == (0, 0)


# -- checkout and payment links ---------------------------------------------------------------------
def test_checkout_session_create_complete_and_retrieve(fake: FakeStripe, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://shop.example/ok", "metadata": {"order_id": "ord-9"},
        "payment_intent_data": {"metadata": {"order_id": "ord-9"}},
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 250, "product_data": {"name": "Cola"}},
                        "quantity": 2}]})
    assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 500)
    assert ref(session.url).startswith("https://checkout.stripe.com/")
    assert session.payment_intent is None

    fake.complete_checkout_session(session.id)
    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert isinstance(done.payment_intent, stripe.PaymentIntent)  # expanded
    assert done.payment_intent.metadata["order_id"] == "ord-9"
    assert done.payment_intent.amount_received == 500
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [("Cola", 2, 500)]
    assert fake.balance_amounts() == (0, 500 - fee(500))
    assert fake.events("checkout.session.completed")[0]["data"]["object"]["id"] == session.id


def test_payment_links_with_price_or_price_data(fake: FakeStripe, client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Cold brew case"})
    price = client.v1.prices.create(params={"currency": "usd", "unit_amount": 2400, "product": product.id})
    by_price = client.v1.payment_links.create(params={
        "line_items": [{"price": price.id, "quantity": 1}], "metadata": {"special_order": "so-1"}})
    by_data = client.v1.payment_links.create(params={"line_items": [{"quantity": 3, "price_data": {
        "currency": "usd", "unit_amount": 199, "product_data": {"name": "Oat bar"}}}]})
    assert by_price.url.startswith("https://buy.stripe.com/") and by_price.active
    assert client.v1.payment_links.retrieve(by_data.id).currency == "usd"

    session = fake.complete_payment_link(by_price.id)
    assert (session["payment_link"], session["amount_total"], session["metadata"]) == (
        by_price.id, 2400, {"special_order": "so-1"})
    client.v1.payment_links.update(by_data.id, params={"active": False})
    with pytest.raises(StripeError) as inactive:
        fake.complete_payment_link(by_data.id)  # helpers raise the fake's own error (not an SDK one)
    assert inactive.value.code == "payment_link_inactive"
    assert [s["payment_status"] for s in fake.objects("checkout.session")] == ["paid"]


# -- refunds ----------------------------------------------------------------------------------------
def test_partial_then_full_refund_and_over_refund_errors(fake: FakeStripe, client: stripe.StripeClient) -> None:
    pi = paid_pi(client, 1000)
    partial = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 400, "reason":
                                               "requested_by_customer"})
    assert (partial.status, partial.amount, partial.charge) == ("succeeded", 400, pi.latest_charge)
    with pytest.raises(stripe.InvalidRequestError) as over:
        client.v1.refunds.create(params={"charge": ref(pi.latest_charge), "amount": 700})
    assert (over.value.http_status, over.value.code, over.value.param) == (400, "amount_too_large", "amount")
    assert "$7.00" in str(over.value.user_message) and "$6.00" in str(over.value.user_message)

    rest = client.v1.refunds.create(params={"charge": ref(pi.latest_charge)})
    assert rest.amount == 600
    charge = client.v1.charges.retrieve(ref(pi.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (1000, True)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"

    refunds = client.v1.balance_transactions.list(params={"type": "refund"})
    assert sorted(t.amount for t in refunds.data) == [-600, -400]
    assert sum(fake.balance_amounts()) == 1000 - fee(1000) - 1000  # the fee is not returned


# -- idempotency and failures -----------------------------------------------------------------------
def test_same_key_replays_and_different_body_is_refused(fake: FakeStripe, client: stripe.StripeClient) -> None:
    opts: Any = {"idempotency_key": "order-42-charge"}
    first = manual_pi(client, 1500)
    one = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"}, options=opts)
    two = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"}, options=opts)
    assert one.id == two.id != first.id
    assert two.last_response is not None
    assert two.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(params={"amount": 901, "currency": "usd"}, options=opts)
    assert len(fake.objects("payment_intent")) == 2


def test_sdk_retry_after_a_drop_post_commit_does_not_create_twice(
        fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.fail_next("/v1/refunds", mode="drop_after_commit")
    pi = paid_pi(client)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 300})
    assert [r["id"] for r in fake.objects("refund")] == [refund.id]
    attempts = fake.requests_to("/v1/refunds")
    assert [(a.status, a.replayed, a.fault) for a in attempts] == [
        (None, False, "drop_after_commit"), (200, True, None)]
    assert attempts[0].idempotency_key == attempts[1].idempotency_key is not None
    assert fake.get(ref(pi.latest_charge))["amount_refunded"] == 300


@pytest.mark.parametrize(("mode", "status"), [("error", 500), ("error", 409), ("drop", 500)])
def test_sdk_retries_transient_failures_once_executed(
        fake: FakeStripe, client: stripe.StripeClient, mode: str, status: int) -> None:
    fake.fail_next("/v1/payment_intents/*/capture", mode=mode, status=status)
    pi = manual_pi(client)
    assert client.v1.payment_intents.capture(pi.id).status == "succeeded"
    assert [a.status for a in fake.requests_to("/v1/payment_intents/*/capture")] == [
        None if mode == "drop" else status, 200]
    assert len(fake.objects("balance_transaction")) == 1


def test_rate_limit_is_a_429_the_sdk_raises(fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.fail_next("/v1/balance", status=429, method="GET")
    with pytest.raises(stripe.RateLimitError):
        client.v1.balance.retrieve()
    assert client.v1.balance.retrieve().object == "balance"


# -- balance, lists, payouts, events ----------------------------------------------------------------
def test_balance_transactions_paginate_and_filter_by_created(
        fake: FakeStripe, client: stripe.StripeClient, clock: Clock) -> None:
    start = int(clock().timestamp())
    for amount in (100, 200, 300, 400, 500):
        paid_pi(client, amount)
        clock.advance(timedelta(hours=1))
    page = client.v1.balance_transactions.list(params={"limit": 2})
    assert ([t.amount for t in page.data], page.has_more) == ([500, 400], True)
    nxt = client.v1.balance_transactions.list(params={"limit": 2, "starting_after": page.data[-1].id})
    last = client.v1.balance_transactions.list(params={"limit": 2, "starting_after": nxt.data[-1].id})
    assert ([t.amount for t in nxt.data], [t.amount for t in last.data], last.has_more) == (
        [300, 200], [100], False)
    assert [t.amount for t in page.auto_paging_iter()] == [500, 400, 300, 200, 100]
    window = client.v1.balance_transactions.list(params={"created": {"gte": start + 3600, "lt": start + 3 * 3600}})
    assert [t.amount for t in window.data] == [300, 200]


def test_payouts_drain_the_available_balance(fake: FakeStripe, client: stripe.StripeClient, clock: Clock) -> None:
    paid_pi(client, 2000)
    assert fake.payout_available() is None  # still pending
    clock.advance(timedelta(days=1))
    payout = fake.payout_available()
    assert payout is not None and payout["amount"] == 2000 - fee(2000)
    listed = client.v1.payouts.list()
    assert [(p.id, p.status) for p in listed.data] == [(payout["id"], "in_transit")]
    assert client.v1.balance.retrieve().available[0].amount == 0
    clock.advance(timedelta(days=1))
    assert client.v1.payouts.retrieve(payout["id"]).status == "paid"


def test_events_are_retrievable_and_carry_the_request(fake: FakeStripe, client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 650, "currency": "usd", "payment_method":
                                                  "pm_card_visa", "confirm": True},
                                          options={"idempotency_key": "k-650"})
    (succeeded,) = fake.events("payment_intent.succeeded")
    event = client.v1.events.retrieve(succeeded["id"])
    assert event.request is not None
    assert (event.type, event.data.object.id, event.request.idempotency_key) == (
        "payment_intent.succeeded", pi.id, "k-650")


# -- shape: every field served exists in Stripe's fixture -------------------------------------------
# The fixture's last_payment_error is a stub and its event is a plan.created without previous_attributes;
# an event's data.object is checked against its own resource's fixture instead.
SKIP = {"payment_intent.last_payment_error", "event.data.previous_attributes", "event.data.object"}


def extra_fields(served: Any, spec: Any, path: str) -> list[str]:
    if path in SKIP or path.endswith(".metadata"):
        return []
    if isinstance(served, dict) and isinstance(spec, dict):
        out = [f"{path}.{k}" for k in served if k not in spec and f"{path}.{k}" not in SKIP]
        for key in served.keys() & spec.keys():
            out += extra_fields(served[key], spec[key], f"{path}.{key}")
        return out
    if isinstance(served, list) and isinstance(spec, list) and spec:
        return [f for item in served for f in extra_fields(item, spec[0], path + "[]")]
    return []


def test_every_served_field_exists_in_the_fixture(
        fake: FakeStripe, client: stripe.StripeClient, clock: Clock) -> None:
    pi = manual_pi(client)
    client.v1.payment_intents.capture(pi.id)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
    link = client.v1.payment_links.create(params={"line_items": [{"quantity": 1, "price_data": {
        "currency": "usd", "unit_amount": 300, "product_data": {"name": "Tea"}}}],
        "payment_intent_data": {"metadata": {"a": "b"}}})
    fake.complete_payment_link(link.id)
    clock.advance(timedelta(days=1))
    assert fake.payout_available() is not None
    auth = {"Authorization": "Bearer sk_test_x"}
    served = {"balance": [httpx.get(fake.url + "/v1/balance", headers=auth).json()]}
    for kind in ("payment_intent", "charge", "refund", "checkout.session", "payment_link", "price", "product",
                 "balance_transaction", "payout", "event"):
        ids = [o["id"] for o in fake.objects(kind)]
        assert ids, kind
        served[kind] = [httpx.get(f"{fake.url}/v1/{_path(kind)}/{i}", headers=auth).json() for i in ids]
    session = served["checkout.session"][0]["id"]
    served["item"] = httpx.get(f"{fake.url}/v1/checkout/sessions/{session}/line_items", headers=auth).json()["data"]
    problems = []
    for kind, objs in served.items():
        for obj in objs:
            assert obj.get("object") == kind
            problems += extra_fields(obj, fixture(kind), kind)
            if kind == "event":
                inner = obj["data"]["object"]
                problems += extra_fields(inner, fixture(inner["object"]), inner["object"])
    assert problems == []
    assert set(served["payment_intent"][0]) == set(fixture("payment_intent"))  # and nothing is dropped


def _path(kind: str) -> str:
    return {"checkout.session": "checkout/sessions", "balance_transaction": "balance_transactions"}.get(
        kind, kind + "s")


# -- webhooks ---------------------------------------------------------------------------------------
class Receiver(JsonHandler):
    """What the bridge's webhook endpoint does first: verify the signature with the real SDK."""

    def do_POST(self) -> None:
        payload = self.read_body()
        try:
            event = stripe.Webhook.construct_event(payload, self.headers.get("Stripe-Signature"), SECRET)
        except stripe.SignatureVerificationError:
            self.send_json(400, {"error": "bad signature"})
            return
        self.state.append((event.id, event.type))
        self.send_json(200, {"received": True})


def test_webhook_signatures_verify_with_the_sdk(fake: FakeStripe, client: stripe.StripeClient) -> None:
    pi = paid_pi(client, 1200)
    event = build_event("payment_intent.succeeded", fake.get(pi.id))
    payload = encode_event(event)
    good = signature_header(payload, SECRET)
    assert stripe.Webhook.construct_event(payload, good, SECRET).data.object.id == pi.id
    for bad in (forged_header(payload), stale_header(payload, SECRET)):
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, bad, SECRET)
    tampered = payload.replace(b"1200", b"1")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, good, SECRET)

    received: list[tuple[str, str]] = []
    with LoopbackServer(Receiver, state=received) as endpoint:
        assert post_webhook(endpoint.url, payload, good)[0] == 200
        assert post_webhook(endpoint.url, payload, forged_header(payload))[0] == 400
        assert post_webhook(endpoint.url, payload, stale_header(payload, SECRET))[0] == 400
        delivered = fake.deliver_events(endpoint.url, SECRET)
        assert fake.deliver_events(endpoint.url, SECRET) == []  # each event goes out once
    assert [status for _, status in delivered] == [200] * len(fake.events())
    assert received[0] == (event["id"], "payment_intent.succeeded")
    assert [t for _, t in received[1:]] == [e["type"] for e in fake.events()]
    assert json.loads(payload)["data"]["object"]["amount"] == 1200
