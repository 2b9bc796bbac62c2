"""Purchases through ops (the Procurement port, live), as in Project Vend: people talk to suppliers
and pay them; the shopkeeper asks and decides.

Quotes are asynchronous, as in the simulator: `request_quote` and `counter_offer` post a request to
the ops channel and return a QuoteRequested receipt; when an ops member enters the supplier's answer
(the "Enter quote" modal) it reaches the agent as a QuoteReceived event under the receipt's id.
`place_order` posts a purchase task: the money is booked (SupplierPaid) only when an ops member
confirms they paid ("Bought"), the goods (DeliveryReceived, one per line) only when one confirms
what arrived ("Delivered"). Only members of the ops group can do any of it.

    procurement = SlackProcurement(parts=slack.parts, suppliers=suppliers_from_config(rows))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge import events as ev
from bridge.domain import OrderReceipt, QuoteLine, QuoteRequested, SupplierInfo
from bridge.due import expected_delivery
from bridge.errors import AdapterError, ConfigError, ToolError
from bridge.ledger import BANK
from hardware_adapters.slack import blocks
from hardware_adapters.slack.board import QuoteRequest, SlackTask
from hardware_adapters.slack.ops import NOT_OPS, update_message
from hardware_adapters.slack.parts import SlackParts

QUOTE_VALID_DAYS = 7
REPLY_HOURS = 24  # a supplier's answer, relayed by ops, is expected within a working day


def suppliers_from_config(rows: Sequence[Mapping[str, Any]]) -> tuple[SupplierInfo, ...]:
    """The supplier directory from the live config (a list of tables: supplier, name, contact,
    lead_time_days, skus, min_order_cents)."""
    out = []
    for i, r in enumerate(rows):
        try:
            out.append(SupplierInfo(supplier=str(r["supplier"]), name=str(r.get("name") or r["supplier"]),
                                    contact=str(r.get("contact", "")), lead_time_days=int(r.get("lead_time_days", 0)),
                                    skus=tuple(str(s) for s in r.get("skus", ())),
                                    min_order_cents=int(r.get("min_order_cents", 0))))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"suppliers[{i}]: {err}") from None
    if len({s.supplier for s in out}) != len(out):
        raise ConfigError("suppliers: each supplier id once")
    return tuple(out)


def cents_of(raw: str) -> int | None:
    """Dollars as typed ("12.50") in cents; None if it is not a non-negative amount."""
    try:
        cents = int((Decimal(raw) * 100).to_integral_exact())
    except (InvalidOperation, ValueError):
        return None
    return cents if cents >= 0 else None


class SlackProcurement:
    def __init__(self, *, parts: SlackParts, suppliers: Sequence[SupplierInfo] = (),
                 reply_hours: int = REPLY_HOURS) -> None:
        """`reply_hours`: the turnaround a receipt promises (`expected_by`): ops relaying a supplier's mail."""
        self.parts = parts
        self.directory = {s.supplier: s for s in suppliers}
        self.reply = timedelta(hours=reply_hours)

    def suppliers(self) -> Sequence[SupplierInfo]:
        return list(self.directory.values())

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        info = self.directory.get(supplier)
        if info is None:
            raise ToolError(f"no supplier {supplier!r}; suppliers: {', '.join(self.directory) or 'none'}")
        if not items or any(int(n) <= 0 for n in items.values()):
            raise ToolError("name at least one product, each with a positive number of units")
        unknown = sorted(set(items) - set(info.skus)) if info.skus else []
        if unknown:
            raise ToolError(f"{supplier} does not sell {', '.join(unknown)}")
        wanted = ", ".join(f"{n} x {sku}" for sku, n in sorted(items.items()))
        q = self._ask(supplier, {k: int(v) for k, v in items.items()}, text=f"Quote for {wanted} ({info.contact})")
        return self._receipt(q)

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        base = self.parts.board.quoted(quote_id)
        if base is None:
            raise self._unanswered(quote_id)
        asked = ", ".join(f"{sku} at {blocks.money(int(c))}" for sku, c in sorted(unit_costs_cents.items()))
        q = self._ask(base.supplier, {ln.sku: ln.quantity for ln in base.lines}, counter_of=quote_id,
                      text=f"Counter-offer on {quote_id}: {asked}")
        return self._receipt(q)

    def _affordable(self, supplier: str, total_cents: int) -> None:
        """What ops would refuse to buy, as the simulated suppliers refuse it: an order below the supplier's
        minimum (the directory's), or more than the bank holds."""
        bank = self.parts.ledger.balance(BANK)
        if total_cents > bank:
            raise ToolError(f"insufficient funds: the order is {total_cents}c, the bank has {bank}c")
        info = self.directory.get(supplier)
        if info is not None and total_cents < info.min_order_cents:
            raise ToolError(f"{info.name} has a minimum order of {info.min_order_cents}c; this is {total_cents}c")

    def _unanswered(self, quote_id: str) -> ToolError:
        if quote_id in self.parts.board.quotes:
            return ToolError(f"quote {quote_id} has not been answered yet; the answer arrives in read_inbox")
        return ToolError(f"no quote {quote_id!r}")

    def _receipt(self, q: QuoteRequest) -> QuoteRequested:
        return QuoteRequested(quote_id=q.quote_id, supplier=q.supplier, counter_of=q.counter_of,
                              expected_by=self.parts.clock.now() + self.reply)

    def _ask(self, supplier: str, items: dict[str, int], *, text: str, counter_of: str = "") -> QuoteRequest:
        p = self.parts
        q = QuoteRequest(quote_id=p.board.next_id("quote"), supplier=supplier, items=items, counter_of=counter_of)
        sent = p.api("chat_postMessage", channel=p.settings.ops_channel, text=f"Quote {q.quote_id}: {text}",
                     blocks=blocks.quote_request_message(q, text=text))
        q.channel, q.ts = sent["channel"], sent["ts"]
        p.board.add_quote(q, now=p.clock.now())
        return q

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        p = self.parts
        with p.board.lock:  # one purchase per quote, whatever retries
            task = p.board.purchase_for(quote_id)
            if task is None:
                quote = p.board.quoted(quote_id)
                if quote is None:
                    raise self._unanswered(quote_id)
                now = p.clock.now()
                if quote.valid_until < now:
                    raise ToolError(f"quote {quote_id} expired on {quote.valid_until.date().isoformat()}")
                self._affordable(quote.supplier, quote.total_cents)
                task = SlackTask(task_id=p.board.next_id("purchase"), kind="purchase", stage="ordered", quote=quote,
                                 expected_at=expected_delivery(
                                     now, quote.lead_time_days, delivery_hour=p.settings.delivery_hour, tz=p.ledger.tz))
                sent = p.api("chat_postMessage", channel=p.settings.ops_channel, text=blocks.task_text(task),
                             blocks=blocks.task_message(task))
                task.channel, task.ts = sent["channel"], sent["ts"]
                p.board.add_task(task, now=now)
        assert task.quote is not None and task.expected_at is not None
        return OrderReceipt(order_id=task.task_id, supplier=task.quote.supplier, total_cents=task.quote.total_cents,
                            expected_at=task.expected_at, lines=task.quote.lines)


