"""Block Kit for the ops channel and the modals. Outside text (a supplier's or the shopkeeper's)
is shown as plain_text or escaped mrkdwn, so it can never ping a channel or fake a link."""

from __future__ import annotations

import json
import re
from typing import Any

from hardware_adapters.slack.board import QuoteRequest, SlackApproval, SlackTask, SupplierRelay

Block = dict[str, Any]
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Slack's three control characters, as its formatting docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:3000] or " ", "emoji": False}


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}


def _button(text: str, action_id: str, value: str, style: str = "") -> Block:
    b: Block = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    return b


def money(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def task_text(task: SlackTask) -> str:
    if task.kind == "purchase" and task.quote is not None:
        q = task.quote
        lines = ", ".join(f"{ln.quantity} x {ln.sku} at {money(ln.unit_cost_cents)}" for ln in q.lines)
        return f"Buy from {q.supplier} ({task.task_id}, quote {q.quote_id}): {lines}; {money(q.total_cents)} in all"
    if task.kind == "restock":
        lines = ", ".join(f"{ln.slot}: +{ln.count} {ln.sku}" for ln in task.lines)
        return f"Restock {task.machine} ({task.task_id}): {lines}"
    if task.kind == "handover" and task.handover is not None:
        h = task.handover
        return (f"Hand {h.quantity} x {h.sku} from storage to customer {h.customer} ({task.task_id}; "
                f"paid {money(h.amount_cents)}, {h.payment_ref})")
    return f"Collect the cash from {task.machine} ({task.task_id})"


def task_message(task: SlackTask) -> list[Block]:
    detail = [f"• `{ln.slot}`: add {ln.count} x {escape(ln.sku)}"
              + (f" at {money(ln.price_cents)}" if ln.price_cents else "") for ln in task.lines]
    head = escape(task_text(task))
    blocks = [_section(f"*{head}*" + ("\n" + "\n".join(detail) if detail else ""))]
    if task.note:
        blocks.append({"type": "context", "elements": [_plain(task.note)]})
    if task.handover is not None and _USER_ID.match(task.handover.customer):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"customer: <@{task.handover.customer}>"}]})
    if task.status == "open" and task.kind == "purchase":
        step = (_button("Bought", "purchase_paid", task.task_id, "primary") if task.stage == "ordered" else
                _button("Delivered", "purchase_delivered", task.task_id, "primary"))
        if task.stage == "paid":
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"paid {money(task.paid_cents)} by <@{task.paid_by}>"}]})
        blocks.append({"type": "actions", "block_id": "task", "elements": [
            step, _button("Can't", "task_cant", task.task_id)]})
    elif task.status == "open":
        done, cant = ("Handed over", "Could not") if task.kind == "handover" else ("Done", "Can't")
        blocks.append({"type": "actions", "block_id": "task", "elements": [
            _button(done, "task_done", task.task_id, "primary"), _button(cant, "task_cant", task.task_id)]})
    else:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"{task.status} by <@{task.done_by}>"}]})
    return blocks


def pickup_text(task: SlackTask) -> str:
    h = task.handover
    assert h is not None
    return f"Your order of {h.quantity} x {h.sku} is being brought to you ({task.task_id})"


def pickup_message(task: SlackTask) -> list[Block]:
    """The customer's side of a hand-over, in their DM: they may confirm they have the goods."""
    blocks = [_section(escape(pickup_text(task)) + ". Press *Picked up* once you have it.")]
    if task.status == "open":
        blocks.append({"type": "actions", "block_id": "pickup", "elements": [
            _button("Picked up", "handover_picked_up", task.task_id, "primary")]})
    else:
        blocks.append({"type": "context", "elements": [_plain(
            "Handed over." if task.status == "done" else "Not handed over yet: the shop will be in touch.")]})
    return blocks


def restock_modal(task: SlackTask) -> Block:
    inputs = [{"type": "input", "block_id": f"slot:{ln.slot}", "label": _plain(f"{ln.slot}: {ln.sku} placed"),
               "element": {"type": "number_input", "action_id": "count", "is_decimal_allowed": False,
                           "min_value": "0", "initial_value": str(ln.count)}} for ln in task.lines]
    return {"type": "modal", "callback_id": "restock_counts", "private_metadata": task.task_id,
            "title": _plain("Restock done"), "submit": _plain("Confirm"), "close": _plain("Cancel"),
            "blocks": [_section("Count what you actually placed in each slot."), *inputs]}


def cash_modal(task: SlackTask) -> Block:
    return {"type": "modal", "callback_id": "cash_count", "private_metadata": task.task_id,
            "title": _plain("Cash collected"), "submit": _plain("Confirm"), "close": _plain("Cancel"),
            "blocks": [{"type": "input", "block_id": "amount", "label": _plain("Cash counted, in dollars"),
                        "element": {"type": "number_input", "action_id": "amount", "is_decimal_allowed": True,
                                    "min_value": "0"}}]}


