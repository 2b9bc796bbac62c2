"""Fridge sessions in `vend live`: a machine configured as a fridge turns its door events into card
sessions at (fake) Stripe: door open holds, door closed charges the session's vends or releases the
hold, once per session; a machine that is not a fridge never touches the card processor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import events as ev
from bridge.compose.live import LiveBridge, build_live
from bridge.domain import Payment
from bridge.errors import ConfigError
from bridge.live.config import LiveConfig
from hardware_adapters.doubles.stripe_api import FakeStripe
from tests.stripe.rig import SECRET, deadline_wait

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, stripe: str) -> Path:
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live.db"}"\ntz = "UTC"\n\n[http]\nport = 0\n\n'
                   '[scheduler]\nenabled = false\n\n[mqtt]\nport = 1\n\n'
                   '[[machines]]\nid = "f1"\nfridge = true\nplanogram = { A1 = "cola", A2 = "water" }\n\n'
                   '[[machines]]\nid = "m2"\n\n' + stripe)
    return cfg


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VEND_MQTT_PASSWORD", "unused")


@pytest.fixture
def live(tmp_path: Path, fake: FakeStripe, live_env: None) -> Iterator[LiveBridge]:
    cfg = _config(tmp_path, f'[stripe]\nbase_url = "{fake.url}"\nfridge_hold_cents = 1500\n')
    bridge = build_live(LiveConfig.load(cfg), start=False)
    stop = threading.Event()
    core = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    core.start()
    yield bridge
    stop.set()
    core.join(timeout=10)
    bridge.close()


class Door:
    """A scripted fridge: the events its MQTT messages become, injected into the core's inbox."""

    def __init__(self, live: LiveBridge, machine: str = "f1") -> None:
        self.live, self.machine, self.n, self.at = live, machine, 0, T0

    def _id(self) -> str:
        self.n += 1
        self.at += timedelta(seconds=5)
        return f"{self.machine}-ev-{self.n}"

    def opened(self, session: str, card: str = "pm_card_visa") -> None:
        self.live.inbox.put(ev.DoorChanged(id=self._id(), ts=self.at, machine=self.machine, open=True,
                                           session=session, card=card))

    def vend(self, session: str, slot: str, price: int) -> None:
        self.live.inbox.put(ev.Sale(id=self._id(), ts=self.at, machine=self.machine, slot=slot, sku=slot, units=1,
                                    unit_price_cents=price, payment=Payment.CARD, txn=session))

    def closed(self, session: str) -> None:
        self.live.inbox.put(ev.DoorChanged(id=self._id(), ts=self.at, machine=self.machine, open=False,
                                           session=session))


def intents(fake: FakeStripe) -> dict[str, dict[str, object]]:
    return {pi["metadata"]["session"]: pi for pi in fake.objects("payment_intent")}


def test_a_door_sequence_holds_charges_the_basket_and_releases_an_empty_session(
        live: LiveBridge, fake: FakeStripe) -> None:
    door = Door(live)
    door.opened("s-1")
    deadline_wait(lambda: intents(fake).get("s-1", {}).get("status") == "requires_capture")
    assert intents(fake)["s-1"]["amount"] == 1500  # the configured hold
    door.vend("s-1", "A1", 365)
    door.vend("s-1", "A2", 250)
    door.vend("s-9", "A2", 250)  # another session's vend is not this basket
    door.closed("s-1")
    deadline_wait(lambda: intents(fake)["s-1"]["status"] == "succeeded")
    assert intents(fake)["s-1"]["amount_received"] == 615

    door.opened("s-1")  # the device tells the session again (new message ids): nothing more happens
    door.closed("s-1")
    door.opened("s-2")
    door.closed("s-2")  # nothing taken: the hold is released
    deadline_wait(lambda: intents(fake).get("s-2", {}).get("status") == "canceled")
    # the core thread marks its session once Stripe's answer is back, a moment after the fake's state
    # changes; the inbox is one queue in order, so by then s-1's repeated door events were handled too
    s2 = lambda: live.fridge.sessions.get("s-2")  # noqa: E731
    deadline_wait(lambda: (s := s2()) is not None and s.status != "authorised")
    assert sorted(intents(fake)) == ["s-1", "s-2"]
    captures = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/capture")]
    assert len(captures) == 1 and intents(fake)["s-1"]["amount_received"] == 615
    assert live.fridge.sessions["s-1"].status == "captured" and live.fridge.sessions["s-2"].status == "canceled"


def test_a_declined_card_is_an_alarm_and_other_machines_never_hold(live: LiveBridge, fake: FakeStripe) -> None:
    seen: list[ev.Event] = []
    observe = live.loop.on_event
    assert observe is not None
    live.loop.on_event = lambda e: (seen.append(e), observe(e))[0]
    Door(live, machine="m2").opened("m2-service")  # not a fridge: a service door
    door = Door(live)
    door.opened("s-3", card="pm_card_chargeDeclined")
    door.vend("s-3", "A1", 365)
    door.closed("s-3")
    deadline_wait(lambda: any(isinstance(e, ev.Alarm) and e.code == "fridge_hold_failed" for e in seen))
    assert fake.objects("payment_intent") == [] or all(pi["status"] != "requires_capture"
                                                      for pi in fake.objects("payment_intent"))
    assert not [r for r in fake.requests if r.path.endswith("/capture") or r.path.endswith("/cancel")]
    assert "m2-service" not in live.fridge.sessions


def test_a_fridge_without_stripe_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fridges"):
        LiveConfig.load(_config(tmp_path, ""))
