"""Card takings settle by one rule on both sides: pending until the card processor pays them out, then
in the bank, by the same event and accounts the simulator books its card settlement with. Live: a
fridge's card vends (machine events) charged at (fake) Stripe when the door closes; Stripe's fee out of
the takings it holds; the payout's signed `payout.paid` webhook to the live HTTP server moves the money
to the bank, through the ingest loop, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge import events as ev
from bridge.compose.live import LiveBridge, build_live
from bridge.domain import Payment
from bridge.ledger import BANK, CARD_PENDING, FEES
from bridge.live.config import LiveConfig
from hardware_adapters.doubles.stripe_api import FakeStripe
from tests.stripe.rig import SECRET, START, Clock, deadline_wait


@pytest.fixture
def live(tmp_path: Path, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveBridge]:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VEND_MQTT_PASSWORD", "unused")
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live.db"}"\ntz = "UTC"\n\n[http]\nport = 0\n\n'
                   '[scheduler]\nenabled = false\n\n[mqtt]\nport = 1\n\n'
                   '[[machines]]\nid = "f1"\nfridge = true\nplanogram = { A1 = "cola", A2 = "water" }\n\n'
                   f'[stripe]\nbase_url = "{fake.url}"\nfridge_hold_cents = 1500\n')
    bridge = build_live(LiveConfig.load(cfg), start=False)
    stop = threading.Event()
    core = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    bridge._start_http()
    core.start()
    yield bridge
    stop.set()
    core.join(timeout=10)
    bridge._stop_http()
    bridge.close()


def test_card_takings_wait_in_card_pending_until_stripe_pays_them_out(
        live: LiveBridge, fake: FakeStripe, clock: Clock, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{live.http_port}/stripe/webhook"
    at = START
    live.inbox.put(ev.DoorChanged(id="f1-1", ts=at, machine="f1", open=True, session="s-1", card="pm_card_visa"))
    for n, (slot, price) in enumerate((("A1", 365), ("A2", 250)), start=2):
        live.inbox.put(ev.Sale(id=f"f1-{n}", ts=at + timedelta(seconds=n), machine="f1", slot=slot, sku=slot, units=1,
                               unit_price_cents=price, payment=Payment.CARD, txn="s-1"))
    live.inbox.put(ev.DoorChanged(id="f1-4", ts=at + timedelta(seconds=9), machine="f1", open=False, session="s-1"))
    led = live.ledger
    deadline_wait(lambda: any(pi["status"] == "succeeded" for pi in fake.objects("payment_intent")))
    assert all(status == 200 for _, status in fake.deliver_events(url, SECRET))
    deadline_wait(lambda: led.balance(FEES) > 0)
    fee = led.balance(FEES)
    # the takings are pending: Stripe holds them (less its fee); nothing is in the bank
    assert (led.balance(CARD_PENDING), led.balance(BANK)) == (615 - fee, 0)

    clock.advance(timedelta(days=2, seconds=1))  # the charge's funds become available ...
    payout = fake.payout_available()  # ... and Stripe pays them out: in transit, not in the bank yet
    assert payout is not None and payout["amount"] == 615 - fee
    assert all(status == 200 for _, status in fake.deliver_events(url, SECRET))
    assert (led.balance(CARD_PENDING), led.balance(BANK)) == (615 - fee, 0)

    clock.advance(timedelta(days=2, seconds=1))
    fake.balance_amounts()  # Stripe's time passes: the payout lands, payout.paid is emitted
    assert all(status == 200 for _, status in fake.deliver_events(url, SECRET))
    deadline_wait(lambda: led.balance(BANK) == 615 - fee)
    assert led.balance(CARD_PENDING) == 0
    settled = [r for r in live.store.rows("ledger_line", memo="card settlement")]
    assert [(r["debit"], r["credit"], r["amount_cents"]) for r in settled] == [(BANK, CARD_PENDING, 615 - fee)]
    # the very accounts the simulator's card settlement moves
    from tests.live_e2e.test_live_books import sim_lines

    assert sim_lines(tmp_path)["card settlement"] == (BANK, CARD_PENDING)
    # the sales were booked as what the slots hold (the fridge's planogram), not as the device's slot names
    assert sorted(r["sku"] for r in live.store.rows("ledger_line", credit="revenue")) == ["cola", "water"]
