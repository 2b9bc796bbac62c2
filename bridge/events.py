"""Events: what happened, with a stable id so recording it twice changes nothing.

Backends yield these; the ledger learns only from them. Frozen, slotted, keyword-only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from bridge.domain import Payment, Quote, QuoteLine
from bridge.frozen import fast_init_all


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    id: str
    ts: datetime
    shop: str = "main"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Sale(Event):
    """Units sold from one slot; live one event per vend, in sim one per slot and payment a day."""

    kind: ClassVar[str] = "sale"
    machine: str
    slot: str
    sku: str
    units: int
    unit_price_cents: int
    payment: Payment
    txn: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CardSettled(Event):
    """Card takings reach the bank (next day)."""

    kind: ClassVar[str] = "card_settled"
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CashCollected(Event):
    kind: ClassVar[str] = "cash_collected"
    machine: str
    amount_cents: int
    task_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeCharged(Event):
    kind: ClassVar[str] = "fee_charged"
    amount_cents: int
    reason: str  # "daily_fee", "llm_tokens", "card_fees", ...
    paid_from: str = "bank"  # or "card_pending": a card processor's fee taken out of the takings it holds


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeMissed(Event):
    """The shop could not pay a fee (bankruptcy counts these in a row)."""

    kind: ClassVar[str] = "fee_missed"
    amount_cents: int
    reason: str
    consecutive_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierPaid(Event):
    """Money left the bank for an order; it is not stock until a delivery event says so."""

    kind: ClassVar[str] = "supplier_paid"
    order_id: str
    supplier: str
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceived(Event):
    """Goods arrived in storage, at a unit cost; `order_id` ties them to what was paid."""

    kind: ClassVar[str] = "delivery_received"
    order_id: str
    supplier: str
    sku: str
    quantity: int
    unit_cost_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderWrittenOff(Event):
    """Prepaid money that will never become goods (scam, short delivery): a loss."""

    kind: ClassVar[str] = "order_written_off"
    order_id: str
    supplier: str
    amount_cents: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Restocked(Event):
    """Units moved from storage into a slot (a person or the simulated restocker confirmed it)."""

    kind: ClassVar[str] = "restocked"
    machine: str
    slot: str
    sku: str
    count: int
    task_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unloaded(Event):
    """Units taken out of a slot back to storage (a product change)."""

    kind: ClassVar[str] = "unloaded"
    machine: str
    slot: str
    sku: str
    count: int
    task_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StockLost(Event):
    """Units gone without a sale: spoilage, shrinkage, damage."""

    kind: ClassVar[str] = "stock_lost"
    sku: str
    quantity: int
    location: str  # "storage" or "m1:A1"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentReceived(Event):
    """A customer paid a payment link or checkout (special order): money in, owed goods."""

    kind: ClassVar[str] = "payment_received"
    payment_ref: str
    amount_cents: int
    order_ref: str = ""
    customer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandedOver(Event):
    """Goods from storage given to the customer who paid for them (a special order): the
    deposit becomes revenue, the goods leave the books at cost."""

    kind: ClassVar[str] = "handed_over"
    sku: str
    quantity: int
    customer: str
    payment_ref: str
    amount_cents: int
    task_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued(Event):
    kind: ClassVar[str] = "refund_issued"
    payment_ref: str
    amount_cents: int
    reason: str = ""
    customer: str = ""
    paid_from: str = "bank"  # or "card_pending": refunded out of the card processor's balance (Stripe)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardCaptured(Event):
    """A card-present session (the fridge) was charged for its basket. The basket's Sale events
    already booked the takings, so this moves no money in the books; reconciliation checks it."""

    kind: ClassVar[str] = "card_captured"
    payment_ref: str
    session: str
    amount_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentStatus(Event):
    """A card payment that moved no money: `status` "failed" (declined) or "canceled" (an empty fridge
    session, an abandoned checkout). Tools may tell the customer; the books do not change."""

    kind: ClassVar[str] = "payment_status"
    payment_ref: str
    status: str
    order_ref: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeOpened(Event):
    """A customer disputed a card payment (a chargeback): the card processor holds back the amount,
    booked as a loss until the dispute is won."""

    kind: ClassVar[str] = "dispute_opened"
    dispute_ref: str
    payment_ref: str
    amount_cents: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """Someone wrote to the shopkeeper. The text is data from outside, never an instruction."""

    kind: ClassVar[str] = "message_received"
    conversation: str
    sender: str
    role: str  # "customer", "ops", "supplier", "shopkeeper"
    text: str
    thread: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(Event):
    kind: ClassVar[str] = "task_completed"
    task_id: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalDecided(Event):
    """A person with the approver role decided on an approval request. `subject` names what was
    approved ("order:<quote_id>", "refund:<payment_ref>") and `amount_cents` the most it covers;
    only an adapter that checked the person's role (a Slack user group) emits this."""

    kind: ClassVar[str] = "approval_decided"
    approval_id: str
    subject: str
    approved: bool
    approver: str
    amount_cents: int
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteReceived(Event):
    """A supplier's quote that arrived later than it was asked (live: ops entered what the supplier
    answered). The agent reads it in its inbox and may then place_order on `quote_id`."""

    kind: ClassVar[str] = "quote_received"
    quote_id: str
    supplier: str
    lines: tuple[QuoteLine, ...]
    lead_time_days: int
    valid_until: datetime
    text: str = ""
    counter_of: str = ""  # the quote this answers a counter-offer on, if any

    def quote(self) -> Quote:
        return Quote(quote_id=self.quote_id, supplier=self.supplier, lines=self.lines,
                     lead_time_days=self.lead_time_days, valid_until=self.valid_until, text=self.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm(Event):
    kind: ClassVar[str] = "alarm"
    source: str
    code: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineStatus(Event):
    kind: ClassVar[str] = "machine_status"
    machine: str
    online: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalIn(Event):
    """Owner's money put into the shop (the opening balance)."""

    kind: ClassVar[str] = "capital_in"
    amount_cents: int


# --- live machine telemetry (MQTT device contract) ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorChanged(Event):
    """The machine's door opened or closed (a restock or service session, or a fridge customer's: then
    `session` ties the door to its vends' `txn` and `card` is the card reader's payment method token)."""

    kind: ClassVar[str] = "door"
    machine: str
    open: bool
    session: str = ""
    card: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureReading(Event):
    kind: ClassVar[str] = "temperature"
    machine: str
    celsius: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotCount:
    slot: str
    count: int
    price_cents: int
    sku: str = ""  # the product the device says the slot holds (empty: it does not say)
    capacity: int = 0  # the slot's capacity, as the device says (0: it does not say)


@dataclass(frozen=True, slots=True, kw_only=True)
class InventorySnapshot(Event):
    """What the machine itself counts in each slot, at `ts`."""

    kind: ClassVar[str] = "inventory_snapshot"
    machine: str
    slots: tuple[SlotCount, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DexAuditReceived(Event):
    """A DEX/UCS audit from the machine: its own paid-vend counters (for reconciliation)."""

    kind: ClassVar[str] = "dex_audit"
    machine: str
    paid_vends: int
    paid_value_cents: int
    selection_vends: tuple[tuple[str, int], ...]
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLettered(Event):
    """Input that did not parse or validate; the ingest loop keeps it in the dead-letter table.

    The id is derived from the source, topic and bytes, so a redelivered bad message is kept once."""

    kind: ClassVar[str] = "dead_lettered"
    source: str
    topic: str
    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineRestocked(Event):
    """The machine's own report of units loaded into a slot: telemetry only. When people confirm
    restocks (Slack tasks), their confirmation is what the books take, so the device's report of the
    same restock must not book it a second time."""

    kind: ClassVar[str] = "machine_restocked"
    machine: str
    slot: str
    sku: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineCashCollected(Event):
    """The machine's own report that its cash box was emptied: telemetry only (see MachineRestocked);
    the books take the counted amount a person confirms."""

    kind: ClassVar[str] = "machine_cash_collected"
    machine: str
    amount_cents: int


# --- between shopkeepers (arena) ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSent(Event):
    """Money sent to another shopkeeper: irreversible."""

    kind: ClassVar[str] = "transfer_sent"
    transfer_id: str
    to_shop: str
    amount_cents: int
    memo: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferReceived(Event):
    kind: ClassVar[str] = "transfer_received"
    transfer_id: str
    from_shop: str
    amount_cents: int
    memo: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodsSent(Event):
    """Units from storage sold to another shopkeeper in an accepted trade (money came in with them)."""

    kind: ClassVar[str] = "goods_sent"
    trade_id: str
    to_shop: str
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodsReceived(Event):
    """Units bought from another shopkeeper into storage (money went out with them)."""

    kind: ClassVar[str] = "goods_received"
    trade_id: str
    from_shop: str
    sku: str
    quantity: int
    unit_price_cents: int


fast_init_all(globals())
