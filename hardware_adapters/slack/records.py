"""Ops record what they did without an agent's task: a purchase they paid a supplier for and/or the
goods that arrived (the "Record a purchase" global shortcut, or the `/shop-record` slash command, open
one modal). Live needs it anyway (ops buy at the cash-and-carry on their own); in a shadow run it is
the world's side the shadow report sets the shopkeeper's calls beside.

A submission becomes ledger events with stable ids from the record's id (given out when the modal
opened, kept in its private metadata): `SupplierPaid` for the amount paid, one `DeliveryReceived` per
product line (sku, units, unit cost). The record is written once, with its events, as a done row of
the ops board (its outbox), so a submission counts once, also across a restart. Only members of the
ops group can record; Bolt has checked the request's signature before any of this runs.
"""

from __future__ import annotations

import re
from typing import Any

from bridge import events as ev
from bridge.domain import Quote, QuoteLine
from bridge.errors import AdapterError
from hardware_adapters.slack import blocks
from hardware_adapters.slack.board import SlackTask
from hardware_adapters.slack.ops import NOT_OPS
from hardware_adapters.slack.parts import SlackParts
from hardware_adapters.slack.procurement import cents_of

SHORTCUT = "record_purchase"  # the global shortcut's callback id
COMMAND = "/shop-record"
CALLBACK = "ops_record"  # the modal's callback id
KIND = "ops_purchase"  # the board row's kind
_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\s+(\d{1,6})\s+\$?(\d{1,6}(?:\.\d{1,2})?)\s*$")
_AMOUNT = re.compile(r"^\d{1,7}(?:\.\d{1,2})?$")  # dollars, under ten million
_SUPPLIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.&'-]{0,63}$")
MAX_LINES = 30


def record_modal(record_id: str) -> dict[str, Any]:
    def text(block_id: str, label: str, *, optional: bool = False, multiline: bool = False,
             hint: str = "") -> dict[str, Any]:
        block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional,
                                 "label": {"type": "plain_text", "text": label},
                                 "element": {"type": "plain_text_input", "action_id": block_id,
                                             "multiline": multiline}}
        if hint:
            block["hint"] = {"type": "plain_text", "text": hint}
        return block

    return {"type": "modal", "callback_id": CALLBACK, "private_metadata": record_id,
            "title": {"type": "plain_text", "text": "Record a purchase"},
            "submit": {"type": "plain_text", "text": "Record"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": (
                    f"A purchase you made or goods that arrived without a task from the shopkeeper "
                    f"(recorded as `{record_id}`).")}},
                text("supplier", "Supplier"),
                {"type": "input", "block_id": "paid", "optional": True,
                 "label": {"type": "plain_text", "text": "Amount paid, in dollars (empty: not paid now)"},
                 "element": {"type": "number_input", "action_id": "paid", "is_decimal_allowed": True,
                             "min_value": "0"}},
                text("delivered", "Delivered to storage", optional=True, multiline=True,
                     hint="One product a line: sku, units, unit cost in dollars, e.g. cola 24 0.55"),
                text("order", "For an earlier purchase", optional=True,
                     hint="The id of the purchase these goods belong to, if it was recorded before")]}


