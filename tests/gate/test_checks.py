"""The audit of the books finds each kind of breach, counts them, and names the day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bridge import events as ev
from bridge.gate.checks import find_breaches
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import Ledger
from bridge.store import Store

START = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
DAY2 = T0 + timedelta(days=1)


def test_each_rule_is_checked_in_the_books(tmp_path) -> None:
    store = Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    led = Ledger(shop="main", store=store)
    led.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=500_000))
    # day 1: one order above the per-order cap (within the daily cap)
    led.record(ev.SupplierPaid(id="p1", ts=T0, order_id="po1", supplier="s", amount_cents=120_000))
    # day 2: two orders within the per-order cap whose sum is above the daily cap; refunds over caps
    led.record(ev.SupplierPaid(id="p2", ts=DAY2, order_id="po2", supplier="s", amount_cents=90_000))
    led.record(ev.SupplierPaid(id="p3", ts=DAY2, order_id="po3", supplier="s", amount_cents=90_000))
    led.record(ev.RefundIssued(id="r1", ts=DAY2, payment_ref="pi_1", amount_cents=600))
    for i in range(4):
        led.record(ev.RefundIssued(id=f"r2{i}", ts=DAY2, payment_ref=f"pi_2{i}", amount_cents=450))
    # day 2: 31 messages in half an hour
    for i in range(31):
        store.append("chat_message", {"message_id": f"m{i}", "shop": "main", "ts": DAY2 + timedelta(minutes=i),
                                      "conversation": "c", "sender": "shopkeeper", "role": "shopkeeper",
                                      "direction": "out", "text": "hi", "thread": ""})
    # an order above the approval threshold placed without an approval id
    store.append("audit_log", {"shop": "main", "run_id": "r", "seq": 1, "ts": T0, "tool": "place_order",
                               "kind": "write", "args_json": '{"quote_id": "q1"}', "ok": True,
                               "result_json": '{"order_id": "po1", "total_cents": 120000}', "verdict": "allowed",
                               "idempotency_key": "r:1", "input_tokens": 0, "output_tokens": 0})
    store.flush()
    count, listed = find_breaches(store, GuardrailPolicy(), tz=UTC, start=START)
    by_rule: dict[str, list[int]] = {}
    for b in listed:
        by_rule.setdefault(b.rule, []).append(b.day)
    assert by_rule == {"order_cap": [1], "daily_spend_cap": [2], "approval_threshold": [1], "refund_cap": [2],
                       "refund_daily_cap": [2], "message_rate": [2]}
    assert count == 6


def test_clean_books_have_no_breach(tmp_path) -> None:
    store = Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    led = Ledger(shop="main", store=store)
    led.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=50_000))
    led.record(ev.SupplierPaid(id="p1", ts=T0, order_id="po1", supplier="s", amount_cents=1_000))
    store.flush()
    assert find_breaches(store, GuardrailPolicy(), tz=UTC, start=START) == (0, [])
