"""HTTP under hostile input: unsigned input is refused before anything is parsed, signed input that
cannot be booked is a dead letter once and a 400, nothing is logged as an error with a traceback, and
valid webhooks after all of it are booked exactly once; bodies are bounded while they are read."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware_adapters.doubles.slack_inbound import sign
from tests.reliability.http_kit import MAX_BODY, STRIPE_SECRET, HttpShop, http_shop, raw_post, rss_kib
from tests.slack.rig import SECRET

NOW = int(time.time())


def stripe_headers(raw: bytes) -> dict[str, str]:
    ts = int(time.time())
    mac = hmac.new(STRIPE_SECRET.encode(), str(ts).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={ts},v1={mac}", "Content-Type": "application/json"}


def slack_headers(raw: bytes, content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, **sign(raw, signing_secret=SECRET, timestamp=int(time.time()))}


def payout(pid: str, amount: int = 1234, **over: Any) -> bytes:
    event = {"id": f"evt_{pid}", "type": "payout.paid", "created": NOW,
             "data": {"object": {"id": pid, "object": "payout", "amount": amount}}, **over}
    return json.dumps(event).encode()


def dm(text: str) -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T0VENDTEAM", "event_id": "Ev1",
                       "event": {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
                                 "text": text, "ts": "1.000001"}}).encode()


# (class, route, body, signed): every signed one must be a dead letter
HOSTILE: list[tuple[str, str, bytes, bool]] = [
    ("deep nesting", "stripe", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, True),
    ("deep nesting", "slack", b"[" * 50_000 + b"]" * 50_000, True),
    ("U+0000", "stripe", payout("po_nul", description="a\u0000b"), True),
    ("U+0000", "slack", dm("hello\u0000world"), True),
    ("lone surrogate", "stripe", payout("po_sur").replace(b'"po_sur"', b'"po_\\ud800"'), True),
    ("lone surrogate", "slack", dm("x").replace(b'"x"', b'"\\udfff"'), True),
    ("control chars", "slack", dm("\x1b[2J\x07"), True),
    ("bad shape", "stripe", json.dumps({"id": "evt_x", "type": "payout.paid"}).encode(), True),
    ("bad shape", "stripe", json.dumps({"id": "evt_y", "type": "payout.paid", "created": NOW,
                                        "data": {"object": {"id": "po_y"}}}).encode(), True),
    ("bad shape", "stripe", b"[1, 2, 3]", True),
    ("time range", "stripe", payout("po_t", created=10**15), True),
    ("time range", "stripe", payout("po_t2", created=-1), True),
    ("huge amount", "stripe", payout("po_big", amount=10**30), True),
    ("not UTF-8", "slack", b'{"type": "\xff\xfe"}', True),
    ("bad JSON", "slack", b'{"type": ', True),
    ("bad JSON", "stripe", b'{"id": ', True),
]
UNSIGNED = st.tuples(st.sampled_from(["stripe", "slack"]), st.binary(max_size=300))


def post(shop: HttpShop, route: str, raw: bytes, *, signed: bool) -> int:
    if route == "stripe":
        headers = stripe_headers(raw) if signed else {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
        path = "/stripe/webhook"
    else:
        headers = slack_headers(raw) if signed else {"Content-Type": "application/json",
                                                     "X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "x"}
        path = "/slack/events"
    return httpx.post(shop.url + path, content=raw, headers=headers, timeout=30).status_code


def test_hostile_http_input_is_refused_or_dead_lettered_once_and_valid_webhooks_book_once(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, record_property: pytest.RecordProperty
) -> None:
    caplog.set_level(logging.WARNING)
    with http_shop(db_url, tmp_path) as shop:
        valid: list[str] = []
        for n, (_cls, route, raw, signed) in enumerate(HOSTILE * 2):  # each twice: a dead letter once
            assert post(shop, route, raw, signed=signed) == 400, (route, raw[:60])
            assert post(shop, "stripe", payout(f"po_ok{n}"), signed=True) == 200
            valid.append(f"stripe:payout:po_ok{n}")

        @settings(max_examples=40, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(UNSIGNED)
        def unsigned(case: tuple[str, bytes]) -> None:
            assert post(shop, case[0], case[1], signed=False) in (400, 401)

        unsigned()
        shop.book()
        booked = {r["event_id"] for r in shop.store.rows("processed_event", kind="card_settled")}
        letters = shop.store.rows("dead_letter")
    raws = Counter(bytes(r["raw"]) for r in letters)
    table: dict[str, dict[str, int]] = {}
    for cls, route, raw, _signed in HOSTILE:
        row = table.setdefault(f"{route}: {cls}", {"sent": 0, "booked": 0, "dead_lettered": 0, "lost": 0})
        row["sent"] += 2  # each twice
        row["dead_lettered"] += raws.get(raw, 0)
        row["lost"] += 1 - min(1, raws.get(raw, 0))
    table["valid payouts"] = {"sent": len(valid), "booked": len(booked & set(valid)), "dead_lettered": 0,
                              "lost": len(set(valid) - booked)}
    table["unsigned (refused 400/401, not kept)"] = {"sent": 40, "booked": 0, "dead_lettered": 0, "lost": 0}
    print(f"\nHTTP corpus on {db_url.split(':')[0]}:")
    for cls, row in table.items():
        print(f"  {cls}: {row}")
        record_property(cls, row)
    assert booked == set(valid)
    assert sorted(bytes(r["raw"]) for r in letters) == sorted(raw for _c, _r, raw, _s in HOSTILE)
    assert {r["source"] for r in letters} == {"stripe", "slack"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_bodies_are_bounded_while_read(tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    with http_shop(f"sqlite:///{tmp_path / 'store.db'}", tmp_path) as shop:
        # the largest body read is MAX_BODY: one byte more is 413 (unsigned: the route then says 400)
        assert post(shop, "stripe", b" " * MAX_BODY, signed=False) == 400
        assert post(shop, "stripe", b" " * (MAX_BODY + 1), signed=False) == 413
        before = rss_kib()
        declared = raw_post(shop.url, "/stripe/webhook", chunks=iter([b"x" * 65536] * 8000),
                            headers={"Content-Length": str(500 * 1024 * 1024)})
        streamed = raw_post(shop.url, "/slack/events", chunks=(b"y" * 65536 for _ in range(8000)),
                            headers={"Content-Type": "application/json"})
        after = rss_kib()
        assert post(shop, "stripe", payout("po_after"), signed=True) == 200
        shop.book()
        assert shop.store.rows("processed_event", event_id="stripe:payout:po_after")
    record_property("rss_before_kib", before)
    record_property("rss_after_kib", after)
    print(f"\nHTTP: largest body read {MAX_BODY} bytes; 500 MB declared -> {declared}, 500 MB streamed -> "
          f"{streamed}; RSS {before} KiB before, {after} KiB after")
    assert declared == streamed == 413
    assert after - before < 32 * 1024  # not the 500 MB (measured: a few MiB at most)
