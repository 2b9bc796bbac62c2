"""`vend live` as a subprocess: a broker restart mid-stream and a SIGKILLed bridge lose and double nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridge.live.ingest import status_report
from bridge.store import Store
from hardware_adapters.emulator import Slot
from tests.broker import REPO, MosquittoBroker
from tests.gate_verdicts import pass_gate
from tests.hardware_tests.mqtt_bridge_kit import config_file, emulator, processed, pump, start_bridge, wait_db

TOTAL = 900


def _vend(config: Path, broker: MosquittoBroker, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TEST_VEND_MQTT_PW": broker.password("bridge"), "PYTHONPATH": str(REPO)}
    verdicts = ["--verdicts", str(pass_gate(config))] if args == ("live",) else []  # not a test of the gate
    return subprocess.Popen([sys.executable, "-m", "bridge.cli", *args, "--config", str(config), *verdicts], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_broker_restart_and_bridge_sigkill_lose_and_double_nothing(
    mosquitto_broker: MosquittoBroker, tmp_path: Path
) -> None:
    broker = mosquitto_broker
    db = tmp_path / "live.db"
    config = config_file(broker, f"sqlite:///{db}", tmp_path / "live.toml")
    Store(url=f"sqlite:///{db}").engine.dispose()  # the schema exists before anyone polls it
    store = Store(url=f"sqlite:///{db}")

    def sales() -> int:
        return int(store.scalar("SELECT COUNT(*) FROM processed_event WHERE kind = 'sale'"))

    bridge = _vend(config, broker, "live")
    # The bridge's session (and its subscriptions) must exist before the device sells anything.
    assert wait_db(lambda: store.rows("run_info"), bool, timeout=10)
    dev = emulator(broker, tmp_path, slots={f"A{i}": Slot(count=400, price_cents=100 + i) for i in (1, 2, 3)})
    dev.start()
    assert wait_db(lambda: store.rows("machine", machine_id="m1")[0]["online"], bool, timeout=10)
    worker = threading.Thread(target=dev.run, args=(500.0,), kwargs={"count": TOTAL})
    stopped = False
    try:
        worker.start()
        assert wait_db(sales, lambda n: n >= 100, timeout=10) >= 100
        broker.stop()  # mid-stream: the device keeps selling into its outbox, the bridge reconnects
        broker.start()
        assert wait_db(sales, lambda n: n >= 400, timeout=20) >= 400
        bridge.send_signal(signal.SIGKILL)  # mid-stream again: whatever it had not committed was not acked
        bridge.wait(timeout=10)
        assert bridge.returncode == -signal.SIGKILL
        killed_at = sales()
        assert killed_at < TOTAL
        worker.join(timeout=30)
        assert not worker.is_alive() and dev.stats().vends == TOTAL
        bridge = _vend(config, broker, "live")
        assert wait_db(sales, lambda n: n >= TOTAL, timeout=30) == TOTAL
        dev.publish_inventory()
        assert dev.wait_drained(timeout=10)
        inventory = dev.inventory()
        dev.stop()
        stopped = True
        assert not wait_db(lambda: store.rows("machine", machine_id="m1")[0]["online"], lambda v: not v, 10)
        bridge.send_signal(signal.SIGTERM)
        _out, err = bridge.communicate(timeout=15)
        assert bridge.returncode == 0, err
        assert "stopped" in err
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
        if not stopped:
            dev.stop()
    # Exactly once: one sale event per vend, one revenue line per sale, the money the machine took.
    assert sales() == TOTAL
    lines = store.rows("ledger_line", credit="revenue")
    assert len(lines) == TOTAL and len({r["event_id"] for r in lines}) == TOTAL
    took = sum(c.value_cents for c in dev._state.payment_counters.values())
    assert sum(r["amount_cents"] for r in lines) == took
    store.engine.dispose()
    # vend status reads the same store.
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "status", "--db", f"sqlite:///{db}", "--json"],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                         check=True)
    report = json.loads(out.stdout)
    assert report["units_sold"] == TOTAL and report["revenue_cents"] == took and report["dead_letters"] == 0
    m1 = report["machines"][0]
    assert m1["id"] == "m1" and m1["online"] is False  # the emulator stopped: its offline status
    assert {s["slot"]: {"count": s["count"], "price_cents": s["price_cents"]} for s in m1["slots"]} == inventory


def test_vend_emulate_machine_feeds_the_bridge(
    mosquitto_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.cli import main as vend

    bridge = start_bridge(mosquitto_broker, tmp_path / "vend.db", monkeypatch)
    try:
        argv = ["emulate-machine", "--machine", "m2", "--broker", f"{mosquitto_broker.host}:{mosquitto_broker.port}",
                "--password", mosquitto_broker.password("m2"), "--rate", "500", "--count", "7",
                "--outbox", str(tmp_path / "m2.db"), "--seed", "4"]
        assert vend(argv) == 0  # returns once every event was acknowledged by the broker
        assert pump(bridge, lambda: len(processed(bridge, "sale")) == 7 and len(processed(bridge, "dex_audit")) == 1)
        report = status_report(bridge.store)
        assert report["units_sold"] == 7
        m2 = next(m for m in report["machines"] if m["id"] == "m2")
        assert sum(s["count"] for s in m2["slots"]) == 12 * 8 - 7  # its final inventory snapshot
    finally:
        bridge.close()


def test_bench_ingest_measures_every_phase() -> None:
    from bridge.compose.live import bench_ingest

    r = bench_ingest(rate=400, seconds=0.5, machines=2, latency_rate=200, latency_seconds=0.5)
    phases = {p["name"]: p for p in r["phases"]}
    assert set(phases) == {"raw", "ingest", "latency", "rawmax", "ingestmax"}
    assert phases["ingest"]["events"] == 200 and phases["latency"]["events"] == 100
    assert all(p["rate"] > 0 and 0 <= p["p50_ms"] <= p["p99_ms"] for p in phases.values())
    assert r["ratio_fixed"] > 0.5
