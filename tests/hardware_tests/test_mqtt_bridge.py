"""The live machine over MQTT: a real mosquitto with the project ACL, the device emulator, the bridge
(MqttFleet + IngestLoop + SQLite store) driven on the test thread."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge import events as ev
from bridge.errors import AdapterError, ToolError
from bridge.live.ingest import status_report
from hardware_adapters.emulator import Slot
from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import emulator, processed, pump, start_bridge
from tests.mqtt_probe import NOT_AUTHORIZED, MqttProbe


def test_device_events_reach_the_ledger_once(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path).start()
    try:
        assert pump(bridge, lambda: bridge.fleet.view("m1").online)
        dev.publish_inventory()
        vends = [dev.vend("A1", "card"), dev.vend("C2", "cash"), dev.vend("A1", "card")]
        others = [dev.door("open", "s1"), dev.restock("B1", 2), dev.door("closed", "s1"), dev.collect_cash(),
                  dev.temperature(4.5), dev.fault("E12", "coin jam")]
        dev.publish_dex()
        want = {f"mqtt:m1:{i}" for i in vends + others}
        assert pump(bridge, lambda: want <= processed(bridge) and len(processed(bridge, "dex_audit")) == 1)
        assert dev.wait_drained(timeout=5)
        assert processed(bridge, "sale") == {f"mqtt:m1:{i}" for i in vends}
        assert processed(bridge, "alarm") == {f"mqtt:m1:{others[-1]}"}
        report = status_report(bridge.store)
        assert (report["units_sold"], report["revenue_cents"], report["dead_letters"]) == (3, 150 + 275 + 150, 0)
        m1 = next(m for m in report["machines"] if m["id"] == "m1")
        slots = {s["slot"]: (s["count"], s["price_cents"]) for s in m1["slots"]}
        assert m1["online"] and m1["temperature_c"] == 4.5 and not m1["door_open"]
        assert slots["A1"] == (6, 150) and slots["C2"] == (7, 275) and slots["B1"] == (10, 150)
        assert slots == {s.slot: (s.count, s.price_cents) for s in bridge.fleet.view("m1").slots}
        assert dev.inventory()["A1"] == {"count": 6, "price_cents": 150}
        # Sales are booked: card takings pending, cash in the machine, the sku from the planogram.
        assert bridge.ledger.balance("card_pending") == 300 and bridge.ledger.balance("machine_cash") == 0
        skus = {r["sku"] for r in bridge.store.rows("ledger_line", credit="revenue")}
        assert skus == {"cola", "m1:C2"}
        # The same vend delivered again (a device that missed its PUBACK) changes nothing.
        again = MqttProbe(mosquitto_broker, "m1", client_id="m1-again")
        payload = {"id": vends[0], "type": "vend", "ts": "2026-01-01T10:00:00+00:00", "slot": "A1",
                   "price_cents": 150, "payment": "card", "txn": "x"}
        assert again.publish("vend/m1/events", json.dumps(payload)) == 0
        before = bridge.loop.duplicates
        assert pump(bridge, lambda: bridge.loop.duplicates == before + 1)
        again.close()
        assert status_report(bridge.store)["units_sold"] == 3
    finally:
        dev.stop()
        bridge.close()


def test_commands_wait_for_their_ack(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path, inventory_interval_s=None).start()
    try:
        m1 = bridge.fleet.machines["m1"]
        assert pump(bridge, lambda: m1.view().online)
        dev.publish_inventory()
        assert pump(bridge, lambda: len(m1.view().slots) == 12)
        m1.set_price("B2", 325)
        assert dev.inventory()["B2"]["price_cents"] == 325 and m1.view().slot("B2").price_cents == 325
        m1.display("Back at 2pm")
        m1.lock()
        assert dev.locked and dev.display == "Back at 2pm" and m1.view().locked
        with pytest.raises(ToolError, match=r"refused set_price.*Z9"):
            m1.set_price("Z9", 100)
        with pytest.raises(ToolError, match="refused set_price"):
            m1.set_price("A1", 0)
        m1.unlock()
        assert not dev.locked and not m1.view().locked
        # Events that arrived while a command waited are not lost: they come in the next batch.
        vend = dev.vend("A1", "card")
        m1.display("hello")
        assert pump(bridge, lambda: f"mqtt:m1:{vend}" in processed(bridge))
    finally:
        dev.stop()
        bridge.close()


def test_a_command_to_an_offline_machine_fails_fast(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    try:
        # m2 never came online.
        t0 = time.monotonic()
        with pytest.raises(ToolError, match="m2 is offline"):
            bridge.fleet.machines["m2"].lock()
        assert time.monotonic() - t0 < 0.5
        # m1 comes online, then vanishes: its last will marks it offline.
        dev = emulator(mosquitto_broker, tmp_path).start()
        m1 = bridge.fleet.machines["m1"]
        assert pump(bridge, lambda: m1.view().online)
        dev.client.socket().close()  # type: ignore[union-attr]  # the link dies without a DISCONNECT
        assert pump(bridge, lambda: not m1.view().online, timeout=30)
        t0 = time.monotonic()
        with pytest.raises(ToolError, match="m1 is offline"):
            m1.set_price("A1", 200)
        assert time.monotonic() - t0 < 0.5
        assert not status_report(bridge.store)["machines"][0]["online"]
        dev.stop()
    finally:
        bridge.close()


def test_a_device_outside_its_acl_is_refused_and_so_is_a_bridge_without_rights(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    # A device logged in as m1 that claims to be m2: the broker refuses with PUBACK 135.
    dev = emulator(mosquitto_broker, tmp_path, machine="m2", username="m1").start()
    (tmp_path / "own").mkdir()
    own = emulator(mosquitto_broker, tmp_path / "own").start()
    try:
        forged = dev.vend("A1", "card")
        assert dev.wait_drained(timeout=5)
        assert [(m.msg_id, rc) for m, rc in dev.outbox.rejected()] == [(forged, NOT_AUTHORIZED)]
        sentinel = own.vend("A1", "card")  # a later allowed message: anything forged would be in by then
        assert pump(bridge, lambda: f"mqtt:m1:{sentinel}" in processed(bridge))
        assert f"mqtt:m2:{forged}" not in processed(bridge)
    finally:
        dev.stop()
        own.stop()
        bridge.close()
    # A bridge logged in with a device's credentials may not command another machine: PUBACK 135 is an error.
    wrong = start_bridge(mosquitto_broker, tmp_path / "wrong.db", monkeypatch, user="m1", client_id="wrong")
    try:
        # It cannot read m2's status either; tell it m2 is online so the command is sent.
        wrong.fleet._observe(ev.MachineStatus(id="s", ts=datetime.now(UTC), machine="m2", online=True))
        with pytest.raises(AdapterError, match=r"refused lock.*135"):
            wrong.fleet.machines["m2"].lock()
    finally:
        wrong.close()


def test_bad_payloads_go_to_the_dead_letters_with_their_bytes(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    m1 = MqttProbe(mosquitto_broker, "m1", client_id="m1-raw")
    m9 = MqttProbe(mosquitto_broker, "m9", password="pw-m9")  # not a broker user: refused
    good = {"id": "ok-1", "type": "vend", "ts": "2026-03-01T09:00:00+01:00", "slot": "A1", "price_cents": 150,
            "payment": "card"}
    bad = {
        "events": [b"{not json", b"[1, 2]", json.dumps({**good, "type": "teleport"}).encode(),
                   json.dumps({k: v for k, v in good.items() if k != "slot"}).encode(),
                   json.dumps({**good, "ts": "2026-03-01T09:00:00"}).encode(),
                   json.dumps({**good, "price_cents": "150"}).encode(),
                   json.dumps({**good, "payment": "bitcoin"}).encode(), b"\xff\xfe",
                   json.dumps({**good, "id": "big", "pad": "x" * 70_000}).encode()],
        "inventory": [json.dumps({"id": "i", "ts": good["ts"], "slots": {"A1": {"count": -1, "price_cents": 1}}}).encode()],
        "dex": [b"DXS*not an audit"],
        "status": [b'{"online": "yes"}'],
        "ack": [b'{"ok": true}'],
    }
    try:
        assert m9.connected() == NOT_AUTHORIZED
        sent = 0
        for leaf, payloads in bad.items():
            for p in payloads:
                assert m1.publish(f"vend/m1/{leaf}", p) == 0
                sent += 1
        assert m1.publish("vend/m1/events", json.dumps(good)) == 0
        assert pump(bridge, lambda: "mqtt:m1:ok-1" in processed(bridge))
        letters = bridge.store.rows("dead_letter")
        assert len(letters) == sent
        reasons = {r["raw"]: r["reason"] for r in letters}
        assert "bad JSON" in reasons[b"{not json"] and "unknown event type" in reasons[bad["events"][2]]
        assert "too large" in reasons[bad["events"][-1]] and "slot" in reasons[bad["events"][3]]
        assert "timezone" in reasons[bad["events"][4]].lower()
        assert status_report(bridge.store)["units_sold"] == 1
        assert status_report(bridge.store)["dead_letters"] == sent
    finally:
        m1.close()
        m9.close()
        bridge.close()


def test_payload_from_an_unconfigured_machine_is_a_dead_letter(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch, machines=("m1",))
    dev = emulator(mosquitto_broker, tmp_path, machine="m2", slots={"A1": Slot(count=3, price_cents=100)}).start()
    try:
        dev.vend("A1", "card")
        assert pump(bridge, lambda: len(bridge.store.rows("dead_letter")) >= 2)  # its status and its vend
        assert all("unknown machine 'm2'" in r["reason"] for r in bridge.store.rows("dead_letter"))
        assert processed(bridge, "sale") == set()
    finally:
        dev.stop()
        bridge.close()


def test_the_bridge_subscribes_again_when_the_broker_lost_its_session(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    dev = emulator(mosquitto_broker, tmp_path).start()
    try:
        first = dev.vend("A1", "card")
        assert pump(bridge, lambda: f"mqtt:m1:{first}" in processed(bridge))
        # A broker crash with its persistence wiped: the bridge's session and subscriptions are gone.
        mosquitto_broker.kill()
        for f in (mosquitto_broker.workdir / "data").iterdir():
            f.unlink()
        mosquitto_broker.start()
        assert bridge.fleet.wait_subscribed(15, count=2)  # a new CONNACK, a new SUBSCRIBE
        assert pump(bridge, lambda: bridge.fleet.view("m1").online, timeout=15)  # the device is back too
        second = dev.vend("A2", "cash")
        assert pump(bridge, lambda: f"mqtt:m1:{second}" in processed(bridge))
        assert bridge.fleet.subscribe_failures == []
        assert status_report(bridge.store)["units_sold"] == 2
    finally:
        dev.stop()
        bridge.close()