class RecordHandlers:
    """Bolt listeners: the shortcut, the slash command and the modal's submission."""

    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    def shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        p, user = self.parts, body["user"]["id"]
        if not p.ops.is_member(user):
            p.refuse(channel=p.settings.ops_channel, user=user, text=NOT_OPS)
            return
        p.api("views_open", trigger_id=body["trigger_id"], view=record_modal(p.board.next_id(KIND)))

    def command(self, ack: Any, body: dict[str, Any]) -> None:
        p, user = self.parts, str(body.get("user_id", ""))
        if not p.ops.is_member(user):
            ack(text=NOT_OPS)  # the command's own answer: only the person who typed it sees it
            return
        ack()
        p.api("views_open", trigger_id=body["trigger_id"], view=record_modal(p.board.next_id(KIND)))

    @staticmethod
    def _field(body: dict[str, Any], block: str) -> str:
        return str(body["view"]["state"]["values"].get(block, {}).get(block, {}).get("value") or "").strip()

    def submitted(self, ack: Any, body: dict[str, Any]) -> None:
        p, user = self.parts, body["user"]["id"]
        values = body["view"]["state"]["values"]
        if not p.ops.is_member(user):
            ack(response_action="errors", errors={b: NOT_OPS for b in values} or {"supplier": NOT_OPS})
            return
        record_id = str(body["view"].get("private_metadata", ""))
        errors, events, task = self._read(body, record_id=record_id)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        if not p.board.add_record(task, now=p.clock.now(), user=user, events=events):
            ack(response_action="errors", errors={"supplier": f"{record_id} has been recorded already."})
            return
        ack()
        p.emit_all(events)
        try:
            p.api("chat_postMessage", channel=p.settings.ops_channel, text=_summary(task, user))
        except AdapterError:  # the record counts even if the note cannot be posted
            return

    def _read(self, body: dict[str, Any], *, record_id: str) -> tuple[dict[str, str], list[ev.Event], SlackTask]:
        p = self.parts
        errors: dict[str, str] = {}
        supplier = self._field(body, "supplier")
        if not _SUPPLIER.match(supplier):
            errors["supplier"] = "The supplier's name or id: letters, digits, spaces, up to 64."
        raw_paid = self._field(body, "paid")
        paid = (cents_of(raw_paid) if _AMOUNT.match(raw_paid) else None) if raw_paid else 0
        if paid is None:
            errors["paid"] = "An amount in dollars, like 42.50."
        lines: list[QuoteLine] = []
        raw_lines = [ln for ln in self._field(body, "delivered").splitlines() if ln.strip()]
        for n, raw in enumerate(raw_lines, 1):
            m = _LINE.match(raw)
            units = int(m.group(2)) if m else 0
            cost = cents_of(m.group(3)) if m else None
            if m is None or units <= 0 or cost is None:
                errors["delivered"] = f"Line {n}: sku, units (a whole number above 0), unit cost in dollars."
                break
            lines.append(QuoteLine(sku=m.group(1), quantity=units, unit_cost_cents=cost))
        if len(lines) > MAX_LINES:
            errors["delivered"] = f"At most {MAX_LINES} lines in one record."
        elif len({ln.sku for ln in lines}) != len(lines):
            errors["delivered"] = "Each product once."
        order = self._field(body, "order") or record_id
        if order != record_id and (len(order) > 64 or not self._known_order(order)):
            errors["order"] = f"No purchase {order!r} has been recorded."
        if not errors and not paid and not lines:
            errors["paid"] = "Give the amount paid, the goods delivered, or both."
        now = p.clock.now()
        task = SlackTask(task_id=record_id, kind=KIND, status="done", paid_cents=paid or 0,
                         note=f"for {order}" if order != record_id else "",
                         quote=Quote(quote_id=order, supplier=supplier, lines=tuple(lines), lead_time_days=0,
                                     valid_until=now))
        events: list[ev.Event] = []
        if paid:
            events.append(ev.SupplierPaid(id=f"slack:{record_id}:paid", ts=now, shop=p.shop, order_id=order,
                                          supplier=supplier, amount_cents=paid))
        events += [ev.DeliveryReceived(id=f"slack:{record_id}:{ln.sku}", ts=now, shop=p.shop, order_id=order,
                                       supplier=supplier, sku=ln.sku, quantity=ln.quantity,
                                       unit_cost_cents=ln.unit_cost_cents) for ln in lines]
        return errors, events, task

    def _known_order(self, order: str) -> bool:
        """An earlier record, a purchase task, or an order the books know."""
        p = self.parts
        task = p.board.task(order)
        return (task is not None and task.kind in (KIND, "purchase")) or order in p.ledger.orders


def _summary(task: SlackTask, user: str) -> str:
    q = task.quote
    assert q is not None
    parts = []
    if task.paid_cents:
        parts.append(f"paid {blocks.money(task.paid_cents)}")
    if q.lines:
        parts.append("delivered " + ", ".join(f"{ln.quantity} x {ln.sku} at {blocks.money(ln.unit_cost_cents)}"
                                              for ln in q.lines))
    return (f"{task.task_id} recorded by <@{user}>: {blocks.escape(q.supplier)}, {'; '.join(parts)}"
            + (f" ({task.note})" if task.note else ""))
