"""A broker crash (SIGKILL) while the bridge is down loses nothing the broker acknowledged: every
vend a device got a PUBACK for is booked once after both come back.

mosquitto sends the PUBACK in the event-loop turn that stores the message and saves its database at the
start of the next turn (autosave_on_changes, interval 1): the test kills the broker once the database
file holds the last vend (a condition with a deadline; it already does when the PUBACK arrives, or
within a few ms): that turn is the window ops/RUNBOOK.md states. With the old config (a save every 30 s) this test books none of them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import wait_db
from tests.mqtt_probe import MqttProbe
from tests.reliability.kit import pump_until, sale_ids, start, vend

TOTAL = 300


def test_vends_queued_for_a_stopped_bridge_survive_a_broker_sigkill(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch,
    record_property: pytest.RecordProperty
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)  # its persistent session and subscriptions exist
    bridge.close()
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1")
    acked: list[str] = []
    t0 = time.perf_counter()
    try:
        for i in range(TOTAL):
            if device.publish("vend/m1/events", vend(f"q{i}")) == 0:  # 0: PUBACKed and queued for the bridge
                acked.append(f"mqtt:m1:q{i}")
        last_ack_ns = time.time_ns()
    finally:
        device.close()
    publish_s = time.perf_counter() - t0
    db = Path(mosquitto_broker.workdir) / "data" / "mosquitto.db"
    last = vend(f"q{TOTAL - 1}")
    assert wait_db(lambda: db.exists() and last in db.read_bytes(), bool, 5.0), "the last vend was never saved"
    save_lag_ms = max(0.0, (db.stat().st_mtime_ns - last_ack_ns) / 1e6)
    mosquitto_broker.kill()  # a crash: no orderly save
    mosquitto_broker.start()
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    try:
        pump_until(bridge, lambda: len(sale_ids(bridge.store)) >= len(acked), timeout=15)
        booked = sale_ids(bridge.store)
    finally:
        bridge.close()
    record_property("acknowledged", len(acked))
    record_property("booked", len(booked))
    record_property("publish_s", round(publish_s, 3))
    print(f"\nbroker SIGKILL: acknowledged {len(acked)}, booked {len(booked)}, publish {publish_s:.2f} s, "
          f"save after the last PUBACK {save_lag_ms:.1f} ms")
    assert len(acked) == TOTAL and sorted(booked) == sorted(acked)
