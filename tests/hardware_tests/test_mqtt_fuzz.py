"""Hypothesis: whatever a device sends, the bridge keeps running and every message lands in the ledger,
the event journal or the dead letters."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware_adapters.mqtt_payloads import translate
from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import processed, pump, start_bridge
from tests.mqtt_probe import MqttProbe

FIELDS = ("id", "type", "ts", "slot", "price_cents", "payment", "txn", "state", "session", "count",
          "amount_cents", "celsius", "code", "detail", "slots", "cmd_id", "ok", "error", "online")
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["vend", "door", "restocked", "cash_collected", "temperature", "fault", "card", "cash",
                     "open", "A1", "2026-03-01T09:00:00+01:00", "2026-03-01T09:00:00", "e-1", "e-2"]),
    st.dictionaries(st.sampled_from(["A1", "B2", "zz/"]),
                    st.fixed_dictionaries({"count": st.integers(-2, 20), "price_cents": st.integers(-1, 500)}),
                    max_size=3),
)
VEND = st.fixed_dictionaries({
    "id": st.sampled_from([f"v-{i}" for i in range(30)]), "type": st.just("vend"),
    "ts": st.just("2026-03-01T09:00:00+01:00"), "slot": st.sampled_from(["A1", "B2", "C3"]),
    "price_cents": st.integers(0, 1000), "payment": st.sampled_from(["card", "cash"]),
})
PAYLOAD = st.one_of(
    st.binary(max_size=120),
    st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8).map(lambda d: json.dumps(d).encode()),
    VEND.map(lambda d: json.dumps(d).encode()),
)
MESSAGE = st.tuples(st.sampled_from(["events", "events", "inventory", "dex", "ack"]), PAYLOAD)


def test_generated_payloads_never_stop_the_bridge_and_all_land(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1-fuzz")
    sentinels = itertools.count()
    machines: dict[str, dict[str, str]] = {"m1": {"A1": "cola"}, "m2": {"A1": "cola"}}

    @settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(MESSAGE, min_size=1, max_size=20))
    def run(messages: list[tuple[str, bytes]]) -> None:
        expected: set[str] = set()
        for leaf, payload in messages:
            topic = f"vend/m1/{leaf}"
            assert device.publish(topic, payload) == 0
            got = translate(topic, payload, received_at=datetime.now(UTC), machines=machines)
            expected |= {e.id for e in got.events}
        sentinel = f"sentinel-{next(sentinels)}"
        body: dict[str, Any] = {"id": sentinel, "type": "temperature", "ts": "2026-03-01T09:00:00+00:00",
                                "celsius": 4.0}
        assert device.publish("vend/m1/events", json.dumps(body)) == 0
        assert pump(bridge, lambda: f"mqtt:m1:{sentinel}" in processed(bridge))
        assert expected <= processed(bridge)

    try:
        run()
        # Every dead letter kept its bytes and a reason; every sale is a valid vend, booked once.
        letters = bridge.store.rows("dead_letter")
        assert letters and all(r["reason"] and isinstance(r["raw"], bytes) for r in letters)
        assert len(letters) == len(processed(bridge, "dead_lettered"))
        sales = processed(bridge, "sale")
        lines = bridge.store.rows("ledger_line", credit="revenue")
        assert {r["event_id"] for r in lines} <= sales
        assert len({r["event_id"] for r in lines}) == len(lines)
    finally:
        device.close()
        bridge.close()
