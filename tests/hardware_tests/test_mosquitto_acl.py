"""The deployed broker config (ops/mosquitto/) enforces the device contract's per-machine ACL."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.broker import REPO, MosquittoBroker
from tests.mqtt_probe import NOT_AUTHORIZED, MqttProbe


def test_anonymous_and_wrong_password_are_refused(mosquitto_broker: MosquittoBroker) -> None:
    anon = MqttProbe(mosquitto_broker, "", client_id="anon", password="")
    wrong = MqttProbe(mosquitto_broker, "m1", client_id="wrong", password="nope")
    try:
        assert anon.connected() == NOT_AUTHORIZED  # mosquitto 2.0: 135 for anonymous when not allowed
        assert wrong.connected() == NOT_AUTHORIZED
    finally:
        anon.close()
        wrong.close()


def test_device_writes_only_its_own_topics_and_reads_only_its_cmd(mosquitto_broker: MosquittoBroker) -> None:
    bridge = MqttProbe(mosquitto_broker, "bridge")
    m1 = MqttProbe(mosquitto_broker, "m1")
    try:
        assert bridge.connected() == 0 and m1.connected() == 0
        assert bridge.subscribe("vend/+/#") == [1]
        for leaf in ("events", "inventory", "status", "dex", "ack"):
            assert m1.publish(f"vend/m1/{leaf}", b"ok") == 0  # 0: accepted and delivered to the bridge
        # Another machine's topics and its own cmd topic are refused with PUBACK 135 ...
        assert m1.publish("vend/m2/events", b"forged") == NOT_AUTHORIZED
        assert m1.publish("vend/m1/cmd", b"forged") == NOT_AUTHORIZED
        assert m1.publish("vend/m1/other", b"forged") == NOT_AUTHORIZED
        # ... and never delivered: a later allowed message from the same client arrives after them
        # (per-client ordering), so once the sentinel is here a forged one would have been too.
        assert m1.publish("vend/m1/events", b"sentinel") == 0
        assert bridge.wait_for(lambda: b"sentinel" in bridge.received("vend/m1/events"))
        assert bridge.received("vend/m2/events") == []
        assert bridge.received("vend/m1/cmd") == []
        assert bridge.received("vend/m1/other") == []
        assert bridge.received("vend/m1/events") == [b"ok", b"sentinel"]
        # Reading: mosquitto 2.0.11 GRANTS every SUBACK (its default ACL checks reads at delivery, not
        # at subscribe), so the proof is that another machine's commands are never delivered to m1.
        assert m1.subscribe("vend/m2/cmd") == [1]
        assert m1.subscribe("vend/m1/cmd") == [1]
        assert bridge.publish("vend/m2/cmd", b"for-m2") == 0
        assert bridge.publish("vend/m1/cmd", b"for-m1") == 0
        assert m1.wait_for(lambda: m1.received("vend/m1/cmd") == [b"for-m1"])
        assert m1.received("vend/m2/cmd") == []
    finally:
        bridge.close()
        m1.close()


def test_bridge_writes_only_cmd(mosquitto_broker: MosquittoBroker) -> None:
    bridge = MqttProbe(mosquitto_broker, "bridge")
    m2 = MqttProbe(mosquitto_broker, "m2")
    try:
        assert bridge.connected() == 0 and m2.connected() == 0
        assert m2.subscribe("vend/m2/cmd") == [1]
        assert bridge.publish("vend/m2/events", b"forged") == NOT_AUTHORIZED
        assert bridge.publish("vend/m2/status", b"forged", retain=True) == NOT_AUTHORIZED
        assert bridge.publish("vend/m2/cmd", b'{"id": "c1"}') == 0
        assert m2.wait_for(lambda: m2.received("vend/m2/cmd") == [b'{"id": "c1"}'])
    finally:
        bridge.close()
        m2.close()


def test_add_device_creates_a_user_the_broker_accepts(tmp_path: Path) -> None:
    broker = MosquittoBroker(workdir=tmp_path / "b", users=("bridge",))
    script = REPO / "ops" / "mosquitto" / "add-device"
    out = subprocess.run(
        [str(script), "m7", str(broker.passwd_path)], check=True, capture_output=True, text=True
    )
    password = out.stdout.strip()
    assert len(password) >= 20
    refused = subprocess.run([str(script), "vend/+", str(broker.passwd_path)], capture_output=True)
    assert refused.returncode == 2
    with broker:
        m7 = MqttProbe(broker, "m7", password=password)
        try:
            assert m7.connected() == 0
            assert m7.publish("vend/m7/events", b"x") == 16  # accepted; 16 = no matching subscribers
            assert m7.publish("vend/m1/events", b"x") == NOT_AUTHORIZED
        finally:
            m7.close()
        # Rotation: the old password stops working after a reload/restart.
        rotated = subprocess.run(
            [str(script), "m7", str(broker.passwd_path)], check=True, capture_output=True, text=True
        )
        assert rotated.stdout.strip() != password
        broker.restart()
        old = MqttProbe(broker, "m7", client_id="old", password=password)
        new = MqttProbe(broker, "m7", client_id="new", password=rotated.stdout.strip())
        try:
            assert old.connected() == NOT_AUTHORIZED
            assert new.connected() == 0
        finally:
            old.close()
            new.close()
