"""Ops staff: restock and cash tasks in the ops channel, confirmed by a person in the ops group."""

from __future__ import annotations

from bridge import events as ev
from bridge.ledger import BANK, MACHINE_CASH, STORAGE, slot_location
from tests.slack.rig import ALICE, MALLORY, NOW, OLGA, OMAR, OPS_CH, Rig


def _stock_storage(rig: Rig, sku: str, units: int) -> None:
    rig.ledger.record(ev.DeliveryReceived(id=f"d-{sku}", ts=NOW, order_id="po-0", supplier="acme", sku=sku,
                                          quantity=units, unit_cost_cents=60))


def _restock(rig: Rig) -> tuple[str, str]:
    _stock_storage(rig, "cola", 40)
    _stock_storage(rig, "gum", 20)
    result = rig.toolbox.call("restock", {"slots": [{"slot": "A1", "sku": "cola", "count": 8},
                                                    {"slot": "A2", "sku": "gum", "count": 6, "price_cents": 120}]})
    assert result.ok, result.error
    posted = rig.ops_messages()[-1]
    assert next(b for b in posted["blocks"] if b["type"] == "actions")["elements"][0]["action_id"] == "task_done"
    return result.value["task_id"], posted["ts"]


def test_restock_confirmed_with_counts_updates_the_books(rig: Rig) -> None:
    task_id, ts = _restock(rig)
    assert rig.ingest() == []  # asked is not done: nothing moved yet
    assert rig.ledger.units_at(slot_location("m1", "A1"), "cola") == 0

    assert rig.click(OLGA, "task_done", task_id, message_ts=ts).status == 200
    modal = rig.last_modal()
    assert modal["callback_id"] == "restock_counts" and modal["private_metadata"] == task_id
    # Olga placed 8 colas but only 5 gums; the machine's telemetry agrees with her
    rig.machine.counts.update({"A1": 2 + 8, "A2": 5})
    values = {"slot:A1": {"count": {"type": "number_input", "value": "8"}},
              "slot:A2": {"count": {"type": "number_input", "value": "5"}}}
    assert rig.submit(OLGA, modal, values).status == 200

    got = rig.ingest()
    restocked = {(e.slot, e.sku, e.count) for e in got if isinstance(e, ev.Restocked)}
    assert restocked == {("A1", "cola", 8), ("A2", "gum", 5)}
    done = [e for e in got if isinstance(e, ev.TaskCompleted)]
    assert len(done) == 1 and done[0].task_id == task_id and not done[0].ok and "A2: placed 5 of 6" in done[0].detail
    assert not [e for e in got if isinstance(e, ev.Alarm)]
    assert rig.ledger.units_at(slot_location("m1", "A1"), "cola") == 8
    assert rig.ledger.units_at(slot_location("m1", "A2"), "gum") == 5
    assert rig.ledger.units_at(STORAGE, "cola") == 32 and rig.ledger.units_at(STORAGE, "gum") == 15
    assert rig.machine.prices["A2"] == 120  # the price given with the restock is set as it is loaded
    assert task_id not in rig.ledger.open_tasks()
    rig.store.flush()
    assert rig.store.rows("task", task_id=task_id)[0]["status"] == "failed"  # short: the agent is told
    assert "done by" in str(rig.fake.message(OPS_CH, ts)["blocks"])  # the buttons are gone

    # pressing Done again (or a second confirmation) changes nothing
    rig.click(OMAR, "task_done", task_id, message_ts=ts)
    assert rig.ephemerals_for(OMAR) and rig.ingest() == []


def test_counts_that_disagree_with_telemetry_raise_an_alarm(rig: Rig) -> None:
    task_id, ts = _restock(rig)
    rig.click(OMAR, "task_done", task_id, message_ts=ts)
    rig.machine.counts.update({"A1": 4, "A2": 6})  # the machine saw only 2 colas go in
    values = {"slot:A1": {"count": {"type": "number_input", "value": "8"}},
              "slot:A2": {"count": {"type": "number_input", "value": "6"}}}
    rig.submit(OMAR, rig.last_modal(), values)
    alarms = [e for e in rig.ingest() if isinstance(e, ev.Alarm)]
    assert len(alarms) == 1 and alarms[0].code == "restock_mismatch" and "A1" in alarms[0].detail
    assert "A2" not in alarms[0].detail


