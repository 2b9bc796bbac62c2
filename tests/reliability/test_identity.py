"""The bridge's MQTT identity: a device logging in with the bridge's client id (or the bridge's user
name as its id) cannot take the bridge's session over; every disconnect and reconnect is logged."""

from __future__ import annotations

import logging

import pytest

from tests.broker import MosquittoBroker
from tests.mqtt_probe import MqttProbe
from tests.reliability.kit import pump_until, sale_ids, start, vend


def test_a_device_with_the_bridges_client_id_takes_nothing_over(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    assert bridge.fleet is not None
    link = bridge.fleet.link
    honest = MqttProbe(mosquitto_broker, "m2", client_id="m2")
    try:
        for round_ in range(8):  # 8 takeover attempts, with a vend from another device in between
            for cid in ("vendbridge", "bridge"):
                thief = MqttProbe(mosquitto_broker, "m1", client_id=cid)
                assert thief.connected() == 0  # accepted, as "m1": the broker binds the id to the user
                thief.close()
            for i in range(20):
                assert honest.publish("vend/m2/events", vend(f"r{round_}-{i}")) == 0
        assert pump_until(bridge, lambda: len(sale_ids(bridge.store)) >= 160)
        assert link.connects == 1 and link.disconnects == 0 and link.connected.is_set()
        assert len(set(sale_ids(bridge.store))) == 160
    finally:
        honest.close()
        bridge.close()


def test_every_disconnect_and_reconnect_is_logged_with_its_reason(
    mosquitto_broker: MosquittoBroker, tmp_path: object, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="vendbridge.mqtt")
    bridge = start(mosquitto_broker, f"sqlite:///{tmp_path}/store.db", monkeypatch)
    assert bridge.fleet is not None
    try:
        mosquitto_broker.stop()
        mosquitto_broker.start()
        assert bridge.fleet.wait_subscribed(15, count=2)
    finally:
        bridge.close()
    records = [r for r in caplog.records if r.name == "vendbridge.mqtt"]
    kinds = [r.getMessage() for r in records]
    assert kinds[:3] == ["mqtt connected", "mqtt disconnected", "mqtt reconnected"]
    lost = records[1]
    assert lost.levelno == logging.WARNING and getattr(lost, "reason", "") and getattr(lost, "reason_code", 0) != 0
    assert kinds[-1] == "mqtt disconnected" and records[-1].levelno == logging.INFO  # our own stop