def reason_modal(task_id: str) -> Block:
    return {"type": "modal", "callback_id": "task_cant", "private_metadata": task_id,
            "title": _plain("Can't do it"), "submit": _plain("Send"), "close": _plain("Cancel"),
            "blocks": [{"type": "input", "block_id": "reason", "label": _plain("What is in the way?"),
                        "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True}}]}


def approval_message(a: SlackApproval) -> list[Block]:
    head = f"*Approval {a.approval_id}*: `{escape(a.subject)}` up to {money(a.amount_cents)}"
    blocks = [_section(head), {"type": "context", "elements": [_plain(a.summary)]}]
    if a.status == "pending":
        blocks.append({"type": "actions", "block_id": "approval", "elements": [
            _button("Approve", "approval_approve", a.approval_id, "primary"),
            _button("Reject", "approval_reject", a.approval_id, "danger")]})
    else:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"{a.status} by <@{a.decided_by}>"}]})
    return blocks


def relay_message(r: SupplierRelay) -> list[Block]:
    return [_section(f"*To send to supplier `{escape(r.supplier)}`* ({r.relay_id}). Reply in this thread "
                     "with what they answer, or paste it:"),
            {"type": "section", "text": _plain(r.text)},
            {"type": "actions", "block_id": "relay", "elements": [
                _button("Paste reply", "relay_paste", r.relay_id)]}]


def relay_modal(r: SupplierRelay) -> Block:
    return {"type": "modal", "callback_id": "relay_reply", "private_metadata": r.relay_id,
            "title": _plain("Supplier's reply"), "submit": _plain("Send to shopkeeper"), "close": _plain("Cancel"),
            "blocks": [{"type": "input", "block_id": "reply", "label": _plain(f"What {r.supplier} answered"),
                        "element": {"type": "plain_text_input", "action_id": "reply", "multiline": True}}]}


def _number(block_id: str, action_id: str, label: str, *, decimal: bool, initial: str = "") -> Block:
    element: Block = {"type": "number_input", "action_id": action_id, "is_decimal_allowed": decimal,
                      "min_value": "0"}
    if initial:
        element["initial_value"] = initial
    return {"type": "input", "block_id": block_id, "label": _plain(label), "element": element}


def dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def quote_request_message(q: QuoteRequest, *, text: str) -> list[Block]:
    return [_section(f"*Quote {q.quote_id}*: please ask supplier `{escape(q.supplier)}`"),
            {"type": "section", "text": _plain(text)},
            {"type": "actions", "block_id": "quote", "elements": [_button("Enter quote", "quote_enter", q.quote_id)]}]


def quote_modal(q: QuoteRequest) -> Block:
    costs = [_number(f"cost:{sku}", "cost", f"{sku}: unit cost for {n}, in dollars", decimal=True)
             for sku, n in sorted(q.items.items())]
    return {"type": "modal", "callback_id": "quote_entry", "private_metadata": q.quote_id,
            "title": _plain("Supplier's quote"), "submit": _plain("Send to shopkeeper"), "close": _plain("Cancel"),
            "blocks": [_section(f"What `{escape(q.supplier)}` quoted ({q.quote_id})."), *costs,
                       _number("lead", "days", "Lead time, in days", decimal=False),
                       {"type": "input", "block_id": "note", "optional": True, "label": _plain("What they wrote"),
                        "element": {"type": "plain_text_input", "action_id": "note", "multiline": True}}]}


def paid_modal(task: SlackTask) -> Block:
    total = task.quote.total_cents if task.quote else 0
    return {"type": "modal", "callback_id": "purchase_paid", "private_metadata": task.task_id,
            "title": _plain("Bought"), "submit": _plain("Confirm"), "close": _plain("Cancel"),
            "blocks": [_section("Confirm you paid the supplier for this order."),
                       _number("amount", "amount", "Amount paid, in dollars", decimal=True, initial=dollars(total))]}


def delivery_modal(task: SlackTask) -> Block:
    lines = task.quote.lines if task.quote else ()
    return {"type": "modal", "callback_id": "purchase_delivery", "private_metadata": task.task_id,
            "title": _plain("Delivered"), "submit": _plain("Confirm"), "close": _plain("Cancel"),
            "blocks": [_section("Count what actually arrived in storage."),
                       *[_number(f"sku:{ln.sku}", "count", f"{ln.sku} received (of {ln.quantity})", decimal=False,
                                 initial=str(ln.quantity)) for ln in lines]]}


def as_json(blocks: list[Block]) -> str:
    return json.dumps(blocks)
