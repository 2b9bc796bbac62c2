"""The MQTT edge on hostile payloads, without a broker: nothing raises, bad input is a dead letter with a
reason, and no time outside the window ever leaves the edge."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import events as ev
from hardware_adapters.edge import BAD_TEXT, json_depth_ok
from hardware_adapters.mqtt_payloads import DEVICE_TIME_WINDOW, translate

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
MACHINES = {"m1": {"A1": "cola"}}


def vend(**over: object) -> bytes:
    body = {"id": "v1", "type": "vend", "ts": "2026-12-07T11:00:00+00:00", "slot": "A1", "price_cents": 150,
            "payment": "card", **over}
    return json.dumps(body).encode()


def one(topic: str, raw: bytes) -> list[ev.Event]:
    return list(translate(topic, raw, received_at=NOW, machines=MACHINES).events)


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,  # under no limit but the size one: refused by size
    b"[" * 30_000 + b"]" * 30_000,  # under the payload limit: refused by depth, before json.loads
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b'{"id": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "type": "vend"}',  # brackets in a string are no depth
    vend(id="a\u0000b"), vend(id="a\ud800b"), vend(txn="\x1b[31m"), vend(**{"k\u0000": 1}),
    b'{"id": "x", "type": "fault", "ts": "2026-12-07T11:00:00+00:00", "code": "\\ud83d"}',
    b"\xff\xfe", b"", b"null", b"1e999999", b"9" * 5000,
])
def test_hostile_payloads_are_dead_letters_with_a_reason(raw: bytes) -> None:
    got = one("vend/m1/events", raw)
    assert len(got) == 1 and isinstance(got[0], ev.DeadLettered) and got[0].reason
    assert not BAD_TEXT.search(got[0].reason) and not BAD_TEXT.search(got[0].topic)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    assert json_depth_ok(json.dumps({"id": "[" * 100}).encode())
    assert not json_depth_ok(b"[" * 17 + b"]" * 17)


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1970-01-01T00:00:00Z",
                                "2031-01-01T00:00:00Z"])
def test_a_time_out_of_window_is_booked_at_receipt_and_flagged(ts: str) -> None:
    sale, alarm = one("vend/m1/events", vend(ts=ts))
    assert isinstance(sale, ev.Sale) and sale.ts == NOW and sale.unit_price_cents == 150
    assert isinstance(alarm, ev.Alarm) and alarm.code == "device_clock" and ts[:19] in alarm.detail
    again = one("vend/m1/events", vend(ts=ts))  # a redelivery: the same ids
    assert [e.id for e in again] == [sale.id, alarm.id]


def test_a_time_in_window_is_the_devices() -> None:
    past = NOW - DEVICE_TIME_WINDOW[0] + timedelta(hours=1)
    (sale,) = one("vend/m1/events", vend(ts=past.isoformat()))
    assert sale.ts == past


def test_a_status_from_the_far_future_is_booked_at_receipt() -> None:
    status, alarm = one("vend/m1/status", b'{"online": true, "ts": "9999-12-31T23:59:59-05:00"}')
    assert isinstance(status, ev.MachineStatus) and status.ts == NOW and isinstance(alarm, ev.Alarm)


TOPICS = st.sampled_from(["vend/m1/events", "vend/m1/inventory", "vend/m1/status", "vend/m1/dex", "vend/m1/ack",
                          "vend/m9/events", "vend/m1\u0000/events", "x"])
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                       max_leaves=30)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(TOPICS, st.one_of(st.binary(max_size=200), JSONISH.map(lambda d: json.dumps(d).encode())))
def test_translate_never_raises_and_nothing_out_of_window_leaves_it(topic: str, raw: bytes) -> None:
    for e in translate(topic, raw, received_at=NOW, machines=MACHINES).events:
        assert NOW - DEVICE_TIME_WINDOW[0] <= e.ts <= NOW + DEVICE_TIME_WINDOW[1]
        for f in dataclasses.fields(e):
            value = getattr(e, f.name)
            assert not (isinstance(value, str) and f.name != "text" and BAD_TEXT.search(value))
