"""Ops staff in Slack: physical tasks (restock, cash collection, hand-over) and approvals.

`SlackPhysicalWork` (the PhysicalWork port) and `SlackApprovals` (the Approvals port) post
interactive messages to the ops channel. The button and modal handlers act only for members of
the ops user group (asked from Slack with the clicking user's id, which Slack signs into the
request); anyone else gets an ephemeral refusal and nothing changes. A task is done only when a
person confirms it: their counts become Restocked / CashCollected events and TaskCompleted, and
a disagreement with the machine's telemetry raises an Alarm. A hand-over is confirmed by ops
("Handed over") or by the customer who paid, in their DM ("Picked up"), whichever comes first. A
confirmation is claimed in the database together with the events it produced (Board.move_task), so
it counts once, also when the same task is confirmed twice across a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge import events as ev
from bridge.domain import Product, RestockLine, Size, SlotView, TaskReceipt
from bridge.errors import AdapterError, ToolError
from bridge.ledger import slot_location
from hardware_adapters.slack import blocks
from hardware_adapters.slack.board import Handover, SlackApproval, SlackTask
from hardware_adapters.slack.handover import hand_over, tell_customer
from hardware_adapters.slack.parts import SlackParts

log = logging.getLogger(__name__)
NOT_OPS = "Only members of the ops group can do that."


class SlackPhysicalWork:
    """`products`: the shop's catalogue (sku -> Product), so a restock of a product the shop does not
    know, or of a large item for a small slot, is refused as the simulator refuses it; None knows
    nothing and posts what it is asked. Each receipt is due `settings.task_due_minutes` after asking."""

    def __init__(self, *, parts: SlackParts, products: Mapping[str, Product] | None = None) -> None:
        self.parts = parts
        self.products = products

    def request_restock(self, *, machine: str, lines: Sequence[RestockLine], note: str = "") -> TaskReceipt:
        if not lines or len({ln.slot for ln in lines}) != len(lines):
            raise ToolError("a restock names each slot once, and at least one")
        if any(ln.count <= 0 for ln in lines):
            raise ToolError("restock counts must be positive")
        slots = self._slots(machine)
        before = {s.slot: s.count for s in slots.values()}
        unknown = sorted({ln.slot for ln in lines} - set(before)) if before else []
        if unknown:
            raise ToolError(f"machine {machine} has no slot {', '.join(unknown)} (slots are {', '.join(before)})")
        self._fits(lines, slots)
        sold = self.parts.ledger.slot_sold
        task = SlackTask(task_id=self.parts.board.next_id("slack-task"), kind="restock", machine=machine,
                         lines=tuple(lines), note=note, telemetry_before=before,
                         sold_mark={ln.slot: sold.get(slot_location(machine, ln.slot), 0) for ln in lines})
        return self._post(task)

    def request_cash_collection(self, *, machine: str) -> TaskReceipt:
        self._known(machine)
        task = SlackTask(task_id=self.parts.board.next_id("slack-task"), kind="collect_cash", machine=machine,
                         cash_expected=self._cash(machine))
        return self._post(task)

    def request_handover(self, *, sku: str, quantity: int, customer: str, payment_ref: str,
                         amount_cents: int) -> TaskReceipt:
        """A task to ops: take `quantity` x `sku` from storage to `customer`. "Handed over" books it
        (HandedOver, then TaskCompleted); "Can't" fails it and hands nothing over."""
        if quantity <= 0:  # as the simulator refuses it
            raise ToolError("quantity must be positive")
        task = SlackTask(task_id=self.parts.board.next_id("slack-task"), kind="handover", handover=Handover(
            sku=sku, quantity=quantity, customer=customer, payment_ref=payment_ref, amount_cents=amount_cents))
        tell_customer(self.parts, task)
        return self._post(task)

    def _post(self, task: SlackTask) -> TaskReceipt:
        p = self.parts
        sent = p.api("chat_postMessage", channel=p.settings.ops_channel, text=blocks.task_text(task),
                     blocks=blocks.task_message(task))
        task.channel, task.ts = sent["channel"], sent["ts"]
        now = p.clock.now()
        p.board.add_task(task, now=now)
        return TaskReceipt(task_id=task.task_id, kind=task.kind,
                           due_at=now + timedelta(minutes=p.settings.task_due_minutes))

    def _fits(self, lines: Sequence[RestockLine], slots: Mapping[str, SlotView]) -> None:
        """As the simulated restocker refuses them: a product the shop does not know, a large one for a
        small slot."""
        if self.products is None:
            return
        for ln in lines:
            product = self.products.get(ln.sku)
            if product is None:
                raise ToolError(f"unknown product {ln.sku!r}")
            slot = slots.get(ln.slot)
            if slot is not None and slot.size is Size.SMALL and product.size is not Size.SMALL:
                raise ToolError(f"{ln.sku} is a large item and does not fit small slot {ln.slot}")

    def _known(self, machine: str) -> None:
        """As the simulator does: a task for a machine the shop does not have is refused."""
        machines = self.parts.machines
        if machines and machine not in machines:
            raise ToolError(f"no machine {machine!r} (machines are {', '.join(machines)})")

    def _slots(self, machine: str) -> dict[str, SlotView]:
        self._known(machine)
        m = self.parts.machines.get(machine)
        return {s.slot: s for s in m.view().slots} if m is not None else {}

    def _cash(self, machine: str) -> int | None:
        m = self.parts.machines.get(machine)
        return m.view().cash_cents if m is not None else None


class SlackApprovals:
    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    def request_approval(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str = "") -> str:
        if amount_cents <= 0:  # as the simulated approver refuses it
            raise ToolError("amount_cents must be positive")
        p = self.parts
        a = SlackApproval(approval_id=p.board.next_id("approval"), subject=subject, amount_cents=amount_cents,
                          summary=summary, beneficiary=beneficiary)
        sent = p.api("chat_postMessage", channel=p.settings.ops_channel,
                     text=f"Approval needed: {subject} up to {blocks.money(amount_cents)}",
                     blocks=blocks.approval_message(a))
        a.channel, a.ts = sent["channel"], sent["ts"]
        p.board.add_approval(a, now=p.clock.now())
        return a.approval_id


class OpsHandlers:
    """Bolt listeners for the ops buttons and modals (registered by `bridge_app`)."""

    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    # --- buttons ---------------------------------------------------------------------------------
    def _clicker(self, body: dict[str, Any]) -> tuple[str, str, str]:
        action = body["actions"][0]
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
        return body["user"]["id"], channel, str(action.get("value", ""))

    def task_done(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        self._open_task_modal(body, done=True)

    def task_cant(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        self._open_task_modal(body, done=False)

    def _open_task_modal(self, body: dict[str, Any], *, done: bool) -> None:
        p = self.parts
        user, channel, task_id = self._clicker(body)
        if not p.ops.is_member(user):
            p.refuse(channel=channel, user=user, text=NOT_OPS)
            return
        task = p.board.task(task_id)
        if task is None or task.status != "open" or (done and task.kind == "purchase"):
            p.refuse(channel=channel, user=user, text=f"Task {task_id} is not open any more.")
            return
        if not done:
            view = blocks.reason_modal(task_id)
        elif task.kind == "handover":
            self._handed_over(task, user=user, channel=channel)
            return
        elif task.kind == "restock":
            view = blocks.restock_modal(task)
        else:
            with p.board.lock:  # cash sold since the request is in the box too
                now = self._cash(task.machine)
                if now is not None and (task.cash_expected is None or now > task.cash_expected):
                    task.cash_expected = now
            view = blocks.cash_modal(task)
        p.api("views_open", trigger_id=body["trigger_id"], view=view)

    def _cash(self, machine: str) -> int | None:
        m = self.parts.machines.get(machine)
        return m.view().cash_cents if m is not None else None

    def picked_up(self, ack: Any, body: dict[str, Any]) -> None:
        """The customer's "Picked up" in their DM: only the customer the goods are for may press it."""
        ack()
        p = self.parts
        user, channel, task_id = self._clicker(body)
        task = p.board.task(task_id)
        if task is None or task.status != "open" or task.handover is None:
            p.refuse(channel=channel, user=user, text="This hand-over is not open any more.")
            return
        if user != task.handover.customer:
            p.refuse(channel=channel, user=user, text="Only the customer the order is for can confirm it.")
            return
        self._handed_over(task, user=user, channel=channel)

    def _handed_over(self, task: SlackTask, *, user: str, channel: str) -> None:
        """"Handed over" (ops) or "Picked up" (the customer) for an open hand-over."""
        p = self.parts
        done = hand_over(p, task, user=user)
        if done is None:
            p.refuse(channel=channel, user=user, text=f"Task {task.task_id} is not open any more.")
            return
        update_message(p, done)

    def approve(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        self._decide(body, approved=True)

    def reject(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        self._decide(body, approved=False)

    def _decide(self, body: dict[str, Any], *, approved: bool) -> None:
        p = self.parts
        user, channel, approval_id = self._clicker(body)
        if not p.ops.is_member(user):
            p.refuse(channel=channel, user=user, text=NOT_OPS)
            return
        a = p.board.approvals.get(approval_id)
        if a is None or a.status != "pending":
            p.refuse(channel=channel, user=user, text=f"Approval {approval_id} is not pending.")
            return
        if user == a.beneficiary:
            p.refuse(channel=channel, user=user, text="You cannot decide on a request that pays you.")
            return
        status = "approved" if approved else "rejected"
        decided = ev.ApprovalDecided(id=f"slack:{approval_id}", ts=p.clock.now(), shop=p.shop,
                                     approval_id=approval_id, subject=a.subject, approved=approved, approver=user,
                                     amount_cents=a.amount_cents, detail=f"{status} by {user}")
        if not p.board.decide(a, status=status, user=user, now=p.clock.now(), events=[decided]):
            p.refuse(channel=channel, user=user, text=f"Approval {approval_id} is not pending.")
            return
        p.emit(decided)
        p.api("chat_update", channel=a.channel, ts=a.ts, text=f"{a.subject}: {a.status}",
              blocks=blocks.approval_message(a))

    # --- modals ----------------------------------------------------------------------------------
    def _submitter_task(self, ack: Any, body: dict[str, Any]) -> SlackTask | None:
        """The open task a modal confirms, if its submitter may act; else the modal says why."""
        p = self.parts
        user, task_id = body["user"]["id"], body["view"]["private_metadata"]
        if not p.ops.is_member(user):
            ack(response_action="errors", errors=self._errors(body, NOT_OPS))
            return None
        task = p.board.task(task_id)
        if task is None or task.status != "open":
            ack(response_action="errors", errors=self._errors(body, f"Task {task_id} is not open any more."))
            return None
        return task

    @staticmethod
    def _errors(body: dict[str, Any], text: str) -> dict[str, str]:
        values = body["view"]["state"]["values"]
        return {block_id: text for block_id in values} or {"_": text}

    def restock_counts(self, ack: Any, body: dict[str, Any]) -> None:
        task = self._submitter_task(ack, body)
        if task is None:
            return
        values = body["view"]["state"]["values"]
        placed: dict[str, int] = {}
        errors: dict[str, str] = {}
        for ln in task.lines:
            raw = str(values.get(f"slot:{ln.slot}", {}).get("count", {}).get("value") or "")
            if not raw.isdigit():
                errors[f"slot:{ln.slot}"] = "A whole number of units, 0 or more."
            else:
                placed[ln.slot] = int(raw)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        events, detail = self._restocked(task, placed)
        ok = all(placed[ln.slot] == ln.count for ln in task.lines)
        if not self._finish(ack, body, task, ok=ok, detail=detail, events=events):
            return
        machine = self.parts.machines.get(task.machine)
        for ln in task.lines:
            if placed[ln.slot] and ln.price_cents and machine is not None:
                machine.set_price(ln.slot, ln.price_cents)

    def _restocked(self, task: SlackTask, placed: dict[str, int]) -> tuple[list[ev.Event], str]:
        """The events the counts mean, and what to tell the agent. The machine's count now should be
        what it had when asked, plus what was placed, less what the books saw sold from the slot since
        (sales in between are not a disagreement)."""
        p = self.parts
        now, machine = p.clock.now(), p.machines.get(task.machine)
        telemetry = {s.slot: s.count for s in machine.view().slots} if machine is not None else {}
        events: list[ev.Event] = []
        notes, mismatches = [], []
        for ln in task.lines:
            n = placed[ln.slot]
            if n:  # another product in the slot goes back to storage first, as the simulated restocker does
                location = slot_location(task.machine, ln.slot)
                for (where, sku), units in sorted(p.ledger.stock.items()):
                    if where == location and sku != ln.sku and units > 0:
                        events.append(ev.Unloaded(id=f"slack:{task.task_id}:{ln.slot}:unload:{sku}", ts=now,
                                                  shop=p.shop, machine=task.machine, slot=ln.slot, sku=sku,
                                                  count=units, task_id=task.task_id))
                events.append(ev.Restocked(id=f"slack:{task.task_id}:{ln.slot}", ts=now, shop=p.shop,
                                           machine=task.machine, slot=ln.slot, sku=ln.sku, count=n,
                                           task_id=task.task_id))
            if n != ln.count:
                notes.append(f"{ln.slot}: placed {n} of {ln.count} {ln.sku}")
            if ln.slot in telemetry and ln.slot in task.telemetry_before:
                sold = max(0, p.ledger.slot_sold.get(slot_location(task.machine, ln.slot), 0)
                           - task.sold_mark.get(ln.slot, 0))
                expected = task.telemetry_before[ln.slot] + n - sold
                if telemetry[ln.slot] != expected:
                    mismatches.append(f"{ln.slot}: confirmed {n} placed" + (f" and {sold} sold since" if sold else "")
                                      + f", so {expected} expected, machine reports {telemetry[ln.slot]}")
        if mismatches:
            events.append(ev.Alarm(id=f"slack:{task.task_id}:mismatch", ts=now, shop=p.shop, source="slack",
                                   code="restock_mismatch",
                                   detail=f"{task.task_id} {task.machine}: " + "; ".join(mismatches)))
        return events, "; ".join(notes + mismatches)

    def cash_count(self, ack: Any, body: dict[str, Any]) -> None:
        task = self._submitter_task(ack, body)
        if task is None:
            return
        raw = str(body["view"]["state"]["values"].get("amount", {}).get("amount", {}).get("value") or "")
        try:
            cents = int((Decimal(raw) * 100).to_integral_exact())
        except (InvalidOperation, ValueError):
            cents = -1
        if cents < 0:
            ack(response_action="errors", errors={"amount": "An amount in dollars, like 12.50."})
            return
        p = self.parts
        now = p.clock.now()
        events: list[ev.Event] = []
        if cents:
            events.append(ev.CashCollected(id=f"slack:{task.task_id}:cash", ts=now, shop=p.shop, machine=task.machine,
                                           amount_cents=cents, task_id=task.task_id))
        detail = f"collected {cents}c"
        if task.cash_expected is not None and task.cash_expected != cents:
            detail += f"; machine reported {task.cash_expected}c"
            events.append(ev.Alarm(id=f"slack:{task.task_id}:mismatch", ts=now, shop=p.shop, source="slack",
                                   code="cash_mismatch", detail=f"{task.task_id} {task.machine}: counted {cents}c, "
                                                                f"machine reported {task.cash_expected}c"))
        self._finish(ack, body, task, ok=True, detail=detail, events=events)

    def task_cant_reason(self, ack: Any, body: dict[str, Any]) -> None:
        task = self._submitter_task(ack, body)
        if task is None:
            return
        reason = str(body["view"]["state"]["values"].get("reason", {}).get("reason", {}).get("value") or "")
        self._finish(ack, body, task, ok=False, detail=f"can't: {reason.strip() or 'no reason given'}",
                     events=[], status="failed")

    def _finish(self, ack: Any, body: dict[str, Any], task: SlackTask, *, ok: bool, detail: str,
                events: list[ev.Event], status: str = "done") -> bool:
        """Claim the task for this submission with its events (so two confirmations, at once or
        across a restart, book it once), then queue the events and update the message."""
        p = self.parts
        user = body["user"]["id"]
        events = [*events, ev.TaskCompleted(id=f"slack:{task.task_id}:done", ts=p.clock.now(), shop=p.shop,
                                            task_id=task.task_id, ok=ok, detail=detail)]
        done = p.board.move_task(task, status=status, user=user, now=p.clock.now(), events=events)
        if done is None:
            ack(response_action="errors", errors=self._errors(body, f"Task {task.task_id} is not open any more."))
            return False
        ack()
        p.emit_all(events)
        update_message(p, done)
        return True


def update_message(p: SlackParts, task: SlackTask) -> None:
    """Show the task's new state in the ops channel (and a hand-over's in the customer's DM); the
    confirmation counts even if this fails."""
    try:
        p.api("chat_update", channel=task.channel, ts=task.ts, text=f"{blocks.task_text(task)}: {task.status}",
              blocks=blocks.task_message(task))
        if task.pickup_ts:
            p.api("chat_update", channel=task.pickup_channel, ts=task.pickup_ts, text=blocks.pickup_text(task),
                  blocks=blocks.pickup_message(task))
    except AdapterError:
        log.warning("could not update the message of %s", task.task_id)
