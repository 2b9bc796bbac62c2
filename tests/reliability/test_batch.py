"""A batch is atomic per message: one event that fails to book is dead-lettered in its place, every
other message of the batch is booked and acknowledged; a loop that breaks commits and acknowledges
nothing, so a restart books what it held, once."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import events as ev
from tests.broker import MosquittoBroker
from tests.mqtt_probe import MqttProbe
from tests.reliability.kit import pump_until, sale_ids, sales, start, vend


def _burst(device: MqttProbe, before: int, after: int, poison: str) -> list[str]:
    ids = [f"v{i}" for i in range(before)] + [poison] + [f"w{i}" for i in range(after)]
    for vid in ids:
        assert device.publish("vend/m1/events", vend(vid)) == 0
    return ids


def test_one_event_that_fails_to_book_takes_nothing_else_with_it(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    handlers: dict[Any, Any] = bridge.ledger._handlers
    booked = handlers[ev.Sale]

    def sale_or_poison(e: ev.Sale) -> None:
        booked(e)
        if e.id == "mqtt:m1:poison":  # fails half-way: its revenue line is buffered already
            raise ValueError("poison")

    monkeypatch.setitem(handlers, ev.Sale, sale_or_poison)
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1")
    try:
        ids = _burst(device, 100, 100, "poison")
        assert pump_until(bridge, lambda: len(sales(bridge.store)) >= 200 and bool(bridge.store.rows("dead_letter")))
        assert bridge.loop.broken is None
    finally:
        bridge.close()
    bridge = start(mosquitto_broker, db_url, monkeypatch)  # anything not acknowledged comes again
    try:
        assert pump_until(bridge, lambda: False, timeout=1.0) is False
        # Nothing new: whatever comes again (a PUBACK the broker dropped with the old connection when the
        # new one took its session) is a repeat, the poison included (its id stays taken)
        assert bridge.loop.recorded == 0
        lines = sale_ids(bridge.store)
        assert sorted(lines) == sorted(f"mqtt:m1:{i}" for i in ids if i != "poison")
        (letter,) = bridge.store.rows("dead_letter")
        assert letter["source"] == "ingest" and "poison" in letter["reason"]
    finally:
        device.close()
        bridge.close()


def test_a_broken_loop_commits_and_acknowledges_nothing_and_a_restart_books_it_once(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    store = bridge.store
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1")
    try:
        first = [f"a{i}" for i in range(50)]
        for vid in first:
            assert device.publish("vend/m1/events", vend(vid)) == 0
        assert pump_until(bridge, lambda: len(sales(store)) >= 50)

        def database_gone(_ids: object) -> None:
            raise OSError("the database went away")

        monkeypatch.setattr(store, "prefetch_seen", database_gone)  # a batch handed out, then the loop fails
        ids = _burst(device, 75, 75, "x")
        with pytest.raises(OSError):
            pump_until(bridge, lambda: False)
        assert bridge.loop.broken is not None
    finally:
        bridge.close()  # the crash path: nothing half-done is written, nothing handed out is acknowledged
    monkeypatch.undo()
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    try:
        assert pump_until(bridge, lambda: len(sales(bridge.store)) >= 201)
        lines = sale_ids(bridge.store)
        assert sorted(lines) == sorted(f"mqtt:m1:{i}" for i in first + ids)
        assert not bridge.store.rows("dead_letter")
    finally:
        device.close()
        bridge.close()
