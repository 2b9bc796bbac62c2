"""Tables of the store (sqlmodel). SQLite by default, any SQLAlchemy URL (Postgres) by setting.

Times are stored in UTC and come back timezone-aware; money is integer cents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware in, timezone-aware (UTC) out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ts_field(**kw: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=kw.pop("nullable", False), **kw))


class RunInfo(SQLModel, table=True):
    __tablename__ = "run_info"
    run_id: str = Field(primary_key=True)
    shop: str
    started_at: datetime = ts_field()
    mode: str  # "sim" or "live"
    scenario: str = ""
    policy: str = ""
    seed: int = 0
    settings_json: str = "{}"


class ProcessedEvent(SQLModel, table=True):
    """The idempotency table and event journal: an event id is recorded once."""

    __tablename__ = "processed_event"
    event_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    kind: str
    ts: datetime = ts_field()


class LedgerLine(SQLModel, table=True):
    """Double entry: each line debits one account and credits another by the same amount."""

    __tablename__ = "ledger_line"
    __table_args__ = (Index("ix_ledger_shop_ts", "shop", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True)
    shop: str
    ts: datetime = ts_field()
    debit: str
    credit: str
    amount_cents: int
    sku: str | None = None
    units: int = 0
    memo: str = ""


class InventoryLot(SQLModel, table=True):
    """Goods received at one cost; consumed first in, first out."""

    __tablename__ = "inventory_lot"
    lot_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    sku: str
    received_at: datetime = ts_field()
    qty_received: int
    qty_remaining: int
    unit_cost_cents: int
    order_id: str = ""


class StockLevel(SQLModel, table=True):
    """Units of a sku at a location ("storage" or "m1:A1"), as the records have it."""

    __tablename__ = "stock_level"
    shop: str = Field(primary_key=True)
    location: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    count: int


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"
    order_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    supplier: str
    status: str
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    expected_at: datetime | None = ts_field(nullable=True)
    total_cents: int
    received_cents: int = 0
    lines_json: str = "[]"


class Task(SQLModel, table=True):
    """Physical work asked of a person or the simulated restocker."""

    __tablename__ = "task"
    task_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    kind: str
    status: str
    created_at: datetime = ts_field()
    done_at: datetime | None = ts_field(nullable=True)
    payload_json: str = "{}"


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_message"
    __table_args__ = (UniqueConstraint("shop", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: str
    shop: str
    ts: datetime = ts_field()
    conversation: str = Field(index=True)
    sender: str
    role: str
    direction: str  # "in" or "out"
    text: str
    thread: str = ""


class AuditLog(SQLModel, table=True):
    """Every tool call: arguments, result, guardrail verdict, tokens."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_shop_ts", "shop", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    shop: str
    run_id: str
    seq: int
    ts: datetime = ts_field()
    tool: str
    kind: str  # "read" or "write"
    args_json: str
    ok: bool
    result_json: str
    verdict: str  # "allowed", "refused:<rule>", "approval:<rule>", "shadow", "n/a"
    idempotency_key: str = ""
    input_tokens: int = 0
    output_tokens: int = 0


class DeadLetter(SQLModel, table=True):
    """Input that did not parse or validate, kept with the reason. It never stops the bridge."""

    __tablename__ = "dead_letter"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = ts_field()
    source: str
    topic: str = ""
    reason: str
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DayClose(SQLModel, table=True):
    """The books at each day's close: the figures reports and charts are drawn from."""

    __tablename__ = "day_close"
    shop: str = Field(primary_key=True)
    day: str = Field(primary_key=True)  # ISO date in the shop's timezone
    ts: datetime = ts_field()
    bank_cents: int
    card_pending_cents: int
    machine_cash_cents: int
    inventory_value_cents: int
    prepaid_cents: int
    net_worth_cents: int
    units_sold: int
    revenue_cents: int
    units_sold_total: int
    tool_calls: int


class MachineRow(SQLModel, table=True):
    """A live machine as its telemetry has it: online state and the latest readings."""

    __tablename__ = "machine"
    machine_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    online: bool = False
    status_at: datetime | None = ts_field(nullable=True)
    last_seen_at: datetime | None = ts_field(nullable=True)
    door_open: bool = False
    temperature_c: float | None = None
    temperature_at: datetime | None = ts_field(nullable=True)
    cash_cents: int = 0  # the cash box as the machine's telemetry has it (cash vends, less its collections)


class SlotTelemetry(SQLModel, table=True):
    """Per-slot count and price: set by each inventory snapshot, moved by vends and restocks after it."""

    __tablename__ = "slot_telemetry"
    machine_id: str = Field(primary_key=True)
    slot: str = Field(primary_key=True)
    shop: str = Field(index=True)
    count: int
    price_cents: int
    snapshot_at: datetime = ts_field()
    updated_at: datetime = ts_field()


class SlotProduct(SQLModel, table=True):
    """A change of what a live slot holds (bridge/live/slots.py): from `since` on, product `sku` and
    `capacity` (0: the machine's configured one), as a device's report or a person's restock said.
    Append-only; the config's planogram is the state before the first row."""

    __tablename__ = "slot_product"
    __table_args__ = (Index("ix_slot_product_shop", "shop"),)
    id: int | None = Field(default=None, primary_key=True)
    shop: str
    machine_id: str
    slot: str
    sku: str
    capacity: int = 0
    since: datetime = ts_field()
    event_id: str = ""


class MemoryScratchpad(SQLModel, table=True):
    """The LLM shopkeeper's scratchpad: one free text per shop, rewritten as it likes."""

    __tablename__ = "memory_scratchpad"
    shop: str = Field(primary_key=True)
    text: str = ""
    updated_at: datetime = ts_field()


