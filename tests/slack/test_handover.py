"""Hand-over live: a paid special order's goods go from storage to the customer as a task in the ops
channel ("Handed over" / "Could not"), confirmed by a member of the ops group; the books take it by the
same events as the simulator's (HandedOver: the deposit becomes revenue, the goods leave storage at
cost; then TaskCompleted). Every task's receipt says when it is due (ops' promise, from the settings)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bridge import events as ev
from bridge.ledger import DEPOSITS, REVENUE, STORAGE
from bridge.tools.customers import CustomerTools
from tests.slack.rig import ALICE, BOB, MALLORY, NOW, OLGA, OMAR, OPS_CH, Rig, make_rig


def _paid_order(rig: Rig) -> tuple[CustomerTools, str]:
    """Alice asked for 4 gum and paid the link; 10 gum are in storage at 60c each."""
    desk = CustomerTools(shop=rig.shop)
    rig.ledger.record(ev.DeliveryReceived(id="d-gum", ts=NOW, order_id="po-0", supplier="acme", sku="gum",
                                          quantity=10, unit_cost_cents=60))
    link = desk.create_special_order(conversation="D0ALICE01", customer=ALICE, sku="gum", quantity=4,
                                     unit_price_cents=250)["link_id"]
    rig.slack.events.put(ev.PaymentReceived(id="pay-1", ts=NOW, payment_ref=link, amount_cents=1000,
                                            order_ref="special:gum:4", customer=ALICE))
    rig.ingest()
    assert desk.list_special_orders(status="paid")
    return desk, link


def _hand_over(rig: Rig, desk: CustomerTools, link: str) -> tuple[str, str]:
    task_id = desk.hand_over(link)["task_id"]
    posted = rig.ops_messages()[-1]
    buttons = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("task_done", task_id), ("task_cant", task_id)]
    return task_id, posted["ts"]


def test_a_handover_confirmed_by_ops_books_revenue_and_takes_the_goods_from_storage(rig: Rig) -> None:
    desk, link = _paid_order(rig)
    task_id, ts = _hand_over(rig, desk, link)
    assert rig.ingest() == [] and rig.ledger.units_at(STORAGE, "gum") == 10  # asked is not done
    assert desk.list_special_orders(status="handing_over")

    assert rig.click(OLGA, "task_done", task_id, message_ts=ts).status == 200
    got = rig.ingest()
    assert [(e.sku, e.quantity, e.customer, e.payment_ref, e.amount_cents, e.task_id)
            for e in got if isinstance(e, ev.HandedOver)] == [("gum", 4, ALICE, link, 1000, task_id)]
    assert [(e.task_id, e.ok) for e in got if isinstance(e, ev.TaskCompleted)] == [(task_id, True)]
    assert rig.ledger.units_at(STORAGE, "gum") == 6
    assert rig.ledger.balance(DEPOSITS) == 0 and rig.ledger.balance(REVENUE) == -1000
    assert [o["status"] for o in desk.list_special_orders()] == ["handed_over"]
    assert rig.slack.parts.board.open_tasks() == []
    assert "done by" in str(rig.fake.message(OPS_CH, ts)["blocks"])  # the buttons are gone

    rig.click(OMAR, "task_done", task_id, message_ts=ts)  # pressed again: nothing more
    assert rig.ephemerals_for(OMAR) and rig.ingest() == []


def test_only_the_ops_group_can_hand_over(rig: Rig) -> None:
    desk, link = _paid_order(rig)
    task_id, ts = _hand_over(rig, desk, link)
    for outsider in (MALLORY, ALICE):  # Alice is the customer, in the ops channel, not in the ops group
        assert rig.click(outsider, "task_done", task_id, message_ts=ts).status == 200
        assert rig.ephemerals_for(outsider)
    assert rig.ingest() == [] and rig.ledger.units_at(STORAGE, "gum") == 10
    assert [t.task_id for t in rig.slack.parts.board.open_tasks()] == [task_id]


def test_a_handover_ops_could_not_make_fails_and_the_order_waits_again(rig: Rig) -> None:
    desk, link = _paid_order(rig)
    task_id, ts = _hand_over(rig, desk, link)
    rig.click(OLGA, "task_cant", task_id, message_ts=ts)
    rig.submit(OLGA, rig.last_modal(), {"reason": {"reason": {"type": "plain_text_input", "value": "not at desk"}}})
    got = rig.ingest()
    assert not [e for e in got if isinstance(e, ev.HandedOver)]
    assert [(e.task_id, e.ok) for e in got if isinstance(e, ev.TaskCompleted)] == [(task_id, False)]
    assert rig.ledger.units_at(STORAGE, "gum") == 10
    assert [o["status"] for o in desk.list_special_orders()] == ["paid"]  # may be handed over again


def test_a_handover_posted_before_a_restart_is_handed_over_once_after(tmp_path: Path) -> None:
    with make_rig(tmp_path) as first:
        desk, link = _paid_order(first)
        task_id, ts = _hand_over(first, desk, link)
        first.store.flush()
        with make_rig(tmp_path, fake=first.fake, restart=True) as rig:
            assert rig.click(OLGA, "task_done", task_id, message_ts=ts).status == 200
            got = rig.ingest()
            assert [(e.sku, e.quantity, e.payment_ref) for e in got if isinstance(e, ev.HandedOver)] == [
                ("gum", 4, link)]
            assert rig.ledger.units_at(STORAGE, "gum") == 6
            rig.click(OMAR, "task_done", task_id, message_ts=ts)
            assert rig.ingest() == []
            assert rig.fake.violations == []


def test_every_task_receipt_says_when_it_is_due(rig: Rig) -> None:
    due = NOW + timedelta(minutes=rig.slack.settings.task_due_minutes)
    physical = rig.slack.physical
    receipts = [physical.request_cash_collection(machine="m1"),
                physical.request_handover(sku="gum", quantity=1, customer=ALICE, payment_ref="plink_9",
                                          amount_cents=250)]
    rig.ledger.record(ev.DeliveryReceived(id="d-cola", ts=NOW, order_id="po-0", supplier="acme", sku="cola",
                                          quantity=10, unit_cost_cents=60))
    result = rig.toolbox.call("restock", {"slots": [{"slot": "A1", "sku": "cola", "count": 4}]})
    assert result.ok, result.error
    assert [r.due_at for r in receipts] == [due, due]
    assert result.value["due"] == due.isoformat()  # the tool shows it as the simulator's does


def _pickup_message(rig: Rig, task_id: str) -> dict[str, object]:
    dm = rig.fake.dm_channel_for(ALICE)
    return next(m for m in rig.fake.history(dm) if task_id in str(m.get("blocks")))


def test_the_customer_may_confirm_the_pick_up_in_their_dm(rig: Rig) -> None:
    desk, link = _paid_order(rig)
    task_id, ops_ts = _hand_over(rig, desk, link)
    dm = rig.fake.dm_channel_for(ALICE)
    told = _pickup_message(rig, task_id)
    assert "handover_picked_up" in str(told["blocks"])

    # someone else pressing it (a forged or forwarded click) is refused and books nothing
    assert rig.click(BOB, "handover_picked_up", task_id, message_ts=str(told["ts"]), channel=dm).status == 200
    assert rig.ingest() == [] and [t.task_id for t in rig.slack.parts.board.open_tasks()] == [task_id]

    assert rig.click(ALICE, "handover_picked_up", task_id, message_ts=str(told["ts"]), channel=dm).status == 200
    got = rig.ingest()
    assert [(e.sku, e.quantity, e.customer, e.task_id) for e in got if isinstance(e, ev.HandedOver)] == [
        ("gum", 4, ALICE, task_id)]
    assert rig.ledger.units_at(STORAGE, "gum") == 6
    assert [o["status"] for o in desk.list_special_orders()] == ["handed_over"]
    assert "handover_picked_up" not in str(_pickup_message(rig, task_id)["blocks"])  # the button is gone
    assert "done by" in str(rig.fake.message(OPS_CH, ops_ts)["blocks"])  # and ops see it is done

    rig.click(OLGA, "task_done", task_id, message_ts=ops_ts)  # ops pressing Handed over too: nothing more
    assert rig.ephemerals_for(OLGA) and rig.ingest() == []


def test_when_ops_hand_it_over_the_customer_can_no_longer_confirm(rig: Rig) -> None:
    desk, link = _paid_order(rig)
    task_id, ops_ts = _hand_over(rig, desk, link)
    rig.click(OLGA, "task_done", task_id, message_ts=ops_ts)
    assert len([e for e in rig.ingest() if isinstance(e, ev.HandedOver)]) == 1
    told = _pickup_message(rig, task_id)
    assert "handover_picked_up" not in str(told["blocks"])
    rig.click(ALICE, "handover_picked_up", task_id, message_ts=str(told["ts"]), channel=rig.fake.dm_channel_for(ALICE))
    assert rig.ephemerals_for(ALICE) and rig.ingest() == []


def test_vend_hils_ops_person_reads_a_handover_task_as_it_is_posted(rig: Rig) -> None:
    """`vend hil`'s simulated ops read the ops channel's text: the hand-over must stay readable to them."""
    from bridge.compose.outside.ops import _HANDOVER

    rig.slack.physical.request_handover(sku="gum", quantity=4, customer=ALICE, payment_ref="plink_7", amount_cents=1250)
    read = _HANDOVER.search(rig.ops_messages()[-1]["text"])
    assert read is not None
    assert (read["n"], read["sku"], read["customer"], read["amount"], read["ref"]) == ("4", "gum", ALICE, "12.50",
                                                                                       "plink_7")
