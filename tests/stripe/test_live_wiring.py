"""`vend live` with a [stripe] section: StripePayments is the shop's Payments, and Stripe's webhooks
posted to the live HTTP server reach the books through the ingest loop, once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridge.compose.live import build_live
from bridge.ledger import CARD_PENDING, DEPOSITS, FEES
from bridge.live.config import LiveConfig
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.doubles.stripe_webhooks import post_event
from hardware_adapters.stripe.payments import StripePayments
from tests.stripe.rig import SECRET, deadline_wait


def test_live_bridge_wires_stripe_payments_and_the_webhook(
        tmp_path: Path, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live.db"}"\n\n[http]\nport = 0\n\n'
                   f'[scheduler]\nenabled = false\n\n[stripe]\nbase_url = "{fake.url}"\n')
    live = build_live(LiveConfig.load(cfg), start=False)
    stop = threading.Event()
    ingest = threading.Thread(target=live.run, args=(stop,), daemon=True)
    try:
        assert isinstance(live.stripe, StripePayments)
        link = live.stripe.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="oat milk",
                                               customer="U7")
        fake.complete_checkout_session(link.link_id)
        live._start_http()
        ingest.start()
        url = f"http://127.0.0.1:{live.http_port}/stripe/webhook"
        assert all(status == 200 for _, status in fake.deliver_events(url, SECRET))
        deadline_wait(lambda: live.ledger.balance(DEPOSITS) == -2400 and live.ledger.balance(FEES) > 0)
        for event in fake.events("payment_intent.succeeded") * 3:  # Stripe retries: nothing more is booked
            assert post_event(url, event, SECRET)[0] == 200
        deadline_wait(lambda: live.loop.duplicates >= 3)
        assert (live.ledger.balance(DEPOSITS), live.ledger.balance(CARD_PENDING)) == (-2400, 2400 - 100)
    finally:
        stop.set()
        ingest.join(timeout=10)
        live._stop_http()
        live.close()