class MemoryKv(SQLModel, table=True):
    """The LLM shopkeeper's key-value memory."""

    __tablename__ = "memory_kv"
    shop: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    value: str
    updated_at: datetime = ts_field()


class MemoryNote(SQLModel, table=True):
    """The LLM shopkeeper's notes, searched by relevance (SQLite FTS5; a word score elsewhere)."""

    __tablename__ = "memory_note"
    id: int | None = Field(default=None, primary_key=True)
    shop: str = Field(index=True)
    ts: datetime = ts_field()
    text: str
    tags: str = ""


class ApprovalDecision(SQLModel, table=True):
    """A decision a person with the approver role made (ApprovalDecided), as the books keep it: the
    guardrails accept an approval id only if it is here or was decided in this process."""

    __tablename__ = "approval_decision"
    approval_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    subject: str
    approved: bool
    approver: str
    amount_cents: int
    ts: datetime = ts_field()
    event_id: str


class SlackTaskRow(SQLModel, table=True):
    """A task posted to the ops channel (restock, cash collection, purchase). The row is the claim:
    a confirmation changes it only from the state it saw (one UPDATE), so a task completes once
    across processes; `outbox_json` holds the events its confirmations produced, re-sent after a
    restart until the books have them."""

    __tablename__ = "slack_task"
    task_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    kind: str  # "restock", "collect_cash", "purchase"
    machine: str = ""
    status: str  # "open", "done", "failed"
    stage: str = ""  # purchases: "ordered", then "paid"
    channel: str = ""
    ts: str = ""
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    done_by: str = ""
    payload_json: str = "{}"
    outbox_json: str = "[]"


class SlackApprovalRow(SQLModel, table=True):
    """An approval asked in the ops channel, and its decision (claimed like a task)."""

    __tablename__ = "slack_approval"
    approval_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    subject: str
    amount_cents: int
    summary: str = ""
    beneficiary: str = ""
    status: str  # "pending", "approved", "rejected"
    channel: str = ""
    ts: str = ""
    created_at: datetime = ts_field()
    decided_at: datetime | None = ts_field(nullable=True)
    decided_by: str = ""
    outbox_json: str = "[]"


class SlackRelayRow(SQLModel, table=True):
    """A message to a supplier posted for ops to send; their reply comes back in its thread."""

    __tablename__ = "slack_relay"
    relay_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    supplier: str
    text: str
    channel: str = ""
    ts: str = ""
    created_at: datetime = ts_field()


class SlackQuoteRow(SQLModel, table=True):
    """A quote asked of a supplier through ops; filled in (once) when ops enter the supplier's answer."""

    __tablename__ = "slack_quote"
    quote_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    supplier: str
    status: str  # "requested", "quoted"
    items_json: str = "{}"  # sku -> units asked
    lines_json: str = "[]"  # [[sku, quantity, unit_cost_cents], ...] once quoted
    lead_time_days: int = 0
    valid_until: datetime | None = ts_field(nullable=True)
    counter_of: str = ""  # the quote a counter-offer answers
    channel: str = ""
    ts: str = ""
    created_at: datetime = ts_field()
    quoted_by: str = ""
    outbox_json: str = "[]"
class SlackInbox(SQLModel, table=True):
    """What people wrote to the shop in Slack (a customer's DM, a mention, a supplier's reply pasted by
    ops), kept (in its own transaction) before Slack gets its 200: a process stopped before the books
    commit the message queues it again at its next start (hardware_adapters/slack/board.py `unrecorded`)."""

    __tablename__ = "slack_inbox"
    event_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    received_at: datetime = ts_field()
    events_json: str  # the events it became (hardware_adapters/slack/outbox.py encoding)


class StripeInbox(SQLModel, table=True):
    """Verified Stripe webhook deliveries, kept (in their own transaction) before Stripe gets its 200; the
    core books them and marks `booked_at` in the same transaction as their ledger lines, so a crash after
    the 200 loses nothing: a restart books what is still unbooked (once: the ledger is idempotent)."""

    __tablename__ = "stripe_inbox"
    stripe_event_id: str = Field(primary_key=True)
    shop: str = Field(index=True)
    type: str
    received_at: datetime = ts_field()
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # the verified body, as signed
    events_json: str  # the project events it became (bridge.events to_json), booked by the core
    booked_at: datetime | None = ts_field(nullable=True)
class WorldAction(SQLModel, table=True):
    """What the live ingest saw done in the world, whoever did it: restocks, cash collections, price
    changes (a slot's price differing from the last one seen), supplier payments and deliveries, refunds.
    `vend shadow-report` compares these with what a shadow shopkeeper would have done."""

    __tablename__ = "world_action"
    __table_args__ = (Index("ix_world_action_shop_ts", "shop", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True)
    shop: str
    ts: datetime = ts_field()
    kind: str  # restock, collect_cash, set_price, place_order, refund
    machine: str = ""
    slot: str = ""
    sku: str = ""
    count: int = 0
    amount_cents: int = 0  # cash collected, price set, order paid, refund
    previous_cents: int | None = None  # set_price: the price before
    ref: str = ""  # order id, payment ref, task id


class RuntimeState(SQLModel, table=True):
    """What a shop's runtime holds in memory between two jobs, saved after each job (bridge/resume.py) so
    a restarted process carries on as if it had not stopped: the last job run (the schedule goes on after
    it), the run's outcome so far, the toolbox's counts and audit sequence, and the shopkeeper's and the
    tool groups' memory (pickled, with the process's wiring by name; the store is the shop's own)."""

    __tablename__ = "runtime_state"
    shop: str = Field(primary_key=True)
    run_id: str
    updated_at: datetime = ts_field()
    state_json: str = "{}"
    memory: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
