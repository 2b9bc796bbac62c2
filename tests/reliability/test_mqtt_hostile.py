"""The MQTT edge against the real broker (the project's config) and the running bridge: a
hypothesis-drawn corpus of hostile payloads of every class, interleaved with valid vends. After it the
bridge is alive, every valid vend is booked exactly once, every distinct hostile payload is
dead-lettered once with its bytes (or, for times out of range, booked once at receipt and flagged),
and nothing is lost. The tally per class is printed (the table in the harden note)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.compose.live import LiveBridge
from tests.broker import MosquittoBroker
from tests.hardware_tests.mqtt_bridge_kit import wait_db
from tests.mqtt_probe import MqttProbe
from tests.reliability.kit import NOW_TS, start, vend

TEXT_BAD = st.sampled_from(["\u0000", "a\u0000", "\ud800", "\udfff", "x\ud83d", "\x1b[2J", "\x07", "\x7f", "\x08"])


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


CLASSES: dict[str, st.SearchStrategy[bytes]] = {
    "deep nesting": st.builds(_nested, st.integers(17, 30_000), st.sampled_from(["list", "dict"])),
    "oversize": st.integers(64 * 1024 + 1, 200 * 1024).map(lambda n: vend("big", txn="x" * n)),
    "U+0000 / control / lone surrogate": st.tuples(
        st.sampled_from(["id", "slot", "txn", "payment", "ts", "key"]), TEXT_BAD, st.integers(0, 10**6)).map(
        lambda c: vend(f"b{c[2]}", **{"k" + c[1]: 1}) if c[0] == "key"
        else vend(f"b{c[2]}", **{c[0]: f"v{c[1]}{c[2]}"}) if c[0] != "id" else vend(f"b{c[2]}{c[1]}")),
    "not JSON / not UTF-8": st.one_of(st.binary(min_size=1, max_size=64).filter(lambda b: not b.strip().startswith(b"{")),
                                      st.just(b'{"id": "x", "type": "vend", '), st.just(b"\xff\xfe{}")),
    "schema": st.one_of(
        st.integers(-(2**80), -1).map(lambda p: vend("neg", price=p)),
        st.integers(10_000_001, 2**80).map(lambda p: vend("huge", price=p)),
        st.text(max_size=8).filter(lambda t: t not in ("vend", "door", "restocked", "cash_collected",
                                                       "temperature", "fault")).map(
            lambda t: json.dumps({"id": "t", "type": t, "ts": NOW_TS}, ensure_ascii=True).encode()),
        st.just(vend("naive", ts="2026-12-01T09:00:00")),
        st.just(json.dumps({"id": "nan", "type": "temperature", "ts": NOW_TS, "celsius": float("nan")}).encode()),
        st.just(b"[]"), st.just(b"null"), st.just(b'"vend"')),
}
TIME_CLASS = "time out of range (booked at receipt, flagged)"
BAD_TIMES = st.sampled_from(["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00-12:00", "9999-12-31T23:59:59-12:00",
                             "9999-12-31T23:59:59+14:00", "1970-01-01T00:00:00Z", "2000-01-01T00:00:00+00:00",
                             "2199-01-01T00:00:00Z"])
HOSTILE = st.one_of(*(s.map(lambda raw, c=c: (c, raw)) for c, s in CLASSES.items()),
                    BAD_TIMES.map(lambda ts: (TIME_CLASS, ts.encode())))


@contextmanager
def running(bridge: LiveBridge) -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=bridge.run, args=(stop,), name="bridge-under-test", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)


def test_hostile_mqtt_corpus_then_valid_vends(
    mosquitto_broker: MosquittoBroker, db_url: str, monkeypatch: pytest.MonkeyPatch,
    record_property: pytest.RecordProperty
) -> None:
    bridge = start(mosquitto_broker, db_url, monkeypatch)
    device = MqttProbe(mosquitto_broker, "m1", client_id="m1")
    sent: dict[str, set[bytes]] = {}
    valid: list[str] = []
    times: list[str] = []
    seq = iter(range(10**9))
    store = bridge.store

    @settings(max_examples=25, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(HOSTILE, st.integers(0, 2)), min_size=3, max_size=10))
    def run(corpus: list[tuple[tuple[str, bytes], int]]) -> None:
        for (cls, raw), n_valid in corpus:
            if cls == TIME_CLASS:  # a valid vend but for its time
                vid = f"time{next(seq)}"
                raw = vend(vid, ts=raw.decode())
                times.append(f"mqtt:m1:{vid}")
            assert device.publish("vend/m1/events", raw) == 0
            sent.setdefault(cls, set()).add(raw)
            for _ in range(n_valid):  # valid vends between the hostile ones; some sent twice (a replay)
                vid = f"ok{next(seq)}"
                for _twice in range(1 + (len(valid) % 5 == 0)):
                    assert device.publish("vend/m1/events", vend(vid)) == 0
                valid.append(f"mqtt:m1:{vid}")

    with running(bridge) as thread:
        run()
        # the retained poison: every (re)subscription delivers it again; it is still one dead letter
        poison = _nested(5000, "list")
        assert device.publish("vend/m1/events", poison, retain=True) == 0
        sent.setdefault("retained deep nesting", set()).add(poison)
        for i in range(20):  # valid vends after all of it
            assert device.publish("vend/m1/events", vend(f"after{i}")) == 0
            valid.append(f"mqtt:m1:after{i}")
        expected_sales = len(valid) + len(times)
        got = wait_db(lambda: store.scalar("SELECT COUNT(*) FROM processed_event WHERE kind = 'sale'"),
                      lambda n: n >= expected_sales, timeout=60)
        assert got == expected_sales
        assert thread.is_alive() and bridge.loop.broken is None
    bridge.close()
    bridge = start(mosquitto_broker, db_url, monkeypatch)  # a new start is handed the retained poison again
    try:
        store = bridge.store
        with running(bridge):
            assert device.publish("vend/m1/events", vend("sentinel")) == 0
            valid.append("mqtt:m1:sentinel")
            assert wait_db(lambda: store.rows("processed_event", event_id="mqtt:m1:sentinel"), bool, timeout=30)
        device.close()
        assert bridge.loop.duplicates >= 1  # the retained poison came again: a repeat, not a second letter
        lines = [r["event_id"] for r in store.rows("ledger_line", credit="revenue")]
        letters = Counter(bytes(r["raw"]) for r in store.rows("dead_letter"))
        alarms = {r["event_id"] for r in store.rows("processed_event", kind="alarm")}
        # every valid vend booked exactly once; each out-of-range time booked once and flagged
        assert Counter(lines) == Counter(valid + times)
        assert alarms == {f"{t}:clock" for t in times}
        table: dict[str, dict[str, Any]] = {}
        for cls, raws in sent.items():
            dead = sum(1 for r in raws if letters.get(r) == 1)
            table[cls] = {"sent": len(raws), "booked": 0, "dead_lettered": dead, "lost": len(raws) - dead}
        table[TIME_CLASS] = {"sent": len(times), "booked": len(set(times) & set(lines)), "dead_lettered": 0,
                             "lost": len(times) - len(set(times) & set(lines))}
        table["valid vends"] = {"sent": len(valid), "booked": len(set(valid) & set(lines)), "dead_lettered": 0,
                                "lost": len(set(valid) - set(lines))}
        print(f"\nMQTT corpus on {db_url.split(':')[0]}:")
        for cls, row in table.items():
            print(f"  {cls}: {row}")
            record_property(cls, row)
        assert all(r["lost"] == 0 for r in table.values())
        assert all(n == 1 for n in letters.values())  # once each, the retained poison included
    finally:
        bridge.close()
