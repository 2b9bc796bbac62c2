"""The crash harness: `vend live` as a subprocess fed by a device emulator (on-disk outbox); at seeded
random points of the stream the bridge or the broker is SIGKILLed and restarted. At the end every
vend the device made is booked exactly once, with the money the machine took (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridge.store import Store
from hardware_adapters.emulator import Slot
from tests.broker import REPO, MosquittoBroker
from tests.gate_verdicts import pass_gate
from tests.hardware_tests.mqtt_bridge_kit import config_file, emulator, wait_db

TOTAL = 400
SEED = 18


def _bridge(config: Path, broker: MosquittoBroker) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEST_VEND_MQTT_PW": broker.password("bridge"), "PYTHONPATH": str(REPO)}
    verdicts = ["--verdicts", str(pass_gate(config))]  # not a test of the gate
    return subprocess.Popen([sys.executable, "-m", "bridge.cli", "live", "--config", str(config), *verdicts], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_sigkills_of_the_bridge_and_the_broker_at_random_points_lose_and_double_nothing(
    mosquitto_broker: MosquittoBroker, db_url: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    broker = mosquitto_broker
    config = config_file(broker, db_url, tmp_path / "live.toml")
    Store(url=db_url).engine.dispose()  # the schema exists before anyone polls it
    store = Store(url=db_url)
    rng = random.Random(SEED)
    points = sorted(rng.sample(range(60, TOTAL - 60), 4))
    victims = [rng.choice(["bridge", "broker"]) for _ in points]
    victims[0], victims[-1] = "bridge", "broker"  # both, whatever the seed says

    def sales() -> int:
        return int(store.scalar("SELECT COUNT(*) FROM processed_event WHERE kind = 'sale'"))

    bridge = _bridge(config, broker)
    assert wait_db(lambda: store.rows("run_info"), bool, timeout=20)
    dev = emulator(broker, tmp_path, slots={f"A{i}": Slot(count=400, price_cents=100 + i) for i in (1, 2, 3)})
    dev.start()
    assert wait_db(lambda: (store.rows("machine", machine_id="m1") or [{"online": False}])[0]["online"], bool, 20)
    db = Path(broker.workdir) / "data" / "mosquitto.db"
    kills = []
    try:
        for point, victim in zip(points, victims, strict=True):
            made = dev.stats().vends
            if victim == "bridge":  # mid-stream: the device keeps selling while the bridge dies and restarts
                worker = threading.Thread(target=dev.run, args=(150.0,), kwargs={"count": point + 30 - made})
                worker.start()
                wait_db(lambda: dev.stats().vends, lambda n, p=point: n >= p, timeout=60)
                kills.append((victim, dev.stats().vends, sales()))
                _kill(bridge)
                bridge = _bridge(config, broker)
                worker.join(timeout=60)
            else:  # at a point of the stream, once the broker saved what it acknowledged (see test_broker_crash)
                dev.run(150.0, count=point - made)
                marker = dev.temperature(4.0)
                assert dev.wait_drained(timeout=60)
                # the broker owes nothing it acknowledged: it saved the marker, or the bridge already booked it
                assert wait_db(lambda m=marker: (db.exists() and f'"id": "{m}"'.encode() in db.read_bytes())
                               or bool(store.scalar("SELECT COUNT(*) FROM processed_event WHERE event_id LIKE :e",
                                                    e=f"%:{m}")), bool, 60)
                kills.append((victim, dev.stats().vends, sales()))
                broker.kill()
                broker.start()
        dev.run(150.0, count=TOTAL - dev.stats().vends)
        assert dev.stats().vends == TOTAL
        assert dev.wait_drained(timeout=60)  # the broker acknowledged every vend the device made
        booked = wait_db(sales, lambda n: n >= TOTAL, timeout=60)
    finally:
        dev.stop()
        if bridge.poll() is None:
            bridge.send_signal(signal.SIGTERM)
            try:
                bridge.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _kill(bridge)
    lines = store.rows("ledger_line", credit="revenue")
    took = sum(c.value_cents for c in dev._state.payment_counters.values())
    record_property("kills", kills)
    print(f"\ncrash harness on {db_url.split(':')[0]}: kills (victim, vends made, sales booked) {kills}; "
          f"vends {TOTAL}, booked {booked}, revenue lines {len(lines)}")
    assert booked == TOTAL and len(lines) == TOTAL and len({r["event_id"] for r in lines}) == TOTAL
    assert sum(r["amount_cents"] for r in lines) == took
    assert not store.rows("dead_letter")
    store.engine.dispose()
