"""Webhooks are durable before their 200: a bridge SIGKILLed after answering Stripe and before booking
books the delivery after a restart, exactly once (hardware_adapters/stripe/inbox.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge import events as ev
from bridge.compose.live import build_live
from bridge.ledger import CARD_PENDING, DEPOSITS, FEES
from bridge.live.config import LiveConfig
from bridge.store import Store
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.doubles.stripe_webhooks import post_event
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.inbox import KINDS, decode, encode
from hardware_adapters.stripe.payments import StripePayments
from tests.broker import REPO
from tests.stripe.rig import SECRET, deadline_wait

# A bridge whose core never runs: it answers webhooks (HTTP) and then is killed before booking anything.
ANSWER_ONLY = """
import sys, threading
from bridge.compose.live import build_live
from bridge.live.config import LiveConfig
live = build_live(LiveConfig.load(sys.argv[1]), start=False)
live._start_http()
print(live.http_port, flush=True)
threading.Event().wait()
"""


def test_inbox_events_survive_their_encoding() -> None:
    at = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    samples = [ev.PaymentReceived(id="stripe:pay:pi_1", ts=at, payment_ref="pi_1", amount_cents=2400, order_ref="so-1",
                                  customer="U7"),
               ev.CardCaptured(id="stripe:capture:pi_2", ts=at, payment_ref="pi_2", session="door-1", amount_cents=730),
               ev.PaymentStatus(id="stripe:canceled:pi_3", ts=at, payment_ref="pi_3", status="canceled"),
               ev.RefundIssued(id="stripe:refund:re_1", ts=at, payment_ref="pi_1", amount_cents=500,
                               paid_from="card_pending"),
               ev.DisputeOpened(id="stripe:dispute:dp_1", ts=at, dispute_ref="dp_1", payment_ref="pi_1",
                                amount_cents=2400),
               ev.FeeCharged(id="stripe:fee:txn_1", ts=at, amount_cents=100, reason="card_fees",
                             paid_from="card_pending"),
               ev.CardSettled(id="stripe:payout:po_1", ts=at, amount_cents=1000),
               ev.DeadLettered(id="dead:0f", ts=at, source="stripe", topic="/stripe/webhook", reason="bad JSON",
                               raw=b"\xff{\x00")]  # a signed delivery that could not be booked keeps its bytes
    assert {type(e) for e in samples} == set(KINDS.values())
    assert decode(encode(samples)) == samples


def _config(tmp_path: Path, fake: FakeStripe) -> Path:
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live.db"}"\n\n[http]\nport = 0\n\n'
                   f'[scheduler]\nenabled = false\n\n[stripe]\nbase_url = "{fake.url}"\n')
    return cfg


def test_a_bridge_killed_after_the_200_books_the_delivery_once_after_a_restart(
        tmp_path: Path, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    cfg = _config(tmp_path, fake)
    payments = StripePayments(client=stripe_client(api_key="sk_test_vendbridge", api_base=fake.url), shop="main")
    link = payments.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="oat milk",
                                        customer="U7")
    fake.complete_checkout_session(link.link_id)

    proc = subprocess.Popen([sys.executable, "-c", ANSWER_ONLY, str(cfg)], cwd=REPO, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())  # the bridge's HTTP server is up
        url = f"http://127.0.0.1:{port}/stripe/webhook"
        delivered = fake.deliver_events(url, SECRET)
        assert delivered and all(status == 200 for _, status in delivered)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    store = Store(url=f"sqlite:///{tmp_path / 'live.db'}")  # what the killed bridge left: kept, not booked
    with store.engine.connect() as conn:
        kept = conn.execute(text("SELECT COUNT(*), COUNT(booked_at) FROM stripe_inbox")).one()
        booked = conn.execute(text("SELECT COUNT(*) FROM processed_event")).scalar_one()
    store.engine.dispose()
    assert (tuple(kept), booked) == ((len(delivered), 0), 0)

    live = build_live(LiveConfig.load(cfg), start=False)  # the restart
    stop = threading.Event()
    ingest = threading.Thread(target=live.run, args=(stop,), daemon=True)
    ingest.start()
    try:
        deadline_wait(lambda: live.ledger.balance(DEPOSITS) == -2400 and live.ledger.balance(FEES) == 100)
        live._start_http()
        url = f"http://127.0.0.1:{live.http_port}/stripe/webhook"
        for event in fake.events():  # Stripe retries every delivery once more: nothing more is booked
            assert post_event(url, event, SECRET)[0] == 200
        deadline_wait(lambda: live.loop.duplicates >= len(delivered))
        assert (live.ledger.balance(DEPOSITS), live.ledger.balance(CARD_PENDING)) == (-2400, 2400 - 100)
        deadline_wait(lambda: live.store.scalar("SELECT COUNT(*) FROM stripe_inbox WHERE booked_at IS NULL") == 0)
    finally:
        stop.set()
        ingest.join(timeout=10)
        live._stop_http()
        live.close()
    again = Store(url=f"sqlite:///{tmp_path / 'live.db'}")
    try:
        assert again.scalar("SELECT COUNT(*) FROM ledger_line WHERE credit = :d", d=DEPOSITS) == 1
        assert again.scalar("SELECT COUNT(*) FROM stripe_inbox WHERE booked_at IS NULL") == 0
    finally:
        again.engine.dispose()
