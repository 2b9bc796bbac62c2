"""Hand-over of a paid special order, live: the customer hears in their DM that the goods are coming,
and the goods leave storage when ops press "Handed over" or the customer presses "Picked up",
whichever comes first. Booked as the simulator books it (HandedOver, then TaskCompleted), claimed once
with the task (Board.move_task), also across a restart."""

from __future__ import annotations

import logging

from bridge import events as ev
from bridge.errors import AdapterError
from hardware_adapters.slack import blocks
from hardware_adapters.slack.board import SlackTask
from hardware_adapters.slack.parts import SlackParts

log = logging.getLogger(__name__)


def tell_customer(p: SlackParts, task: SlackTask) -> None:
    """Post the customer's side of the hand-over in their DM (best effort: a customer Slack cannot
    reach still gets the goods from ops)."""
    h = task.handover
    assert h is not None
    try:
        sent = p.api("chat_postMessage", channel=h.customer, text=blocks.pickup_text(task),
                     blocks=blocks.pickup_message(task))
    except AdapterError:
        log.info("hand-over %s: customer %s not reachable in Slack; ops hand it over", task.task_id, h.customer)
        return
    task.pickup_channel, task.pickup_ts = sent["channel"], sent["ts"]


def hand_over(p: SlackParts, task: SlackTask, *, user: str) -> SlackTask | None:
    """Claim the hand-over for `user` and queue its events; None if it was not open any more."""
    h = task.handover
    assert h is not None
    now = p.clock.now()
    events: list[ev.Event] = [
        ev.HandedOver(id=f"slack:{task.task_id}:handed", ts=now, shop=p.shop, sku=h.sku, quantity=h.quantity,
                      customer=h.customer, payment_ref=h.payment_ref, amount_cents=h.amount_cents,
                      task_id=task.task_id),
        ev.TaskCompleted(id=f"slack:{task.task_id}:done", ts=now, shop=p.shop, task_id=task.task_id, ok=True,
                         detail=f"gave {h.quantity} x {h.sku} to {h.customer}")]
    done = p.board.move_task(task, status="done", user=user, now=now, events=events)
    if done is not None:
        p.emit_all(events)
    return done
