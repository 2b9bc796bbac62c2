"""Reconciliation of Stripe's balance transactions with the ledger: a clean day, then planted
differences of every kind, and `vend reconcile --date D` on the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import stripe
from sqlalchemy import text

from bridge import events as ev
from bridge.cli import main
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.stripe.payments import StripePayments
from hardware_adapters.stripe.reconcile import Reconciliation, reconcile_day
from hardware_adapters.stripe.wiring import StripeReconciler
from tests.stripe.rig import SECRET, START, Books, Clock

DAY = START.date()


def shop_day(fake: FakeStripe, payments: StripePayments, endpoint: str, books: Books, clock: Clock) -> str:
    """A day's trade: a special order paid and partly refunded, a fridge session; all webhooks delivered."""
    link = payments.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="oat milk",
                                        customer="U7")
    pi = str(fake.complete_checkout_session(link.link_id)["payment_intent"])
    clock.advance(timedelta(hours=2))
    hold = payments.authorise(session="door-1", machine="m1", hold_cents=2000, card="pm_card_visa")
    payments.capture(session="door-1", payment_ref=hold.payment_ref, amount_cents=730)
    clock.advance(timedelta(hours=2))
    payments.refund(payment_ref=pi, amount_cents=400, reason="one missing", idempotency_key="r1")
    assert all(status == 200 for _, status in fake.deliver_events(endpoint, SECRET))
    books.ingest()
    return pi


def kinds(report: Reconciliation) -> list[tuple[str, str]]:
    return sorted((d.kind, d.ref) for d in report.differences)


def test_a_clean_day_reconciles(fake: FakeStripe, client: stripe.StripeClient, payments: StripePayments,
                                endpoint: str, books: Books, clock: Clock) -> None:
    shop_day(fake, payments, endpoint, books, clock)
    report = reconcile_day(client=client, store=books.store, shop="main", day=DAY)
    assert report.ok, report.differences
    assert (report.transactions, report.matched) == (3, 3)  # two charges, one refund
    assert reconcile_day(client=client, store=books.store, shop="main", day=DAY - timedelta(days=1)).transactions == 0


def test_planted_differences_are_all_reported(fake: FakeStripe, client: stripe.StripeClient,
                                              payments: StripePayments, endpoint: str, books: Books,
                                              clock: Clock) -> None:
    pi = shop_day(fake, payments, endpoint, books, clock)
    with books.store.engine.begin() as conn:  # a bug booked the payment short, and lost the refund
        conn.execute(text("UPDATE ledger_line SET amount_cents = 2000 WHERE event_id = :e"), {"e": f"stripe:pay:{pi}"})
        refund_id = conn.execute(text("SELECT event_id FROM ledger_line WHERE event_id LIKE 'stripe:refund:%'")
                                 ).scalar_one()
        conn.execute(text("DELETE FROM ledger_line WHERE event_id = :e"), {"e": refund_id})
        fee_id = conn.execute(text("SELECT event_id FROM ledger_line WHERE event_id LIKE 'stripe:fee:%' "
                                   "ORDER BY ts DESC LIMIT 1")).scalar_one()
        conn.execute(text("UPDATE ledger_line SET amount_cents = 1 WHERE event_id = :e"), {"e": fee_id})
    # the same order charged a second time (a session made outside the adapter), its webhooks lost
    twice = client.v1.checkout.sessions.create(params={
        "mode": "payment", "metadata": {"order_ref": "so-main-00001"}, "payment_intent_data": {
            "metadata": {"order_ref": "so-main-00001"}},
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 2400,
                                                      "product_data": {"name": "oat milk"}}}]})
    second_pi = str(fake.complete_checkout_session(twice.id)["payment_intent"])
    # and the books hold a Stripe payment Stripe never had
    books.ledger.record(ev.PaymentReceived(id="stripe:pay:pi_3Ghost", ts=clock.now, payment_ref="pi_3Ghost",
                                           amount_cents=999, order_ref="so-main-00001"))
    books.store.flush()
    report = reconcile_day(client=client, store=books.store, shop="main", day=DAY)
    got = kinds(report)
    assert ("amount_mismatch", pi) in got
    assert ("missing_in_ledger", refund_id.split(":")[2]) in got
    assert ("fee_mismatch", fee_id.split(":")[2]) in got
    assert ("missing_in_ledger", second_pi) in got
    assert ("fee_missing", next(t["id"] for t in fake.objects("balance_transaction")
                                if t["source"] == fake.get(second_pi)["latest_charge"])) in got
    assert ("duplicate_charge", "so-main-00001") in got
    assert ("missing_in_stripe", "stripe:pay:pi_3Ghost") in got
    assert ("duplicate_in_ledger", "so-main-00001") in got
    assert len(got) == 8
    mismatch = next(d for d in report.differences if d.kind == "amount_mismatch")
    assert (mismatch.stripe_cents, mismatch.ledger_cents) == (2400, 2000)


def test_payouts_in_transit_wait_and_lost_payout_webhooks_are_reported(
        fake: FakeStripe, client: stripe.StripeClient, payments: StripePayments, endpoint: str, books: Books,
        clock: Clock) -> None:
    shop_day(fake, payments, endpoint, books, clock)
    clock.advance(timedelta(days=1, hours=1))
    assert fake.payout_available() is not None
    payout_day = clock.now.date()
    assert reconcile_day(client=client, store=books.store, shop="main", day=payout_day).ok  # in transit
    clock.advance(timedelta(days=1, seconds=1))
    fake.balance_amounts()  # the payout lands; its webhook is not delivered
    late = reconcile_day(client=client, store=books.store, shop="main", day=payout_day)
    assert [d.kind for d in late.differences] == ["missing_in_ledger"]
    fake.deliver_events(endpoint, SECRET)
    books.ingest()
    assert reconcile_day(client=client, store=books.store, shop="main", day=payout_day).ok


def test_daily_job_raises_an_alarm_once_a_day(fake: FakeStripe, client: stripe.StripeClient,
                                              payments: StripePayments, endpoint: str, books: Books,
                                              clock: Clock) -> None:
    shop_day(fake, payments, endpoint, books, clock)
    alarms: list[ev.Event] = []
    job = StripeReconciler(client=client, store=books.store, shop="main", sink=alarms.append,
                           now=lambda: datetime(2025, 3, 4, 6, 15, tzinfo=UTC))
    job.reconcile_payments()
    assert job.last is not None and job.last.ok and job.last.day == date(2025, 3, 3) and alarms == []
    with books.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_line WHERE event_id LIKE 'stripe:fee:%'"))
    job.reconcile_payments()
    assert [(a.kind, a.id) for a in alarms] == [("alarm", "stripe:reconcile:2025-03-03")]


def test_vend_reconcile_on_the_command_line(fake: FakeStripe, client: stripe.StripeClient,
                                            payments: StripePayments, endpoint: str, books: Books, clock: Clock,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    shop_day(fake, payments, endpoint, books, clock)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    args = ["reconcile", "--date", DAY.isoformat(), "--db", books.url, "--stripe-api", fake.url]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["ok"], out["transactions"], out["differences"]) == (True, 3, [])
    with books.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_line WHERE event_id LIKE 'stripe:refund:%'"))
    assert main(args) == 1
    assert "missing_in_ledger" in capsys.readouterr().out
    monkeypatch.delenv("STRIPE_API_KEY")
    assert main(args) == 2
    assert "STRIPE_API_KEY" in capsys.readouterr().err
