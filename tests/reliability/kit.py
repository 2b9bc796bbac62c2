"""Helpers for the reliability suite: an in-process bridge on any store URL, devices as plain paho
clients, and the books read back (sales, dead letters) to compare with what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bridge.compose.live import LiveBridge, build_live
from bridge.live.config import LiveConfig
from bridge.store import Store
from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import pump

NOW_TS = "2026-12-01T09:00:00+00:00"


def config(broker: MosquittoBroker, db_url: str, machines: tuple[str, ...] = ("m1", "m2"), **mqtt: Any) -> LiveConfig:
    return LiveConfig.model_validate({
        "bridge": {"db": db_url, "max_delay_ms": 5},
        "mqtt": {"host": broker.host, "port": broker.port, "password_env": "TEST_VEND_MQTT_PW",
                 "command_timeout_s": 3.0, "reconnect_max_s": 1, **mqtt},
        "machines": [{"id": m, "planogram": {"A1": "cola"}} for m in machines],
    })


def start(broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch) -> LiveBridge:
    monkeypatch.setenv("TEST_VEND_MQTT_PW", broker.password("bridge"))
    bridge = build_live(config(broker, db_url))
    assert bridge.fleet is not None and bridge.fleet.wait_subscribed(10), "bridge did not connect and subscribe"
    return bridge


def vend(vid: str, *, price: int = 150, ts: str = NOW_TS, **over: Any) -> bytes:
    return json.dumps({"id": vid, "type": "vend", "ts": ts, "slot": "A1", "price_cents": price, "payment": "card",
                       **over}).encode()


def sale_ids(store: Store) -> list[str]:
    """Every revenue line's event id (a free vend has none: see `sales`)."""
    return [r["event_id"] for r in store.rows("ledger_line", credit="revenue")]


def sales(store: Store) -> set[str]:
    return {r["event_id"] for r in store.rows("processed_event", kind="sale")}


def dead_raws(store: Store) -> list[bytes]:
    return [bytes(r["raw"]) for r in store.rows("dead_letter")]


def pump_until(bridge: LiveBridge, condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    return pump(bridge, condition, timeout)
