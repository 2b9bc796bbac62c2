"""`vend status` over hostile-but-valid telemetry: a free vend is a unit sold; a status stamped in the
future (a day ahead, or the year 9999) does not freeze the stored online flag."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bridge.live.ingest import status_report
from tests.broker import MosquittoBroker
from tests.mqtt_probe import MqttProbe
from tests.reliability.kit import pump_until, sales, start, vend


def test_free_vends_count_and_future_statuses_do_not_freeze_the_online_flag(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1")
    soon = (datetime.now(UTC) + timedelta(hours=23)).isoformat()
    try:
        for body in (vend("paid", price=150), vend("free", price=0)):
            assert device.publish("vend/m1/events", body) == 0
        statuses = lambda: len(bridge.store.rows("processed_event", kind="machine_status"))  # noqa: E731
        for k, ts in enumerate((soon, "9999-12-31T23:59:59-05:00")):
            assert device.publish("vend/m1/status", json.dumps({"online": True, "ts": ts})) == 0
            assert device.publish("vend/m1/status", json.dumps({"online": False})) == 0  # now: offline
            assert pump_until(bridge, lambda k=k: statuses() >= 3 * k + 2)
            m1 = next(m for m in status_report(bridge.store)["machines"] if m["id"] == "m1")
            assert m1["online"] is False
            assert device.publish("vend/m1/status", json.dumps({"online": True})) == 0
            assert pump_until(bridge, lambda: next(m for m in status_report(bridge.store)["machines"]
                                                   if m["id"] == "m1")["online"] is True)
        assert pump_until(bridge, lambda: len(sales(bridge.store)) == 2)
        report = status_report(bridge.store)
        assert report["units_sold"] == 2 and report["free_vends"] == 1 and report["revenue_cents"] == 150
    finally:
        device.close()
        bridge.close()