def test_bad_counts_are_sent_back_to_the_modal(rig: Rig) -> None:
    task_id, ts = _restock(rig)
    rig.click(OLGA, "task_done", task_id, message_ts=ts)
    values = {"slot:A1": {"count": {"type": "number_input", "value": "-3"}},
              "slot:A2": {"count": {"type": "number_input", "value": "6"}}}
    resp = rig.submit(OLGA, rig.last_modal(), values)
    assert resp.status == 200 and '"response_action": "errors"' in resp.body and "slot:A1" in resp.body
    assert rig.ingest() == []


def test_only_the_ops_group_can_complete_a_task(rig: Rig) -> None:
    task_id, ts = _restock(rig)
    for outsider in (MALLORY, ALICE):  # in the ops channel, not in the ops group
        assert rig.click(outsider, "task_done", task_id, message_ts=ts).status == 200
        assert rig.ephemerals_for(outsider), "an outsider gets an ephemeral refusal"
    assert rig.fake.modals == {}
    # even with a modal in hand (opened by Olga), an outsider's submission is refused
    rig.click(OLGA, "task_done", task_id, message_ts=ts)
    values = {"slot:A1": {"count": {"type": "number_input", "value": "8"}},
              "slot:A2": {"count": {"type": "number_input", "value": "6"}}}
    resp = rig.submit(MALLORY, rig.last_modal(), values)
    assert '"response_action": "errors"' in resp.body
    assert rig.ingest() == [] and task_id in rig.ledger.open_tasks()


def test_cant_with_a_reason_fails_the_task(rig: Rig) -> None:
    task_id, ts = _restock(rig)
    rig.click(OLGA, "task_cant", task_id, message_ts=ts)
    modal = rig.last_modal()
    assert modal["callback_id"] == "task_cant"
    rig.submit(OLGA, modal, {"reason": {"reason": {"type": "plain_text_input", "value": "storeroom locked"}}})
    done = [e for e in rig.ingest() if isinstance(e, ev.TaskCompleted)]
    assert len(done) == 1 and not done[0].ok and "storeroom locked" in done[0].detail
    assert rig.ledger.units_at(slot_location("m1", "A1"), "cola") == 0
    assert rig.toolbox.call("read_inbox").value["items"][-1]["task"]["ok"] is False


def test_cash_collection_books_the_counted_amount_and_flags_a_difference(rig: Rig) -> None:
    rig.ledger.record(ev.Sale(id="s1", ts=NOW, machine="m1", slot="A1", sku="cola", units=10, unit_price_cents=150,
                              payment=ev.Payment.CASH))
    rig.machine.cash_cents = 1500
    result = rig.toolbox.call("collect_cash", {})
    assert result.ok
    task_id, ts = result.value["task_id"], rig.ops_messages()[-1]["ts"]
    rig.click(OLGA, "task_done", task_id, message_ts=ts)
    modal = rig.last_modal()
    assert modal["callback_id"] == "cash_count"
    rig.submit(OLGA, modal, {"amount": {"amount": {"type": "number_input", "value": "14.50"}}})
    got = rig.ingest()
    cash = [e for e in got if isinstance(e, ev.CashCollected)]
    assert len(cash) == 1 and cash[0].amount_cents == 1450 and cash[0].task_id == task_id
    assert rig.ledger.balance(BANK) == 1450 and rig.ledger.balance(MACHINE_CASH) == 50
    alarms = [e for e in got if isinstance(e, ev.Alarm)]
    assert len(alarms) == 1 and alarms[0].code == "cash_mismatch" and "1500" in alarms[0].detail
