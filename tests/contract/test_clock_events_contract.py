"""Contracts for the Clock and EventSource ports.

Clock: the simulator's SimClock and the live SystemClock. EventSource: the simulator's SimEvents (the
world's outbox; simulated customers write), and the two live sources the bridge's ingest reads: the
adapters' EventQueue as Slack fills it (customers' DMs delivered as signed Events API requests) and
the MqttFleet over a real mosquitto (the device emulator sells). What happens is something real on
each side, and each harness records the ids of what it caused, so a test can say what must come back.

Live, the runtime's own EventSource (bridge.live.core.LivePump) hands nothing back: the ingest loop
records these sources' events on the core thread and a live job is fired by the scheduler, not by
`wait_until`. These suites hold the sources it reads to the port's contract.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bridge import events as ev
from bridge.ports import Clock, EventSource
from hardware_adapters.emulator import DeviceEmulator
from hardware_adapters.live import SystemClock
from hardware_adapters.mqtt_link import MqttLink
from hardware_adapters.mqtt_machine import MqttFleet
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.broker import MosquittoBroker
from tests.mqtt_probe import MqttProbe
from tests.slack.rig import ALICE, Rig, make_rig


def project_vend(*, quiet: bool = False) -> SimWorld:
    """A Project Vend world at 9:00 on its first day; `quiet`: its customers write only when a test says."""
    scenario = load_scenario("project_vend", days=30, daily_fee_cents=0)
    if quiet:
        assert scenario.customers is not None
        scenario = scenario.model_copy(update={"customers": scenario.customers.model_copy(
            update={"messages_per_day": 0.0})})
    world = SimWorld(scenario=scenario, catalogue=load_catalogue(None), seed=5)
    world.advance_to(world.at(0, 9))
    world.drain()
    return world


# --- Clock ------------------------------------------------------------------------------------------


class ClockHarness(Protocol):
    clock: Clock
    moves_on_spend: bool  # the port's docstring: sim, the clock moves; live, spending is a no-op


class SimClockHarness:
    moves_on_spend = True

    def __init__(self) -> None:
        self.clock: Clock = sim_backend(project_vend()).clock


class LiveClockHarness:
    moves_on_spend = False

    def __init__(self) -> None:
        self.clock: Clock = SystemClock()


@pytest.fixture(params=["sim", "live"])
def clock_harness(request: pytest.FixtureRequest) -> ClockHarness:
    return SimClockHarness() if request.param == "sim" else LiveClockHarness()


def test_the_time_is_timezone_aware(clock_harness: ClockHarness) -> None:
    now = clock_harness.clock.now()
    assert now.tzinfo is not None and now.utcoffset() is not None


def test_the_time_never_goes_back(clock_harness: ClockHarness) -> None:
    clock = clock_harness.clock
    seen = [clock.now()]
    for minutes in (5, 0, 30, -10, 0.5):
        clock.spend(minutes)
        seen.append(clock.now())
    assert seen == sorted(seen)


def test_spending_time_moves_the_clock_by_at_most_what_was_spent(clock_harness: ClockHarness) -> None:
    clock = clock_harness.clock
    before = clock.now()
    clock.spend(15)
    moved = clock.now() - before
    if clock_harness.moves_on_spend:
        assert moved == timedelta(minutes=15)  # the action took its time, and the world moved with it
    else:
        assert timedelta(0) <= moved < timedelta(minutes=1)  # live, the action took the time it took


# --- EventSource ------------------------------------------------------------------------------------


class SourceHarness(Protocol):
    events: EventSource
    kind: type[ev.Event]  # what this harness's happenings are
    tick: timedelta  # a step of time that is short on this side
    caused: list[str]  # ids of the happenings caused so far, in order

    def now(self) -> datetime: ...

    def happen(self) -> None:
        """Something happens now (and reaches the source)."""
        ...

    def happen_at(self, when: datetime) -> None:
        """Something will happen at `when` (while someone waits)."""
        ...

    def tell_again(self) -> list[ev.Event]:
        """The last happening told to the source a second time (a redelivery, a replay); what it yields."""
        ...


class SimSource:
    kind: type[ev.Event] = ev.MessageReceived
    tick = timedelta(hours=1)

    def __init__(self) -> None:
        self.world = project_vend(quiet=True)
        self.events: EventSource = sim_backend(self.world).events
        self.caused: list[str] = []
        self.times: list[datetime] = []

    def now(self) -> datetime:
        return self.world.now

    @staticmethod
    def _write(world: SimWorld) -> list[str]:
        extras = world.extras
        assert extras is not None and extras.customers is not None
        for _ in range(50):  # a persona with nothing to say this time is silent
            before = len(world.outbox)
            extras.customers.write()
            if len(world.outbox) > before:
                return [e.id for e in world.outbox[before:]]
        raise AssertionError("no simulated customer wrote")

    def happen(self) -> None:
        self.times.append(self.world.now)
        self.caused += self._write(self.world)

    def happen_at(self, when: datetime) -> None:
        self.world.schedule(when, self.happen)

    def tell_again(self) -> list[ev.Event]:
        """The same seed and the same happenings at the same times: the world told again."""
        twin = project_vend(quiet=True)
        for at in self.times:
            twin.advance_to(at)
            self._write(twin)
        return twin.drain()


class SlackSource:
    kind: type[ev.Event] = ev.MessageReceived
    tick = timedelta(seconds=0.3)

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.events: EventSource = rig.slack.events
        self.caused: list[str] = []
        self.timers: list[threading.Timer] = []
        self.last: dict[str, object] = {}

    def now(self) -> datetime:
        return datetime.now(UTC)

    def happen(self) -> None:
        envelope = self.rig.typed_dm(ALICE, f"hello {len(self.caused)}")
        self.last = envelope
        self.caused.append(f"slack:msg:{envelope['event']['channel']}:{envelope['event']['ts']}")
        assert self.rig.event(envelope).status == 200

    def happen_at(self, when: datetime) -> None:
        timer = threading.Timer((when - self.now()).total_seconds(), self.happen)
        self.timers.append(timer)
        timer.start()

    def tell_again(self) -> list[ev.Event]:
        assert self.rig.event(self.last).status == 200  # Slack delivers the same event again
        return self.rig.slack.events.drain()

    def close(self) -> None:
        for t in self.timers:
            t.join(timeout=5)


class MqttSource:
    kind: type[ev.Event] = ev.Sale
    tick = timedelta(seconds=0.3)

    def __init__(self, broker: MosquittoBroker, tmp_path: Path) -> None:
        self.broker = broker
        link = MqttLink(host=broker.host, port=broker.port, username="bridge", password=broker.password("bridge"),
                        client_id="contract-events", reconnect_delay_s=(1, 1))
        self.fleet = MqttFleet(link=link, machines={"m1": {"A1": "cola"}})
        self.events: EventSource = self.fleet
        self.fleet.start()
        assert self.fleet.wait_subscribed(5), "the bridge did not connect and subscribe"
        self.dev = DeviceEmulator(machine_id="m1", host=broker.host, port=broker.port, password=broker.password("m1"),
                                  outbox_path=tmp_path / "m1-outbox.db", seed=3, inventory_interval_s=None,
                                  dex_interval_s=None).start()
        self.caused: list[str] = []
        self.timers: list[threading.Timer] = []
        deadline = time.monotonic() + 5
        while not self.fleet.view("m1").online:  # the device's status (and nothing else) comes first
            assert time.monotonic() < deadline, "the device did not come online"
            self.fleet.next_batch(max_wait_s=0.05, max_items=100)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def happen(self) -> None:
        queued = self.fleet.link.inbox.qsize()
        self.caused.append(f"mqtt:m1:{self.dev.vend('A1', 'card')}")
        self._arrived(queued + 1)

    def _arrived(self, n: int) -> None:
        """Drain does not wait: wait (with a deadline) until the broker handed the bridge `n` messages."""
        deadline = time.monotonic() + 5
        while self.fleet.link.inbox.qsize() < n:
            assert time.monotonic() < deadline, "the broker did not deliver"
            time.sleep(0.005)

    def happen_at(self, when: datetime) -> None:
        def vend() -> None:
            self.caused.append(f"mqtt:m1:{self.dev.vend('A1', 'card')}")

        timer = threading.Timer((when - self.now()).total_seconds(), vend)
        self.timers.append(timer)
        timer.start()

    def tell_again(self) -> list[ev.Event]:
        """The device publishes the message again (it missed the PUBACK): the same message id."""
        probe = MqttProbe(self.broker, "m1", client_id="m1-again")
        try:
            queued = self.fleet.link.inbox.qsize()
            payload = {"id": self.caused[-1].removeprefix("mqtt:m1:"), "type": "vend", "slot": "A1",
                       "ts": self.now().isoformat(), "price_cents": 150, "payment": "card"}
            assert probe.publish("vend/m1/events", json.dumps(payload)) == 0
        finally:
            probe.close()
        self._arrived(queued + 1)
        return self.events.drain()

    def close(self) -> None:
        for t in self.timers:
            t.join(timeout=5)
        self.dev.stop()
        self.fleet.stop()


@pytest.fixture(params=["sim", "slack", "mqtt"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceHarness]:
    if request.param == "sim":
        yield SimSource()
        return
    if request.param == "slack":
        with make_rig(tmp_path) as rig:
            slack = SlackSource(rig)
            try:
                yield slack
            finally:
                slack.close()
            assert rig.fake.violations == []
        return
    mqtt = MqttSource(request.getfixturevalue("mosquitto_broker"), tmp_path)
    try:
        yield mqtt
    finally:
        mqtt.close()


def ids(h: SourceHarness, got: list[ev.Event]) -> list[str]:
    return [e.id for e in got if isinstance(e, h.kind)]


def test_drain_returns_what_happened_once_each_in_order(source: SourceHarness) -> None:
    assert ids(source, source.events.drain()) == []
    for _ in range(3):
        source.happen()
    assert ids(source, source.events.drain()) == source.caused and len(set(source.caused)) == 3
    assert ids(source, source.events.drain()) == []


def test_drain_does_not_wait_for_what_has_not_happened(source: SourceHarness) -> None:
    start = source.now()
    source.happen_at(start + source.tick)
    t0 = time.monotonic()
    assert ids(source, source.events.drain()) == []
    assert time.monotonic() - t0 < min(source.tick.total_seconds(), 1.0)
    assert source.now() < start + source.tick
    assert ids(source, source.events.wait_until(start + 3 * source.tick)) == source.caused  # it comes later


def test_wait_until_returns_what_happened_up_to_then(source: SourceHarness) -> None:
    start = source.now()
    source.happen()
    source.happen_at(start + source.tick)
    got = source.events.wait_until(start + 3 * source.tick)
    assert source.now() >= start + 3 * source.tick
    assert len(source.caused) == 2 and ids(source, got) == source.caused
    assert all(e.ts <= start + 3 * source.tick for e in got if isinstance(e, source.kind))
    assert ids(source, source.events.drain()) == []


def test_waiting_for_a_time_already_past_returns_at_once(source: SourceHarness) -> None:
    source.happen()
    before = source.now()
    got = source.events.wait_until(before - source.tick)
    assert ids(source, got) == source.caused
    assert source.now() - before < source.tick


def test_a_happening_told_again_keeps_its_id(source: SourceHarness) -> None:
    source.happen()
    (first,) = ids(source, source.events.drain())
    again = ids(source, source.tell_again())
    assert again in ([], [first])  # not handed out again, or handed out with the same id (booked once)

