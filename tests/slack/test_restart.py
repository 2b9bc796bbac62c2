"""The Slack board outlives the process: a task posted before a restart is completed after it, once;
a confirmation the books had not recorded when the process stopped is booked after it, once; an
approval granted before a restart still satisfies the guardrails; sales while a restock is under
way are not taken for a disagreement with the machine."""

from __future__ import annotations

from pathlib import Path

from bridge import events as ev
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import STORAGE, slot_location
from hardware_adapters.doubles.slack_api import FakeSlack
from tests.slack.rig import ALICE, NOW, OLGA, OMAR, OPS_CH, Rig, fake_slack, make_rig

COUNTS = {"slot:A1": {"count": {"type": "number_input", "value": "8"}},
          "slot:A2": {"count": {"type": "number_input", "value": "6"}}}


def _post_restock(rig: Rig) -> tuple[str, str]:
    for sku, units in (("cola", 40), ("gum", 20)):
        rig.ledger.record(ev.DeliveryReceived(id=f"d-{sku}", ts=NOW, order_id="po-0", supplier="acme", sku=sku,
                                              quantity=units, unit_cost_cents=60))
    r = rig.toolbox.call("restock", {"slots": [{"slot": "A1", "sku": "cola", "count": 8},
                                               {"slot": "A2", "sku": "gum", "count": 6}]})
    assert r.ok, r.error
    rig.store.flush()
    return r.value["task_id"], rig.ops_messages()[-1]["ts"]


def _kinds(events: list[ev.Event]) -> list[str]:
    return sorted(e.kind for e in events)


def test_a_task_posted_before_a_restart_is_completed_once_after(tmp_path: Path) -> None:
    with make_rig(tmp_path) as first:
        task_id, ts = _post_restock(first)
        fake = first.fake
        with make_rig(tmp_path, fake=fake, restart=True) as rig:
            assert rig.slack.requeued == []
            assert task_id in rig.ledger.open_tasks()
            assert rig.click(OLGA, "task_done", task_id, message_ts=ts).status == 200
            modal = rig.last_modal()
            assert modal["callback_id"] == "restock_counts" and modal["private_metadata"] == task_id
            rig.click(OMAR, "task_done", task_id, message_ts=ts)  # Omar opens one too
            omars = rig.last_modal()
            rig.machine.counts.update({"A1": 10, "A2": 6})
            assert rig.submit(OLGA, modal, COUNTS).status == 200
            got = rig.ingest()
            assert _kinds(got) == ["restocked", "restocked", "task_completed"]
            assert rig.ledger.units_at(slot_location("m1", "A1"), "cola") == 8
            assert rig.ledger.units_at(STORAGE, "gum") == 14
            assert task_id not in rig.ledger.open_tasks()
            # Omar's confirmation of the same task is refused and books nothing
            resp = rig.submit(OMAR, omars, COUNTS)
            assert '"response_action": "errors"' in resp.body and rig.ingest() == []
            assert "done by" in str(fake.message(OPS_CH, ts)["blocks"])
            rig.store.flush()
            assert fake.violations == []
        assert fake.violations == []


def test_a_double_confirmation_across_a_restart_books_once(tmp_path: Path) -> None:
    with fake_slack() as fake:
        _double_confirmation(tmp_path, fake)
        assert fake.violations == []


def _double_confirmation(tmp_path: Path, fake: FakeSlack) -> None:
    with make_rig(tmp_path, fake=fake) as first:
        task_id, ts = _post_restock(first)
        first.click(OMAR, "task_done", task_id, message_ts=ts)
        omars = first.last_modal()
        first.click(OLGA, "task_done", task_id, message_ts=ts)
        first.machine.counts.update({"A1": 10, "A2": 6})
        assert first.submit(OLGA, first.last_modal(), COUNTS).status == 200
        # the process stops before the books took Olga's confirmation: nothing recorded or flushed
    with make_rig(tmp_path, fake=fake, restart=True) as second:
        assert _kinds(second.slack.requeued) == ["restocked", "restocked", "task_completed"]
        got = second.ingest()
        assert _kinds(got) == ["restocked", "restocked", "task_completed"]
        assert second.ledger.units_at(slot_location("m1", "A1"), "cola") == 8
        # Omar submits the modal he opened before the restart: refused, nothing booked
        resp = second.submit(OMAR, omars, COUNTS)
        assert '"response_action": "errors"' in resp.body and second.ingest() == []
        second.store.flush()
    with make_rig(tmp_path, fake=fake, restart=True) as third:  # and a further restart re-sends nothing
        assert third.slack.requeued == [] and third.ingest() == []
        assert third.ledger.units_at(slot_location("m1", "A1"), "cola") == 8
        assert third.ledger.units_at(STORAGE, "cola") == 32
        third.click(OLGA, "task_done", task_id, message_ts=ts)
        assert third.ephemerals_for(OLGA) and third.ingest() == []


