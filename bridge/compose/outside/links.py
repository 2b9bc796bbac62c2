"""How the simulated outside of `vend hil` reaches the shop, and the shop's start: fresh secrets in the
environment, the shop's own events kept for the run folder, the first report of the machine, the
card processor's payouts as signed webhooks, and a broker restart."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.errors import AdapterError, ConfigError

DEVICE_START_S = 15.0


def hil_secrets(stack: ExitStack) -> dict[str, str]:
    """Fresh secrets for this run in the environment (the live config reads secrets from there only),
    removed again on the way out."""
    names = {k: f"VEND_HIL_{k.upper()}" for k in ("mqtt", "device", "slack_bot", "slack_secret", "stripe_key",
                                                   "stripe_hook", "db", "admin")}
    values = {"slack_bot": f"xoxb-hil-{secrets.token_hex(8)}", "slack_secret": secrets.token_hex(16),
              "stripe_key": f"sk_test_hil{secrets.token_hex(8)}", "stripe_hook": f"whsec_{secrets.token_hex(16)}"}
    for key, value in values.items():
        os.environ[names[key]] = value
    for key in ("db", "admin"):
        os.environ.pop(names[key], None)

    def clear() -> None:
        for key in values:
            os.environ.pop(names[key], None)

    stack.callback(clear)
    return names


def record_events(live: Any, events: list[Any]) -> None:
    watch_events(live, events.append)


def watch_events(live: Any, then: Callable[[Any], None]) -> None:
    """`then(event)` for each event the shop records, after what observed it before."""
    before = live.loop.on_event

    def observe(e: Any) -> None:
        if before is not None:
            before(e)
        then(e)

    live.loop.on_event = observe


def watch_days(runtime: Any, then: Callable[[Any], None]) -> None:
    """`then(record)` for each day the shop closes (a DayRecord), after what saw it before (the day's log line)."""
    before = runtime.on_day

    def on_day(record: Any) -> None:
        if before is not None:
            before(record)
        then(record)

    runtime.on_day = on_day


def start_device(world: Any, *, host: str, port: int, password: str, work: Path, seed: int, clock: Any,
                 stack: ExitStack) -> Any:
    """The world's machine as an emulated device on the broker, its slots empty until ops restock them
    (stopped by `stack`)."""
    from hardware_adapters.emulator import DeviceEmulator, Slot

    machine = world.machine_id
    slots = {n: Slot(count=0, price_cents=0, capacity=st.capacity) for n, st in world.slots.items()}
    device = DeviceEmulator(machine_id=machine, host=host, port=port, password=password,
                            outbox_path=work / f"{machine}-outbox.db", slots=slots, seed=seed,
                            inventory_interval_s=None, dex_interval_s=None, clock=clock.now)
    device.start()
    stack.callback(device.stop)
    return device


def wait_subscribed(live: Any, link: Any, deadline: float) -> None:
    """Until the shop's MQTT link is connected and subscribed (monotonic `deadline`)."""
    while not (link.connected.is_set() and live.fleet.subscriptions >= 1):
        if time.monotonic() > deadline:
            raise ConfigError(f"the shop could not connect to the broker at {link.host}:{link.port}")
        live.fleet.drain_into_backlog()
        time.sleep(0.01)


def wait_started(live: Any, link: Any, device: Any) -> None:
    """The shop is subscribed and has the machine's first inventory report (its slots) in hand."""
    deadline = time.monotonic() + DEVICE_START_S
    wait_subscribed(live, link, deadline)
    device.publish_inventory()
    while link.received["inventory"] < 1 or link.received["status"] < 1:
        if time.monotonic() > deadline:
            raise AdapterError(f"the emulated machine {device.machine_id} did not report")
        time.sleep(0.01)
    live.fleet.drain_into_backlog()


class Payouts:
    """The card processor's payouts of the settled card takings: signed payout.paid webhooks to the shop's
    /stripe/webhook. With faults, a payout is sometimes delivered twice, and an older one again later."""

    def __init__(self, *, url: str, secret: str, faults: Any = None) -> None:
        self.url, self.secret, self.faults = url, secret, faults
        self.killer: Any = None  # --faults: the shop may be killed while it answers (bridge/compose/hil_process.py)
        self.sent: list[dict[str, Any]] = []

    def send(self, cents: int, at: datetime) -> None:
        from hardware_adapters.doubles.stripe_webhooks import build_event
        from hardware_adapters.doubles.stripe_wire import from_fixture

        created = int(at.timestamp())
        payout = from_fixture("payout", id=f"po_hil{created}{cents}", amount=cents, arrival_date=created,
                              created=created, status="paid", description="STRIPE PAYOUT")
        event = build_event("payout.paid", payout, created=created)
        self._post(event)
        if self.faults is not None and self.faults.roll("webhook_replay"):
            self._post(event)  # the same delivery again
            if self.sent:
                self._post(self.faults.pick(self.sent))  # and an older one, out of order
        self.sent.append(event)

    def _post(self, event: dict[str, Any]) -> None:
        from hardware_adapters.doubles.stripe_webhooks import post_event

        if self.killer is not None and self.killer.chance("webhook"):
            got = self.killer.during(lambda: post_event(self.url, event, self.secret), "webhook")
            if isinstance(got, tuple) and got[0] == 200:
                return
            # no answer: Stripe delivers the event again (to the shop started again, at its new address)
        status, body = post_event(self.url, event, self.secret)
        if status != 200:
            raise AdapterError(f"/stripe/webhook answered {status}: {body[:200]!r}")


def restart_broker(broker: Any, live: Any, link: Any, device: Any) -> None:
    """Stop the broker (it saves its sessions) and start it again on its port; back when the shop and the
    device are connected again."""
    broker.stop()
    deadline = time.monotonic() + DEVICE_START_S
    while link.connected.is_set() or device.connected:
        if time.monotonic() > deadline:
            raise AdapterError("the shop did not notice the broker stop")
        time.sleep(0.01)
    broker.start()
    while not (link.connected.is_set() and device.connected):
        if time.monotonic() > deadline:
            raise AdapterError("the shop or the device did not reconnect after the broker restarted")
        time.sleep(0.01)
    live.fleet.drain_into_backlog()