class PurchaseHandlers:
    """Bolt listeners: Enter quote, Bought, Delivered, and their modals (ops group only)."""

    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    def _may(self, body: dict[str, Any]) -> bool:
        p = self.parts
        user = body["user"]["id"]
        if p.ops.is_member(user):
            return True
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
        p.refuse(channel=channel, user=user, text=NOT_OPS)
        return False

    @staticmethod
    def _value(body: dict[str, Any]) -> str:
        return str(body["actions"][0].get("value", ""))

    @staticmethod
    def _field(body: dict[str, Any], block: str, action: str) -> str:
        return str(body["view"]["state"]["values"].get(block, {}).get(action, {}).get("value") or "").strip()

    @staticmethod
    def _refuse_modal(ack: Any, body: dict[str, Any], text: str) -> None:
        values = body["view"]["state"]["values"]
        ack(response_action="errors", errors={block_id: text for block_id in values} or {"_": text})

    # --- quotes ----------------------------------------------------------------------------------
    def quote_enter(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        if not self._may(body):
            return
        q = self.parts.board.quotes.get(self._value(body))
        if q is None:
            self.parts.refuse(channel=(body.get("channel") or {}).get("id", ""), user=body["user"]["id"],
                              text="That quote has been entered already.")
            return
        self.parts.api("views_open", trigger_id=body["trigger_id"], view=blocks.quote_modal(q))

    def quote_entry(self, ack: Any, body: dict[str, Any]) -> None:
        p = self.parts
        user, quote_id = body["user"]["id"], body["view"]["private_metadata"]
        if not p.ops.is_member(user):
            self._refuse_modal(ack, body, NOT_OPS)
            return
        q = p.board.quotes.get(quote_id)
        if q is None:
            self._refuse_modal(ack, body, f"Quote {quote_id} has been entered already.")
            return
        errors: dict[str, str] = {}
        lines = []
        for sku, n in sorted(q.items.items()):
            cents = cents_of(self._field(body, f"cost:{sku}", "cost"))
            if cents is None or cents == 0:
                errors[f"cost:{sku}"] = "A unit cost in dollars, like 0.70."
            else:
                lines.append(QuoteLine(sku=sku, quantity=n, unit_cost_cents=cents))
        days = self._field(body, "lead", "days")
        if not days.isdigit():
            errors["lead"] = "Whole days, 0 or more."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        now = p.clock.now()
        got = ev.QuoteReceived(id=f"slack:{quote_id}:quoted", ts=now, shop=p.shop, quote_id=quote_id,
                               supplier=q.supplier, lines=tuple(lines), lead_time_days=int(days),
                               valid_until=now + timedelta(days=QUOTE_VALID_DAYS),
                               text=self._field(body, "note", "note"), counter_of=q.counter_of)
        if not p.board.fill_quote(q, quote=got.quote(), user=user, events=[got]):
            self._refuse_modal(ack, body, f"Quote {quote_id} has been entered already.")
            return
        ack()
        p.emit(got)
        try:
            p.api("chat_update", channel=q.channel, ts=q.ts, text=f"Quote {quote_id} entered by {user}",
                  blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": (
                      f"*Quote {quote_id}* from `{blocks.escape(q.supplier)}`: {blocks.money(got.quote().total_cents)}"
                      f" in all, {days} day(s); entered by <@{user}>")}}])
        except AdapterError:  # the quote counts even if the message cannot be updated
            return

    # --- purchase tasks -----------------------------------------------------------------------------
    def _open(self, ack: Any, body: dict[str, Any], *, stage: str) -> None:
        ack()
        if not self._may(body):
            return
        p = self.parts
        task = p.board.task(self._value(body))
        if task is None or task.kind != "purchase" or task.status != "open" or task.stage != stage:
            p.refuse(channel=(body.get("channel") or {}).get("id", ""), user=body["user"]["id"],
                     text="That step of the purchase has been confirmed already.")
            return
        view = blocks.paid_modal(task) if stage == "ordered" else blocks.delivery_modal(task)
        p.api("views_open", trigger_id=body["trigger_id"], view=view)

    def purchase_paid(self, ack: Any, body: dict[str, Any]) -> None:
        self._open(ack, body, stage="ordered")

    def purchase_delivered(self, ack: Any, body: dict[str, Any]) -> None:
        self._open(ack, body, stage="paid")

    def _task(self, ack: Any, body: dict[str, Any], *, stage: str) -> SlackTask | None:
        p = self.parts
        if not p.ops.is_member(body["user"]["id"]):
            self._refuse_modal(ack, body, NOT_OPS)
            return None
        task = p.board.task(body["view"]["private_metadata"])
        if task is None or task.kind != "purchase" or task.status != "open" or task.stage != stage:
            self._refuse_modal(ack, body, "That step of the purchase has been confirmed already.")
            return None
        return task

    def paid_submitted(self, ack: Any, body: dict[str, Any]) -> None:
        task = self._task(ack, body, stage="ordered")
        if task is None or task.quote is None:
            return
        cents = cents_of(self._field(body, "amount", "amount"))
        if not cents:
            ack(response_action="errors", errors={"amount": "The amount paid in dollars, like 70.00."})
            return
        p, user = self.parts, body["user"]["id"]
        paid = ev.SupplierPaid(id=f"slack:{task.task_id}:paid", ts=p.clock.now(), shop=p.shop, order_id=task.task_id,
                               supplier=task.quote.supplier, amount_cents=cents)
        moved = p.board.move_task(task, status="open", stage="paid", user=user, now=p.clock.now(), events=[paid],
                                  paid_cents=cents, paid_by=user)
        if moved is None:
            self._refuse_modal(ack, body, "That step of the purchase has been confirmed already.")
            return
        ack()
        p.emit(paid)
        update_message(p, moved)

    def delivery_submitted(self, ack: Any, body: dict[str, Any]) -> None:
        task = self._task(ack, body, stage="paid")
        if task is None or task.quote is None:
            return
        counts: dict[str, int] = {}
        errors: dict[str, str] = {}
        for ln in task.quote.lines:
            raw = self._field(body, f"sku:{ln.sku}", "count")
            if raw.isdigit():
                counts[ln.sku] = int(raw)
            else:
                errors[f"sku:{ln.sku}"] = "A whole number of units, 0 or more."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        p, user, now = self.parts, body["user"]["id"], self.parts.clock.now()
        q = task.quote
        events: list[ev.Event] = [
            ev.DeliveryReceived(id=f"slack:{task.task_id}:{ln.sku}", ts=now, shop=p.shop, order_id=task.task_id,
                                supplier=q.supplier, sku=ln.sku, quantity=counts[ln.sku],
                                unit_cost_cents=ln.unit_cost_cents) for ln in q.lines if counts[ln.sku]]
        short = [f"{ln.sku}: {counts[ln.sku]} of {ln.quantity}" for ln in q.lines if counts[ln.sku] != ln.quantity]
        detail = f"delivered{'; short: ' + ', '.join(short) if short else ''}; paid {task.paid_cents}c"
        events.append(ev.TaskCompleted(id=f"slack:{task.task_id}:done", ts=now, shop=p.shop, task_id=task.task_id,
                                       ok=not short, detail=detail))
        moved = p.board.move_task(task, status="done", stage="delivered", user=user, now=now, events=events)
        if moved is None:
            self._refuse_modal(ack, body, "That step of the purchase has been confirmed already.")
            return
        ack()
        p.emit_all(events)
        update_message(p, moved)
