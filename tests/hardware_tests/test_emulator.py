"""The device emulator against a real mosquitto with the project's ACL; a plain paho client is the bridge."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hardware_adapters.dex import parse_dex
from hardware_adapters.emulator import DeviceEmulator, MachineError, Slot, main
from tests.broker import MosquittoBroker
from tests.mqtt_probe import NOT_AUTHORIZED, MqttProbe


def emulator(broker: MosquittoBroker, tmp_path: Path, **kw: Any) -> DeviceEmulator:
    machine = kw.pop("machine_id", "m1")
    user = kw.get("username") or machine
    kw.setdefault("inventory_interval_s", None)
    kw.setdefault("dex_interval_s", None)
    return DeviceEmulator(
        machine_id=machine,
        host=broker.host,
        port=broker.port,
        password=broker.password(user),
        outbox_path=tmp_path / f"{machine}-outbox.db",
        seed=11,
        **kw,
    )


@pytest.fixture
def bridge(mosquitto_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    probe = MqttProbe(mosquitto_broker, "bridge")
    assert probe.connected() == 0
    assert probe.subscribe("vend/+/#") == [1]
    yield probe
    probe.close()


def events(probe: MqttProbe, machine: str = "m1") -> list[dict[str, Any]]:
    return [json.loads(p) for p in probe.received(f"vend/{machine}/events")]


def test_events_arrive_with_the_contract_json(
    mosquitto_broker: MosquittoBroker, bridge: MqttProbe, tmp_path: Path
) -> None:
    dev = emulator(mosquitto_broker, tmp_path).start()
    try:
        ids = [
            dev.vend("A1", "card"),
            dev.vend("C2", "cash"),
            dev.door("open", "s-1"),
            dev.restock("A1", 4),
            dev.door("closed", "s-1"),
            dev.collect_cash(),
            dev.temperature(4.5),
            dev.fault("E12", "coin jam"),
        ]
        assert bridge.wait_for(lambda: len(events(bridge)) == len(ids))
        assert dev.wait_drained(timeout=5)
        got = events(bridge)
        assert [e["id"] for e in got] == ids and len(set(ids)) == len(ids)
        for e in got:
            ts = datetime.fromisoformat(e["ts"])
            assert ts.utcoffset() is not None
        strip = [{k: v for k, v in e.items() if k not in ("id", "ts")} for e in got]
        assert strip == [
            {"type": "vend", "slot": "A1", "price_cents": 150, "payment": "card", "txn": f"txn-{ids[0]}"},
            {"type": "vend", "slot": "C2", "price_cents": 275, "payment": "cash", "txn": f"txn-{ids[1]}"},
            {"type": "door", "state": "open", "session": "s-1"},
            {"type": "restocked", "slot": "A1", "count": 4},
            {"type": "door", "state": "closed", "session": "s-1"},
            {"type": "cash_collected", "amount_cents": 275},
            {"type": "temperature", "celsius": 4.5},
            {"type": "fault", "code": "E12", "detail": "coin jam"},
        ]
        status = json.loads(bridge.received("vend/m1/status")[0])
        assert status["online"] is True and datetime.fromisoformat(status["ts"]).utcoffset() is not None
        stats = dev.stats()
        assert (stats.acked, stats.pending, stats.rejected, stats.vends) == (len(ids), 0, 0, 2)
        # The DEX audit agrees with what was sold.
        dev.publish_dex()
        assert bridge.wait_for(lambda: bool(bridge.received("vend/m1/dex")))
        audit = parse_dex(bridge.received("vend/m1/dex")[0].decode(), tz=ts.tzinfo)  # type: ignore[arg-type]
        assert audit.machine_serial == "m1" and audit.paid.count == 2 and audit.paid.value_cents == 425
        assert audit.selection_vends["A1"] == 1 and audit.selection_vends["C2"] == 1
    finally:
        dev.stop()
    # Graceful stop leaves a retained offline status.
    late = MqttProbe(mosquitto_broker, "bridge", client_id="late")
    try:
        late.subscribe("vend/m1/status")
        assert late.wait_for(lambda: bool(late.received("vend/m1/status")))
        assert json.loads(late.received("vend/m1/status")[0])["online"] is False
    finally:
        late.close()


def test_last_will_marks_a_vanished_device_offline(
    mosquitto_broker: MosquittoBroker, bridge: MqttProbe, tmp_path: Path
) -> None:
    dev = emulator(mosquitto_broker, tmp_path).start()
    assert bridge.wait_for(lambda: len(bridge.received("vend/m1/status")) == 1)
    dev.client.socket().close()  # type: ignore[union-attr]  # the link dies without a DISCONNECT
    assert bridge.wait_for(lambda: len(bridge.received("vend/m1/status")) >= 2, timeout=10)
    assert json.loads(bridge.received("vend/m1/status")[1]) == {"online": False}
    dev.stop()


def test_a_device_writing_to_another_machines_topics_is_refused(
    mosquitto_broker: MosquittoBroker, bridge: MqttProbe, tmp_path: Path
) -> None:
    # A misconfigured device: logs in as m1 but claims to be m2.
    dev = emulator(mosquitto_broker, tmp_path, machine_id="m2", username="m1").start()
    try:
        ids = [dev.vend("A1", "card"), dev.vend("A2", "cash")]
        assert dev.wait_drained(timeout=5)
        stats = dev.stats()
        assert (stats.acked, stats.rejected, stats.pending) == (0, 2, 0)
        assert {(m.msg_id, rc) for m, rc in dev.outbox.rejected()} == {(i, NOT_AUTHORIZED) for i in ids}
        # Mosquitto handles packets in order on one thread: once the bridge's own later message
        # has come back to it, a forged event routed earlier would have arrived before it.
        assert bridge.publish("vend/m2/cmd", b'{"id": "ping", "type": "display", "text": ""}') == 0
        assert bridge.wait_for(lambda: bool(bridge.received("vend/m2/cmd")))
        assert bridge.received("vend/m2/events") == [] and bridge.received("vend/m2/status") == []
    finally:
        dev.stop()


def test_commands_are_applied_and_acknowledged(
    mosquitto_broker: MosquittoBroker, bridge: MqttProbe, tmp_path: Path
) -> None:
    dev = emulator(mosquitto_broker, tmp_path, inventory_interval_s=0.05).start()
    try:
        assert bridge.wait_for(lambda: bool(bridge.received("vend/m1/inventory")))
        cmd = {"id": "c-1", "type": "set_price", "slot": "B2", "price_cents": 325}
        assert bridge.publish("vend/m1/cmd", json.dumps(cmd)) == 0
        assert bridge.wait_for(lambda: bool(bridge.received("vend/m1/ack")))
        assert json.loads(bridge.received("vend/m1/ack")[0]) == {"cmd_id": "c-1", "ok": True}
        acked_at = len(bridge.messages)

        def next_snapshot() -> dict[str, Any] | None:
            later = [json.loads(p) for t, p, _ in bridge.messages[acked_at:] if t == "vend/m1/inventory"]
            return later[0] if later else None

        assert bridge.wait_for(lambda: next_snapshot() is not None)
        snapshot = next_snapshot()
        assert snapshot is not None and snapshot["slots"]["B2"] == {"count": 8, "price_cents": 325}
        assert set(snapshot) == {"id", "ts", "slots"} and len(snapshot["slots"]) == 12

        for c in (
            {"id": "c-2", "type": "set_price", "slot": "Z9", "price_cents": 100},
            {"id": "c-3", "type": "lock"},
            {"id": "c-3", "type": "lock"},  # redelivered: acked again, applied once
            {"id": "c-4", "type": "display", "text": "Back at 2pm"},
        ):
            assert bridge.publish("vend/m1/cmd", json.dumps(c)) == 0
        assert bridge.wait_for(lambda: len(bridge.received("vend/m1/ack")) == 5)
        acks = [json.loads(p) for p in bridge.received("vend/m1/ack")[1:]]
        assert acks[0]["cmd_id"] == "c-2" and acks[0]["ok"] is False and "Z9" in acks[0]["error"]
        assert acks[1:] == [{"cmd_id": "c-3", "ok": True}] * 2 + [{"cmd_id": "c-4", "ok": True}]
        assert dev.locked and dev.display == "Back at 2pm"
        with pytest.raises(MachineError, match="locked"):
            dev.vend("A1", "card")
    finally:
        dev.stop()


def test_outbox_survives_a_broker_restart_mid_stream(
    mosquitto_broker: MosquittoBroker, tmp_path: Path
) -> None:
    broker = mosquitto_broker
    # The bridge keeps a persistent session, as the contract says.
    bridge = MqttProbe(
        broker, "bridge", client_id="bridge-persistent", clean_start=False, session_expiry_s=3600
    )
    assert bridge.connected() == 0 and bridge.subscribe("vend/m1/events") == [1]
    dev = emulator(
        broker, tmp_path, slots={f"A{i}": Slot(count=100, price_cents=150) for i in (1, 2, 3)}
    ).start()
    total = 120
    try:
        worker = threading.Thread(target=dev.run, args=(400.0,), kwargs={"count": total})
        worker.start()
        assert bridge.wait_for(lambda: len(bridge.received("vend/m1/events")) >= 20)
        broker.stop()  # mid-stream; the device keeps selling into its outbox
        worker.join(timeout=30)
        assert not worker.is_alive() and dev.stats().vends == total
        assert len(dev.outbox) > 0  # some events are waiting for the broker
        broker.start()
        assert dev.wait_drained(timeout=20)
        seen = lambda: {json.loads(p)["id"] for p in bridge.received("vend/m1/events")}  # noqa: E731
        assert bridge.wait_for(lambda: len(seen()) == total, timeout=20), f"{len(seen())} of {total}"
        stats = dev.stats()
        assert stats.acked >= total and stats.rejected == 0
    finally:
        dev.stop()
        bridge.close()


def test_outbox_on_disk_outlives_the_device_process(
    mosquitto_broker: MosquittoBroker, tmp_path: Path
) -> None:
    broker = mosquitto_broker
    broker.stop()
    first = emulator(broker, tmp_path).start()  # boots while the broker is down
    ids = [first.vend("A1", "card") for _ in range(5)]
    first.stop()  # the process ends with all five unacknowledged
    broker.start()
    bridge = MqttProbe(broker, "bridge")
    assert bridge.connected() == 0 and bridge.subscribe("vend/m1/events") == [1]
    second = emulator(broker, tmp_path).start()  # same outbox file
    try:
        assert second.wait_drained(timeout=10)
        assert bridge.wait_for(lambda: [e["id"] for e in events(bridge)] == ids)
        assert second.vend("A2", "cash") not in ids  # ids keep counting in the file
    finally:
        second.stop()
        bridge.close()


def test_cli_runs_a_machine(mosquitto_broker: MosquittoBroker, bridge: MqttProbe, tmp_path: Path) -> None:
    argv = ["--machine", "m2", "--broker", f"{mosquitto_broker.host}:{mosquitto_broker.port}"]
    argv += ["--password", mosquitto_broker.password("m2"), "--rate", "500", "--count", "25"]
    argv += ["--outbox", str(tmp_path / "cli.db"), "--seed", "5"]
    assert main(argv) == 0
    assert bridge.wait_for(lambda: len(events(bridge, "m2")) == 25 and bool(bridge.received("vend/m2/dex")))
    assert all(e["type"] == "vend" for e in events(bridge, "m2"))


def test_seeded_purchases_repeat_and_stop_when_sold_out(tmp_path: Path) -> None:
    def sales(name: str) -> list[tuple[str, str, int]]:
        dev = DeviceEmulator(
            machine_id="m1",
            host="127.0.0.1",
            port=1,  # never started: vends only reach the outbox
            password="x",
            outbox_path=tmp_path / f"{name}.db",
            slots={"A1": Slot(count=3, price_cents=150), "B1": Slot(count=4, price_cents=275)},
            seed=42,
            inventory_interval_s=None,
            dex_interval_s=None,
        )
        assert dev.run(10_000.0, count=50) == 7  # sold out after 7
        rows = [json.loads(m.payload) for m in dev.outbox.pending()]
        dev.outbox.close()
        return [(r["slot"], r["payment"], r["price_cents"]) for r in rows]

    first, second = sales("a"), sales("b")
    assert first == second and len(first) == 7
    assert sorted(s for s, _, _ in first) == ["A1"] * 3 + ["B1"] * 4