def test_an_approval_granted_before_a_restart_still_satisfies_the_guardrail(tmp_path: Path) -> None:
    guard = GuardrailPolicy(refund_cap_cents=500, refund_daily_cap_cents=5000)

    def ask(rig: Rig, ref: str) -> tuple[str, str]:
        r = rig.toolbox.call("request_approval", {"action": "refund", "ref": ref, "amount_cents": 900,
                                                  "summary": "stale sandwich", "beneficiary": ALICE})
        assert r.ok, r.error
        return r.value["approval_id"], rig.ops_messages()[-1]["ts"]

    with fake_slack() as fake, make_rig(tmp_path, guard=guard, fake=fake) as first:
        granted, ts1 = ask(first, "pi_1")
        first.click(OLGA, "approval_approve", granted, message_ts=ts1)
        assert _kinds(first.ingest()) == ["approval_decided"]
        first.store.flush()
        unbooked, ts2 = ask(first, "pi_2")  # approved, but the process stops before the books take it
        first.click(OLGA, "approval_approve", unbooked, message_ts=ts2)
        pending, ts3 = ask(first, "pi_3")  # still pending at the restart
        first.store.engine.dispose()
        _after_restart(tmp_path, fake, guard, granted=(granted, ts1), unbooked=unbooked, pending=(pending, ts3))
        assert fake.violations == []


def _after_restart(tmp_path: Path, fake: FakeSlack, guard: GuardrailPolicy, *, granted: tuple[str, str],
                   unbooked: str, pending: tuple[str, str]) -> None:
    (granted, ts1), (pending, ts3) = granted, pending
    with make_rig(tmp_path, fake=fake, restart=True, guard=guard) as rig:
        assert [e.kind for e in rig.slack.requeued] == ["approval_decided"]
        rig.ingest()
        for ref, approval_id in (("pi_1", granted), ("pi_2", unbooked)):
            r = rig.toolbox.call("refund", {"payment_ref": ref, "amount_cents": 900, "reason": "stale",
                                            "customer": ALICE, "approval_id": approval_id})
            assert r.ok, r.error
        # an approval covers only its own subject, after a restart too
        other = rig.toolbox.call("refund", {"payment_ref": "pi_3", "amount_cents": 900, "reason": "stale",
                                            "customer": ALICE, "approval_id": granted})
        assert not other.ok and other.verdict == "approval:refund_cap"
        # the pending one can be decided after the restart; the decided ones cannot be decided again
        rig.click(OLGA, "approval_approve", granted, message_ts=ts1)
        assert rig.ephemerals_for(OLGA) and rig.ingest() == []
        rig.click(OMAR, "approval_approve", pending, message_ts=ts3)
        assert _kinds(rig.ingest()) == ["approval_decided"]
        r = rig.toolbox.call("refund", {"payment_ref": "pi_3", "amount_cents": 900, "reason": "stale",
                                        "customer": ALICE, "approval_id": pending})
        assert r.ok, r.error
        assert [ref for ref, _ in rig.payments.refunds] == ["pi_1", "pi_2", "pi_3"]


def test_sales_while_a_restock_is_under_way_are_not_a_disagreement(rig: Rig) -> None:
    task_id, ts = _post_restock(rig)
    for i in range(3):  # three colas sold from A1 between the request and the confirmation
        rig.ledger.record(ev.Sale(id=f"s{i}", ts=NOW, machine="m1", slot="A1", sku="cola", units=1,
                                  unit_price_cents=150, payment=ev.Payment.CARD))
    rig.machine.counts.update({"A1": 2 + 8 - 3, "A2": 5})  # A1 agrees; A2 got one fewer than confirmed
    rig.click(OLGA, "task_done", task_id, message_ts=ts)
    rig.submit(OLGA, rig.last_modal(), COUNTS)
    alarms = [e for e in rig.ingest() if isinstance(e, ev.Alarm)]
    assert len(alarms) == 1 and "A2" in alarms[0].detail and "A1" not in alarms[0].detail


def test_a_message_answered_before_a_stop_is_booked_once_after(tmp_path: Path) -> None:
    """A customer's DM that Slack got its 200 for is kept before that answer: a process stopped before the
    books committed it queues it again at its next start, once (and not after it is booked)."""
    with fake_slack() as fake:
        with make_rig(tmp_path, fake=fake) as first:
            assert first.dm(ALICE, "is there cola?").status == 200
            # the process stops before the books took the message: nothing recorded or flushed
        with make_rig(tmp_path, fake=fake, restart=True) as second:
            assert [e.kind for e in second.slack.requeued] == ["message_received"]
            got = second.ingest()
            assert [(e.kind, e.text) for e in got if isinstance(e, ev.MessageReceived)] == [
                ("message_received", "is there cola?")]
            second.store.flush()
        with make_rig(tmp_path, fake=fake, restart=True) as third:
            assert third.slack.requeued == [] and third.ingest() == []
        assert fake.violations == []
