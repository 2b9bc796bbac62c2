"""Ops record purchases and deliveries they made without a task from the shopkeeper: the "Record a
purchase" global shortcut or the /shop-record slash command opens a modal; its submission books
SupplierPaid and DeliveryReceived events with stable ids, once, for members of the ops group only;
everything arrives as signed requests through the rig."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bridge import events as ev
from bridge.ledger import BANK, INVENTORY, PREPAID
from hardware_adapters.slack.records import CALLBACK, COMMAND, SHORTCUT
from tests.slack.rig import MALLORY, NOW, OLGA, OMAR, OPS_CH, Rig, fake_slack, make_rig

ERRORS = '"response_action": "errors"'


def shortcut(rig: Rig, user: str) -> Any:
    return rig.interact(rig.inbound.global_shortcut(user=user, callback_id=SHORTCUT, at=NOW))


def command(rig: Rig, user: str) -> Any:
    fields = rig.inbound.slash_command(user=user, channel=OPS_CH, command=COMMAND, text="", at=NOW)
    return rig.dispatch(*rig.inbound.command_request(fields, timestamp=int(time.time())))


def form(supplier: str = "", paid: str = "", delivered: str = "", order: str = "") -> dict[str, Any]:
    return {"supplier": {"supplier": {"type": "plain_text_input", "value": supplier}},
            "paid": {"paid": {"type": "number_input", "value": paid or None}},
            "delivered": {"delivered": {"type": "plain_text_input", "value": delivered or None}},
            "order": {"order": {"type": "plain_text_input", "value": order or None}}}


def opened(rig: Rig, user: str = OLGA) -> dict[str, Any]:
    before = len(rig.fake.modals)
    assert shortcut(rig, user).status == 200
    assert len(rig.fake.modals) == before + 1
    modal = rig.last_modal()
    assert modal["callback_id"] == CALLBACK and modal["private_metadata"]
    return modal


def test_ops_record_a_purchase_and_its_delivery_and_the_books_follow(tmp_path: Path) -> None:
    with make_rig(tmp_path) as rig:
        rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=100_000))
        modal = opened(rig)
        record_id = modal["private_metadata"]
        assert rig.submit(OLGA, modal, form("cash-and-carry", "20.40", "cola 24 0.55\nchips 12 $0.60")).status == 200
        got = rig.ingest()
        assert [(type(e).__name__, e.id) for e in got] == [
            ("SupplierPaid", f"slack:{record_id}:paid"), ("DeliveryReceived", f"slack:{record_id}:cola"),
            ("DeliveryReceived", f"slack:{record_id}:chips")]
        assert all(getattr(e, "order_id", "") == record_id for e in got)
        assert rig.ledger.storage() == {"chips": 12, "cola": 24}
        assert rig.ledger.balance(BANK) == 100_000 - 2_040 and rig.ledger.balance(PREPAID) == 0
        assert rig.ledger.balance(INVENTORY) == 24 * 55 + 12 * 60 and rig.shop.unit_cost("cola") == 55
        assert record_id in rig.ops_messages()[-1]["text"]  # ops see what was recorded

        # the same modal submitted again (a retry, a double click) books nothing more
        assert f"{record_id} has been recorded already" in rig.submit(OMAR, modal, form("cash-and-carry", "20.40")).body
        assert rig.ingest() == []

        # paid now, delivered later: the delivery is recorded for the earlier purchase
        first = opened(rig, OMAR)
        assert rig.submit(OMAR, first, form("acme", "10.00")).status == 200
        second = opened(rig)
        assert ERRORS in rig.submit(OLGA, second, form("acme", delivered="gum 20 0.50", order="ops_purchase-9999")).body
        assert rig.submit(OLGA, second, form("acme", delivered="gum 20 0.50",
                                             order=first["private_metadata"])).status == 200
        later = rig.ingest()
        assert {getattr(e, "order_id", "") for e in later} == {first["private_metadata"]}
        assert rig.ledger.balance(PREPAID) == 0 and rig.ledger.storage()["gum"] == 20
        assert rig.fake.violations == []


def test_only_the_ops_group_records_and_a_bad_form_says_what_is_wrong(tmp_path: Path) -> None:
    with make_rig(tmp_path) as rig:
        assert shortcut(rig, MALLORY).status == 200
        assert rig.fake.modals == {} and rig.ephemerals_for(MALLORY)
        refused = command(rig, MALLORY)
        assert refused.status == 200 and refused.body and rig.fake.modals == {}  # told so, only they see it
        assert command(rig, OMAR).status == 200 and rig.last_modal()["callback_id"] == CALLBACK
        modal = rig.last_modal()
        # a colleague outside the group submitting the form (however they got it) records nothing
        assert ERRORS in rig.submit(MALLORY, modal, form("acme", "5.00")).body
        bad = {"nothing": form("acme"), "line": form("acme", delivered="cola twelve 0.5"),
               "twice": form("acme", delivered="cola 1 0.5\ncola 2 0.5"), "supplier": form("", "5.00"),
               "negative": form("acme", "-3"), "infinite": form("acme", "Infinity"),
               "huge": form("acme", "1e40"), "cents": form("acme", "1.234")}
        for name, values in bad.items():
            body = rig.submit(OLGA, modal, values).body
            assert ERRORS in body, name
        assert rig.ingest() == [] and rig.ledger.storage() == {}
        assert rig.submit(OLGA, modal, form("acme", "5.00")).status == 200  # the same modal, now right
        assert [e.kind for e in rig.ingest()] == ["supplier_paid"]
        assert rig.fake.violations == []


def test_a_record_the_books_missed_before_a_stop_is_booked_after_the_restart(tmp_path: Path) -> None:
    with fake_slack() as fake:
        with make_rig(tmp_path, fake=fake) as rig:
            modal = opened(rig)
            assert rig.submit(OLGA, modal, form("acme", "3.00", "cola 6 0.50")).status == 200
            # the process stops before the books record the events
        with make_rig(tmp_path, fake=fake, restart=True) as after:
            assert {e.id for e in after.slack.requeued} == {f"slack:{modal['private_metadata']}:paid",
                                                            f"slack:{modal['private_metadata']}:cola"}
            after.ingest()
            assert after.ledger.storage() == {"cola": 6}
            after.store.flush()
        with make_rig(tmp_path, fake=fake, restart=True) as again:
            assert again.slack.requeued == []  # booked once
