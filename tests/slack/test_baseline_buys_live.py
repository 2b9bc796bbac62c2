"""The heuristic baseline buys through ops exactly as it buys from the simulated suppliers: it asks
for quotes, carries on, and orders in the session that finds the answer in its inbox; the order is
paid when ops confirm it. Nothing in the policy knows which world it is in."""

from __future__ import annotations

from pathlib import Path

from bridge import events as ev
from bridge.ledger import BANK, PREPAID
from bridge.policies.baseline import BaselinePolicy
from tests.slack.rig import NOW, OLGA, Rig, make_rig

COSTS = {"cola": "0.70", "chips": "1.10", "gum": "0.40"}


def _requested(rig: Rig) -> list[str]:
    """Quote requests ops have not answered yet, in the order they were posted."""
    return list(rig.slack.parts.board.quotes)


def _enter(rig: Rig, quote_id: str) -> None:
    """Olga enters what the supplier answered."""
    q = rig.slack.parts.board.quotes[quote_id]
    ts = next(m["ts"] for m in rig.ops_messages() if quote_id in m.get("text", ""))
    rig.click(OLGA, "quote_enter", quote_id, message_ts=ts)
    values = {f"cost:{sku}": {"cost": {"type": "number_input", "value": COSTS[sku]}} for sku in q.items}
    values["lead"] = {"days": {"type": "number_input", "value": "2"}}
    values["note"] = {"note": {"type": "plain_text_input", "value": ""}}
    assert rig.submit(OLGA, rig.last_modal(), values).status == 200


def test_the_baseline_asks_then_orders_when_ops_enter_the_answer(tmp_path: Path) -> None:
    policy = BaselinePolicy()
    with make_rig(tmp_path, policy=policy, live_procurement=True) as rig:
        rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=100_000))
        rig.runtime.open_day()
        survey = _requested(rig)
        assert len(survey) == 1 and rig.runtime.outcome.crashes == []  # acme asked for its prices
        assert policy.offers == {} and rig.ledger.orders == {}

        _enter(rig, survey[0])
        rig.ingest()
        rig.runtime.reminders()  # the answer is in the inbox: the day's plan, and the quotes to order
        asked = _requested(rig)
        assert len(asked) == 1 and rig.ledger.orders == {} and set(policy.offers) == {"cola", "chips", "gum"}
        rig.runtime.reminders()  # nothing new: nothing ordered, nothing asked twice
        assert _requested(rig) == asked and rig.ledger.orders == {}

        _enter(rig, asked[0])
        rig.ingest()
        rig.runtime.reminders()  # the order's quote is in: ordered, not yet paid
        [book] = rig.ledger.orders.values()
        assert book.supplier == "acme" and str(book.status) == "placed" and rig.ledger.balance(BANK) == 100_000
        assert rig.runtime.outcome.crashes == []

        task = next(m for m in rig.ops_messages() if book.order_id in m.get("text", ""))
        rig.click(OLGA, "purchase_paid", book.order_id, message_ts=task["ts"])
        amount = {"amount": {"amount": {"type": "number_input", "value": f"{book.total_cents / 100:.2f}"}}}
        assert rig.submit(OLGA, rig.last_modal(), amount).status == 200
        rig.ingest()
        assert str(book.status) == "paid" and rig.ledger.balance(PREPAID) == book.total_cents
        assert rig.ledger.balance(BANK) == 100_000 - book.total_cents
        assert rig.fake.violations == []
