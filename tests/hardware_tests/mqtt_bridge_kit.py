"""Helpers for the live-bridge tests: an in-process bridge driven step by step from the test thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.live import LiveBridge, build_live
from bridge.live.config import LiveConfig
from hardware_adapters.emulator import DeviceEmulator
from tests.broker import MosquittoBroker


def live_config(broker: MosquittoBroker, db: Path, machines: tuple[str, ...] = ("m1", "m2"), **mqtt: Any) -> LiveConfig:
    return LiveConfig.model_validate({
        "bridge": {"db": f"sqlite:///{db}", "max_delay_ms": 5},
        "mqtt": {"host": broker.host, "port": broker.port, "password_env": "TEST_VEND_MQTT_PW",
                 "command_timeout_s": 3.0, "reconnect_max_s": 1, **mqtt},
        "machines": [{"id": m, "planogram": {"A1": "cola"}} for m in machines],
    })


def start_bridge(broker: MosquittoBroker, db: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> LiveBridge:
    user = kw.pop("user", "bridge")
    monkeypatch.setenv("TEST_VEND_MQTT_PW", broker.password(user))
    bridge = build_live(live_config(broker, db, username=user, **kw))
    assert bridge.fleet.wait_subscribed(5), "bridge did not connect and subscribe"
    return bridge


def pump(bridge: LiveBridge, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Run the ingest loop on this thread until `condition()` holds (checked after each step) or the deadline."""
    assert bridge.loop is not None
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        bridge.loop.step()
    bridge.loop.commit()
    return True


def emulator(broker: MosquittoBroker, tmp_path: Path, machine: str = "m1", **kw: Any) -> DeviceEmulator:
    kw.setdefault("inventory_interval_s", None)
    kw.setdefault("dex_interval_s", None)
    return DeviceEmulator(machine_id=machine, host=broker.host, port=broker.port,
                          password=broker.password(kw.get("username") or machine),
                          outbox_path=tmp_path / f"{machine}-outbox.db", seed=3, **kw)


def processed(bridge: LiveBridge, kind: str | None = None) -> set[str]:
    rows = bridge.store.rows("processed_event") if kind is None else bridge.store.rows("processed_event", kind=kind)
    return {r["event_id"] for r in rows}


def wait_db(query: Callable[[], Any], expect: Callable[[Any], bool], timeout: float) -> Any:
    """Poll a store written by another process until `expect(value)` or the deadline; returns the last value."""
    deadline = time.monotonic() + timeout
    value = query()
    while not expect(value) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval of a condition with a deadline, not a wait for a server
        value = query()
    return value


def config_file(broker: MosquittoBroker, db_url: str, path: Path) -> Path:
    """A `vend live` config file for one machine m1 on `broker` (a process under test reads it)."""
    path.write_text(f"""
[bridge]
db = "{db_url}"
max_delay_ms = 5

[mqtt]
host = "{broker.host}"
port = {broker.port}
password_env = "TEST_VEND_MQTT_PW"
reconnect_max_s = 1

[[machines]]
id = "m1"
""")
    return path
