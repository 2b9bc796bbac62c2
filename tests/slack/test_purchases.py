"""Purchases through ops (SlackProcurement): a quote asked of a supplier arrives when ops enter it,
an order is a purchase task, money moves only when ops confirm they paid, goods only when they
confirm what arrived; the ledger goes bank -> prepaid -> inventory. Only the ops group acts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge import events as ev
from bridge.errors import ToolError
from bridge.ledger import BANK, INVENTORY, PREPAID, STORAGE
from hardware_adapters.doubles.slack_api import FakeSlack
from tests.slack.rig import MALLORY, NOW, OLGA, OMAR, OPS_CH, Rig, fake_slack, make_rig

ERRORS = '"response_action": "errors"'


def _button(message: dict[str, Any]) -> str:
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    return str(actions["elements"][0]["action_id"])


def _quote(rig: Rig) -> str:
    """Ask for a quote, and have Olga enter what the supplier answered."""
    r = rig.toolbox.call("request_quote", {"supplier": "acme", "items": {"cola": 100, "chips": 50}})
    assert r.ok and r.value["status"] == "requested"  # asked, not answered yet
    posted = rig.ops_messages()[-1]
    assert _button(posted) == "quote_enter"
    quote_id = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    assert r.value["quote_id"] == quote_id
    early = rig.toolbox.call("place_order", {"quote_id": quote_id})
    assert not early.ok and rig.ops_messages()[-1] == posted  # not orderable before it is answered
    assert rig.click(MALLORY, "quote_enter", quote_id, message_ts=posted["ts"]).status == 200
    assert rig.ephemerals_for(MALLORY) and rig.fake.modals == {}
    rig.click(OLGA, "quote_enter", quote_id, message_ts=posted["ts"])
    modal = rig.last_modal()
    assert modal["callback_id"] == "quote_entry"
    values = {"cost:cola": {"cost": {"type": "number_input", "value": "0.70"}},
              "cost:chips": {"cost": {"type": "number_input", "value": "1.10"}},
              "lead": {"days": {"type": "number_input", "value": "2"}},
              "note": {"note": {"type": "plain_text_input", "value": "prices good for a week"}}}
    assert ERRORS in rig.submit(MALLORY, modal, values).body
    assert rig.submit(OLGA, modal, values).status == 200
    got = [e for e in rig.ingest() if isinstance(e, ev.QuoteReceived)]
    assert len(got) == 1 and got[0].quote_id == quote_id and got[0].quote().total_cents == 100 * 70 + 50 * 110
    notice = rig.toolbox.call("read_inbox").value[-1]["quote"]
    assert notice["quote_id"] == quote_id and notice["total_cents"] == 12_500
    assert ERRORS in rig.submit(OMAR, modal, values).body  # entered once
    return quote_id


def test_a_purchase_from_request_to_quote_to_order_to_paid_to_delivered(tmp_path: Path) -> None:
    with fake_slack() as fake:
        _purchase(tmp_path, fake)
        assert fake.violations == []


def _purchase(tmp_path: Path, fake: FakeSlack) -> None:
    with make_rig(tmp_path, fake=fake, live_procurement=True) as rig:
        rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=100_000))
        quote_id = _quote(rig)
        order = rig.toolbox.call("place_order", {"quote_id": quote_id})
        assert order.ok, order.error
        order_id = order.value["order_id"]
        posted = rig.ops_messages()[-1]
        assert _button(posted) == "purchase_paid"
        assert rig.ingest() == [] and rig.ledger.balance(BANK) == 100_000  # ordered is not paid

        rig.click(OLGA, "purchase_paid", order_id, message_ts=posted["ts"])
        modal = rig.last_modal()
        assert modal["callback_id"] == "purchase_paid"
        assert rig.submit(OLGA, modal, {"amount": {"amount": {"type": "number_input", "value": "125.00"}}}).status == 200
        paid = rig.ingest()
        assert [(e.kind, getattr(e, "amount_cents", 0)) for e in paid] == [("supplier_paid", 12_500)]
        assert rig.ledger.balance(BANK) == 87_500 and rig.ledger.balance(PREPAID) == 12_500
        assert rig.ledger.storage() == {}  # paid is not delivered
        assert _button(fake.message(OPS_CH, posted["ts"])) == "purchase_delivered"
        # pressing Bought again after it was confirmed changes nothing
        assert ERRORS in rig.submit(OMAR, modal, {"amount": {"amount": {"type": "number_input", "value": "125"}}}).body
        rig.store.flush()

    with make_rig(tmp_path, fake=fake, restart=True, live_procurement=True) as rig:  # delivered after a restart
        rig.click(OMAR, "purchase_delivered", order_id, message_ts=posted["ts"])
        modal = rig.last_modal()
        assert modal["callback_id"] == "purchase_delivery"
        counts = {"sku:cola": {"count": {"type": "number_input", "value": "100"}},
                  "sku:chips": {"count": {"type": "number_input", "value": "50"}}}
        assert rig.submit(OMAR, modal, counts).status == 200
        got = rig.ingest()
        assert sorted((e.sku, e.quantity, e.unit_cost_cents) for e in got if isinstance(e, ev.DeliveryReceived)) == [
            ("chips", 50, 110), ("cola", 100, 70)]
        done = [e for e in got if isinstance(e, ev.TaskCompleted)]
        assert len(done) == 1 and done[0].ok and done[0].task_id == order_id
        assert rig.ledger.balance(PREPAID) == 0 and rig.ledger.balance(INVENTORY) == 12_500
        assert rig.ledger.balance(BANK) == 87_500
        assert rig.ledger.units_at(STORAGE, "cola") == 100 and rig.ledger.units_at(STORAGE, "chips") == 50
        assert str(rig.ledger.orders[order_id].status) == "delivered"
        assert ERRORS in rig.submit(OLGA, modal, counts).body and rig.ingest() == []  # delivered once


def test_only_the_ops_group_can_confirm_a_purchase_or_a_delivery(tmp_path: Path) -> None:
    with make_rig(tmp_path, live_procurement=True) as rig:
        rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=100_000))
        quote_id = _quote(rig)
        order_id = rig.toolbox.call("place_order", {"quote_id": quote_id}).value["order_id"]
        ts = rig.ops_messages()[-1]["ts"]
        opened = len(rig.fake.modals)
        rig.click(MALLORY, "purchase_paid", order_id, message_ts=ts)
        assert rig.ephemerals_for(MALLORY) and len(rig.fake.modals) == opened
        rig.click(OLGA, "purchase_paid", order_id, message_ts=ts)
        amount = {"amount": {"amount": {"type": "number_input", "value": "125.00"}}}
        assert ERRORS in rig.submit(MALLORY, rig.last_modal(), amount).body
        assert rig.ingest() == [] and rig.ledger.balance(PREPAID) == 0
        rig.submit(OLGA, rig.last_modal(), amount)
        assert [e.kind for e in rig.ingest()] == ["supplier_paid"]

        before = len(rig.ephemerals_for(MALLORY))
        rig.click(MALLORY, "purchase_delivered", order_id, message_ts=ts)
        assert len(rig.ephemerals_for(MALLORY)) == before + 1
        rig.click(OLGA, "purchase_delivered", order_id, message_ts=ts)
        counts = {"sku:cola": {"count": {"type": "number_input", "value": "100"}},
                  "sku:chips": {"count": {"type": "number_input", "value": "50"}}}
        assert ERRORS in rig.submit(MALLORY, rig.last_modal(), counts).body
        assert rig.ingest() == [] and rig.ledger.storage() == {} and rig.ledger.balance(INVENTORY) == 0
        assert rig.fake.violations == []


def test_a_quote_for_an_unknown_supplier_or_product_is_refused_at_once(rig: Rig) -> None:
    posted = len(rig.ops_messages())  # the rig's directory: acme sells cola, chips and gum
    for supplier, items in (("nobody", {"cola": 5}), ("acme", {"caviar": 5}), ("acme", {"cola": 0})):
        with pytest.raises(ToolError):
            rig.slack.procurement.request_quote(supplier=supplier, items=items)
    assert len(rig.ops_messages()) == posted
    assert [s.supplier for s in rig.slack.procurement.suppliers()] == ["acme"]
