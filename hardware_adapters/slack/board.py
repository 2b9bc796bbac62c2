"""What the Slack side has asked people to do and what they answered: tasks (restock, cash,
purchase, hand-over), approvals, supplier relays and quote requests.

Kept in the store (tables slack_task, slack_approval, slack_relay, slack_quote), written at once in
their own transactions (not through the store's buffer, which belongs to the runtime's thread), and
read back when a SlackBridge starts, so a button pressed after a restart still works. Memory is a
cache of the rows; a confirmation is claimed in the database: one UPDATE from the state it saw,
which also writes the events it produced (the outbox), so it completes once even across processes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select

from bridge.domain import Quote, QuoteLine, RestockLine
from bridge.events import Event
from bridge.store import Store
from bridge.store.store import TABLES
from hardware_adapters.slack import outbox

_NUMBERED = re.compile(r"-(\d+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Handover:
    """Goods a customer paid for (a special order), to be taken from storage to them."""

    sku: str
    quantity: int
    customer: str
    payment_ref: str
    amount_cents: int


@dataclass(slots=True, kw_only=True)
class SlackTask:
    task_id: str
    kind: str  # "restock", "collect_cash", "purchase" or "handover"
    machine: str = ""
    lines: tuple[RestockLine, ...] = ()
    note: str = ""
    channel: str = ""
    ts: str = ""
    status: str = "open"  # open, done, failed
    stage: str = ""  # purchases: "ordered", then "paid"
    done_by: str = ""
    telemetry_before: dict[str, int] = field(default_factory=dict)  # slot -> count when asked
    sold_mark: dict[str, int] = field(default_factory=dict)  # slot -> units the books had sold from it when asked
    cash_expected: int | None = None  # machine cash box telemetry, cents
    quote: Quote | None = None  # purchases: what is bought
    expected_at: datetime | None = None  # purchases: when the goods are due
    paid_cents: int = 0  # purchases: what ops paid
    paid_by: str = ""
    handover: Handover | None = None  # hand-overs: what goes to whom
    pickup_channel: str = ""  # hand-overs: the customer's DM, where they may confirm the pick-up
    pickup_ts: str = ""

    def payload(self) -> str:
        q, h = self.quote, self.handover
        return json.dumps({
            "lines": [[ln.slot, ln.sku, ln.count, ln.price_cents] for ln in self.lines], "note": self.note,
            "telemetry_before": self.telemetry_before, "sold_mark": self.sold_mark,
            "cash_expected": self.cash_expected, "paid_cents": self.paid_cents, "paid_by": self.paid_by,
            "expected_at": self.expected_at.isoformat() if self.expected_at else None,
            "quote": None if q is None else {
                "quote_id": q.quote_id, "supplier": q.supplier, "lead_time_days": q.lead_time_days,
                "valid_until": q.valid_until.isoformat(), "text": q.text,
                "lines": [[ln.sku, ln.quantity, ln.unit_cost_cents] for ln in q.lines]},
            "handover": None if h is None else [h.sku, h.quantity, h.customer, h.payment_ref, h.amount_cents],
            "pickup": [self.pickup_channel, self.pickup_ts]})

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> SlackTask:
        p = json.loads(r["payload_json"] or "{}")
        q = p.get("quote")
        quote = None if q is None else Quote(
            quote_id=q["quote_id"], supplier=q["supplier"], lead_time_days=q["lead_time_days"],
            valid_until=datetime.fromisoformat(q["valid_until"]), text=q.get("text", ""),
            lines=tuple(QuoteLine(sku=s, quantity=n, unit_cost_cents=u) for s, n, u in q["lines"]))
        h = p.get("handover")
        handover = None if h is None else Handover(sku=h[0], quantity=h[1], customer=h[2], payment_ref=h[3],
                                                   amount_cents=h[4])
        return cls(task_id=r["task_id"], kind=r["kind"], machine=r["machine"], note=p.get("note", ""),
                   lines=tuple(RestockLine(slot=s, sku=k, count=n, price_cents=c) for s, k, n, c in p.get("lines", [])),
                   channel=r["channel"], ts=r["ts"], status=r["status"], stage=r["stage"], done_by=r["done_by"],
                   telemetry_before=p.get("telemetry_before", {}), sold_mark=p.get("sold_mark", {}),
                   cash_expected=p.get("cash_expected"), quote=quote, paid_cents=p.get("paid_cents", 0),
                   paid_by=p.get("paid_by", ""), handover=handover,
                   pickup_channel=p.get("pickup", ["", ""])[0], pickup_ts=p.get("pickup", ["", ""])[1],
                   expected_at=datetime.fromisoformat(p["expected_at"]) if p.get("expected_at") else None)


@dataclass(slots=True, kw_only=True)
class SlackApproval:
    approval_id: str
    subject: str
    amount_cents: int
    summary: str
    beneficiary: str = ""
    channel: str = ""
    ts: str = ""
    status: str = "pending"  # pending, approved, rejected
    decided_by: str = ""


@dataclass(slots=True, kw_only=True)
class SupplierRelay:
    relay_id: str
    supplier: str
    text: str
    channel: str = ""
    ts: str = ""


@dataclass(slots=True, kw_only=True)
class QuoteRequest:
    """A quote asked of a supplier through ops (or a counter-offer on one), until ops enter the answer."""

    quote_id: str
    supplier: str
    items: dict[str, int]  # sku -> units
    counter_of: str = ""
    channel: str = ""
    ts: str = ""
    status: str = "requested"  # requested, quoted
    quoted_by: str = ""


class Board:
    def __init__(self, *, store: Store, shop: str, now: Callable[[], datetime]) -> None:
        self.lock = threading.RLock()
        self.store = store
        self.shop = shop
        self.now = now
        self.tasks: dict[str, SlackTask] = {}
        self.approvals: dict[str, SlackApproval] = {}
        self.relays: dict[str, SupplierRelay] = {}
        self.quotes: dict[str, QuoteRequest] = {}
        self._seq = 0

    def _t(self, name: str) -> Table:
        return TABLES[name]

    # --- ids ---------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._seq += 1
            return f"{prefix}-{self._seq:05d}"

    # --- after a restart ---------------------------------------------------------------------
    def load(self) -> None:
        """Read back what is still open (and every id used, so new ids never collide)."""
        used: list[str] = []
        with self.store.engine.connect() as conn:
            t = self._t("slack_task")
            for r in conn.execute(select(t).where(t.c.shop == self.shop)):
                used.append(r.task_id)
                if r.status == "open":
                    task = SlackTask.from_row(dict(r._mapping))
                    self.tasks[task.task_id] = task
            a = self._t("slack_approval")
            for r in conn.execute(select(a).where(a.c.shop == self.shop)):
                used.append(r.approval_id)
                if r.status == "pending":
                    self.approvals[r.approval_id] = SlackApproval(
                        approval_id=r.approval_id, subject=r.subject, amount_cents=r.amount_cents, summary=r.summary,
                        beneficiary=r.beneficiary, channel=r.channel, ts=r.ts)
            rl = self._t("slack_relay")
            for r in conn.execute(select(rl).where(rl.c.shop == self.shop)):
                used.append(r.relay_id)
                self.relays[r.relay_id] = SupplierRelay(relay_id=r.relay_id, supplier=r.supplier, text=r.text,
                                                        channel=r.channel, ts=r.ts)
            q = self._t("slack_quote")
            for r in conn.execute(select(q).where(q.c.shop == self.shop)):
                used.append(r.quote_id)
                if r.status == "requested":
                    self.quotes[r.quote_id] = QuoteRequest(
                        quote_id=r.quote_id, supplier=r.supplier, items=json.loads(r.items_json),
                        counter_of=r.counter_of, channel=r.channel, ts=r.ts)
        seq = max((int(m.group(1)) for u in used if (m := _NUMBERED.search(u))), default=0)
        with self.lock:
            self._seq = max(self._seq, seq)

    def unrecorded(self) -> list[Event]:
        """Events confirmations produced that the books have not recorded (the process stopped
        between the claim and the books' commit): to be queued again."""
        kept: list[Event] = []
        with self.store.engine.connect() as conn:
            for name in ("slack_task", "slack_approval", "slack_quote"):
                t = self._t(name)
                for (text,) in conn.execute(select(t.c.outbox_json).where(
                        and_(t.c.shop == self.shop, t.c.outbox_json != "[]"))):
                    kept += outbox.decode(text)
            t = self._t("slack_inbox")
            for (text,) in conn.execute(select(t.c.events_json).where(t.c.shop == self.shop)):
                kept += outbox.decode(text)
            pe = self._t("processed_event")
            ids = [e.id for e in kept]
            seen: set[str] = set()
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                seen.update(r[0] for r in conn.execute(select(pe.c.event_id).where(pe.c.event_id.in_(part))))
        return [e for e in kept if e.id not in seen]

    def keep(self, event: Event, *, now: datetime) -> None:
        """What someone wrote (a MessageReceived), kept before Slack gets its answer: queued again after a
        stop until the books have it (`unrecorded`). Slack's retry of the same message keeps it once."""
        t = self._t("slack_inbox")
        with self.lock, self.store.engine.begin() as conn:
            if conn.execute(select(t.c.event_id).where(t.c.event_id == event.id)).first() is None:
                conn.execute(t.insert(), [{"event_id": event.id, "shop": self.shop, "received_at": now,
                                           "events_json": outbox.encode([event])}])

    # --- tasks -------------------------------------------------------------------------------
    def add_task(self, task: SlackTask, *, now: datetime) -> None:
        with self.lock, self.store.engine.begin() as conn:
            conn.execute(self._t("slack_task").insert(), [{
                "task_id": task.task_id, "shop": self.shop, "kind": task.kind, "machine": task.machine,
                "status": task.status, "stage": task.stage, "channel": task.channel, "ts": task.ts,
                "created_at": now, "updated_at": now, "done_by": task.done_by, "payload_json": task.payload(),
                "outbox_json": "[]"}])
            self.tasks[task.task_id] = task

    def task(self, task_id: str) -> SlackTask | None:
        """The task as the database has it now (another process may have moved it on)."""
        t = self._t("slack_task")
        with self.store.engine.connect() as conn:
            r = conn.execute(select(t).where(and_(t.c.task_id == task_id, t.c.shop == self.shop))).first()
        if r is None:
            return None
        fresh = SlackTask.from_row(dict(r._mapping))
        with self.lock:
            if fresh.status == "open":
                known = self.tasks.get(task_id)
                if known is not None and known.stage == fresh.stage:  # keep what memory knows better
                    fresh.cash_expected = known.cash_expected
                self.tasks[task_id] = fresh
            else:
                self.tasks.pop(task_id, None)
        return fresh

    def move_task(self, task: SlackTask, *, status: str, stage: str = "", user: str, now: datetime,
                  events: list[Event], **changes: Any) -> SlackTask | None:
        """Claim: move the task on from the status and stage `task` has, writing `changes` and the
        events it produced with it. None if someone else moved it first (nothing is written)."""
        moved = replace(task, status=status, stage=stage, done_by=user, **changes)
        t = self._t("slack_task")
        with self.lock, self.store.engine.begin() as conn:  # write first: the claim takes the write lock
            result = conn.execute(t.update().where(and_(
                t.c.task_id == task.task_id, t.c.status == task.status, t.c.stage == task.stage)).values(
                status=status, stage=stage, done_by=user, updated_at=now, payload_json=moved.payload()))
            if result.rowcount != 1:
                return None
            prior = conn.execute(select(t.c.outbox_json).where(t.c.task_id == task.task_id)).scalar() or "[]"
            conn.execute(t.update().where(t.c.task_id == task.task_id).values(
                outbox_json=outbox.encode([*outbox.decode(prior), *events])))
            if status == "open":
                self.tasks[task.task_id] = moved
            else:
                self.tasks.pop(task.task_id, None)
        return moved

    def add_record(self, task: SlackTask, *, now: datetime, user: str, events: list[Event]) -> bool:
        """What ops did without a task (hardware_adapters/slack/records.py), written once as a done row
        with the events it produced (the outbox); False if a row with its id exists already."""
        t = self._t("slack_task")
        with self.lock, self.store.engine.begin() as conn:
            if conn.execute(select(t.c.task_id).where(t.c.task_id == task.task_id)).first() is not None:
                return False
            conn.execute(t.insert(), [{
                "task_id": task.task_id, "shop": self.shop, "kind": task.kind, "machine": task.machine,
                "status": task.status, "stage": task.stage, "channel": task.channel, "ts": task.ts,
                "created_at": now, "updated_at": now, "done_by": user, "payload_json": task.payload(),
                "outbox_json": outbox.encode(events)}])
        return True

    def open_tasks(self) -> list[SlackTask]:
        with self.lock:
            return [t for t in self.tasks.values() if t.status == "open"]

    # --- approvals ---------------------------------------------------------------------------
    def add_approval(self, a: SlackApproval, *, now: datetime) -> None:
        with self.lock, self.store.engine.begin() as conn:
            conn.execute(self._t("slack_approval").insert(), [{
                "approval_id": a.approval_id, "shop": self.shop, "subject": a.subject,
                "amount_cents": a.amount_cents, "summary": a.summary, "beneficiary": a.beneficiary,
                "status": a.status, "channel": a.channel, "ts": a.ts, "created_at": now, "decided_at": None,
                "decided_by": "", "outbox_json": "[]"}])
            self.approvals[a.approval_id] = a

    def decide(self, a: SlackApproval, *, status: str, user: str, now: datetime, events: list[Event]) -> bool:
        t = self._t("slack_approval")
        with self.lock, self.store.engine.begin() as conn:
            result = conn.execute(t.update().where(and_(
                t.c.approval_id == a.approval_id, t.c.status == "pending")).values(
                status=status, decided_by=user, decided_at=now, outbox_json=outbox.encode(events)))
            if result.rowcount != 1:
                self.approvals.pop(a.approval_id, None)
                return False
            a.status, a.decided_by = status, user
            self.approvals.pop(a.approval_id, None)
        return True

    # --- relays and quotes ---------------------------------------------------------------------
    def add_relay(self, r: SupplierRelay, *, now: datetime) -> None:
        with self.lock, self.store.engine.begin() as conn:
            conn.execute(self._t("slack_relay").insert(), [{
                "relay_id": r.relay_id, "shop": self.shop, "supplier": r.supplier, "text": r.text,
                "channel": r.channel, "ts": r.ts, "created_at": now}])
            self.relays[r.relay_id] = r

    def relay_by_ts(self, channel: str, ts: str) -> SupplierRelay | None:
        with self.lock:
            return next((r for r in self.relays.values() if r.channel == channel and r.ts == ts), None)

    def add_quote(self, q: QuoteRequest, *, now: datetime) -> None:
        with self.lock, self.store.engine.begin() as conn:
            conn.execute(self._t("slack_quote").insert(), [{
                "quote_id": q.quote_id, "shop": self.shop, "supplier": q.supplier, "status": q.status,
                "items_json": json.dumps(q.items), "lines_json": "[]", "lead_time_days": 0, "valid_until": None,
                "counter_of": q.counter_of, "channel": q.channel, "ts": q.ts, "created_at": now, "quoted_by": "",
                "outbox_json": "[]"}])
            self.quotes[q.quote_id] = q

    def fill_quote(self, q: QuoteRequest, *, quote: Quote, user: str, events: list[Event]) -> bool:
        """Claim: the supplier's answer to a requested quote is entered once."""
        t = self._t("slack_quote")
        with self.lock, self.store.engine.begin() as conn:
            result = conn.execute(t.update().where(and_(t.c.quote_id == q.quote_id, t.c.status == "requested")).values(
                status="quoted", quoted_by=user, lead_time_days=quote.lead_time_days, valid_until=quote.valid_until,
                lines_json=json.dumps([[ln.sku, ln.quantity, ln.unit_cost_cents] for ln in quote.lines]),
                outbox_json=outbox.encode(events)))
            self.quotes.pop(q.quote_id, None)
            if result.rowcount != 1:
                return False
            q.status, q.quoted_by = "quoted", user
        return True

    def quoted(self, quote_id: str) -> Quote | None:
        """A quote ops entered (from the database: it may predate this process)."""
        t = self._t("slack_quote")
        with self.store.engine.connect() as conn:
            r = conn.execute(select(t).where(and_(t.c.quote_id == quote_id, t.c.shop == self.shop,
                                                  t.c.status == "quoted"))).first()
        if r is None or r.valid_until is None:
            return None
        return Quote(quote_id=r.quote_id, supplier=r.supplier, lead_time_days=r.lead_time_days,
                     valid_until=r.valid_until, lines=tuple(QuoteLine(sku=s, quantity=n, unit_cost_cents=u)
                                                           for s, n, u in json.loads(r.lines_json)))

    def purchase_for(self, quote_id: str) -> SlackTask | None:
        """The purchase task already placed for a quote, if any (place_order is idempotent)."""
        t = self._t("slack_task")
        with self.store.engine.connect() as conn:
            for r in conn.execute(select(t).where(and_(t.c.shop == self.shop, t.c.kind == "purchase"))):
                task = SlackTask.from_row(dict(r._mapping))
                if task.quote is not None and task.quote.quote_id == quote_id:
                    return task
        return None
