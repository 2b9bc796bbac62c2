"""The ports: the Backend interface the agent core talks to, in sim and live alike.

Small Protocols named for their role. Only project types cross them: no paho, Stripe, Slack
or Anthropic objects. Adapters map vendor errors to `bridge.errors` types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bridge.domain import (
    MachineView,
    OrderReceipt,
    QuoteRequested,
    RestockLine,
    StallView,
    SupplierInfo,
    TaskReceipt,
    TradeOffer,
)
from bridge.events import Event


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware current time."""
        ...

    def spend(self, minutes: float) -> None:
        """Time an action takes. Sim: the clock moves (and the world with it); live: no-op."""
        ...


@runtime_checkable
class VirtualTime(Clock, Protocol):
    """A Clock on a virtual time line (hardware_adapters.live.VirtualClock, `vend hil`): the event source
    moves it to the next job once the adapters are quiet, and the runtime's loop fires the jobs."""

    def advance_to(self, when: datetime) -> None:
        """Let time pass to `when` (what falls due on the way happens first)."""
        ...


class Machine(Protocol):
    machine_id: str

    def view(self) -> MachineView:
        """Slots, counts, prices, cash box, online state (telemetry or sim truth)."""
        ...

    def set_price(self, slot: str, price_cents: int) -> None: ...

    def lock(self) -> None: ...

    def unlock(self) -> None: ...

    def display(self, text: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    available_cents: int  # in the bank
    pending_cents: int  # card takings not yet settled


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentLink:
    link_id: str
    url: str
    amount_cents: int
    order_ref: str


class Payments(Protocol):
    def balance(self) -> Balance: ...

    def create_payment_link(
        self, *, order_ref: str, amount_cents: int, description: str, customer: str
    ) -> PaymentLink: ...

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        """Returns the refund id; a RefundIssued event follows when it is done."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CardHold:
    """A card-present session's payment: an amount held on the card, then charged or released."""

    session: str  # the project's id for the session (the fridge's door session)
    payment_ref: str  # the card payment (a Stripe PaymentIntent id live)
    held_cents: int
    status: str  # "authorised", "captured", "canceled"
    captured_cents: int = 0


class CardSessions(Protocol):
    """Card-present fridge sessions: hold money when the door unlocks, charge the basket when it closes.

    Each call is idempotent on `session`: repeating it (after a timeout, a restart) changes nothing more."""

    def authorise(self, *, session: str, machine: str, hold_cents: int, card: str) -> CardHold:
        """Hold `hold_cents` on the presented card (`card`: the reader's payment method token); a
        declined card is a ToolError and the door stays locked."""
        ...

    def capture(self, *, session: str, payment_ref: str, amount_cents: int) -> CardHold:
        """Charge the basket (at most the held amount); 0 releases the hold (an empty session)."""
        ...

    def cancel(self, *, session: str, payment_ref: str) -> CardHold:
        """Release the hold without charging."""
        ...


class Chat(Protocol):
    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        """Send a message; returns its id."""
        ...


class Procurement(Protocol):
    """Buying from suppliers: one protocol in sim and live, only who answers differs (the supplier
    engine after a seeded e-mail delay; live, ops entering what the supplier wrote in Slack).

    - Quotes are asynchronous. `request_quote` and `counter_offer` check what they can at once (an
      unknown supplier or product, a bad quantity, a quote that does not exist: a ToolError) and return
      a `QuoteRequested` receipt; the supplier's answer arrives later as a QuoteReceived event under the
      receipt's `quote_id` (a counter-offer's answer also names the quote it was made on in
      `counter_of`). Only an answered quote can be ordered.
    - An order moves through the same states on both sides (the ledger's `OrderStatus`): `place_order`
      returns an OrderReceipt and the order is `placed`; it is `paid` when a SupplierPaid event arrives,
      the one step at which money leaves the bank (sim: the supplier charges at once, so the event comes
      right after the call; live: when ops confirm "Bought"); `delivered` or `short` as
      DeliveryReceived events arrive (goods exist only then); `lost` (never delivered) when the shop
      writes it off. Nothing is assumed from a due date.
    """

    def suppliers(self) -> Sequence[SupplierInfo]: ...

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        """Ask `supplier` for unit prices for `items` (sku -> units); the answer comes as QuoteReceived."""
        ...

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        """Ask for a better price on an answered quote; the answer is a new quote (maybe the same prices),
        a QuoteReceived with `counter_of=quote_id`."""
        ...

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        """Order an answered quote (the same key again is the same order). Paid only when SupplierPaid
        arrives; goods exist only when DeliveryReceived events arrive."""
        ...


class PhysicalWork(Protocol):
    def request_restock(self, *, machine: str, lines: Sequence[RestockLine], note: str = "") -> TaskReceipt:
        """Ask for slots to be filled from storage. Done only when confirming events arrive."""
        ...

    def request_cash_collection(self, *, machine: str) -> TaskReceipt: ...

    def request_handover(self, *, sku: str, quantity: int, customer: str, payment_ref: str,
                         amount_cents: int) -> TaskReceipt:
        """Ask for goods in storage to be taken to a customer who paid for them (a special order)."""
        ...


class Approvals(Protocol):
    def request_approval(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str = "") -> str:
        """Ask a person with the approver role to approve `subject` (up to `amount_cents`); returns the
        approval id. The decision arrives later as an ApprovalDecided event. `beneficiary` (a customer
        a refund would pay) may never approve it."""
        ...


class EventSource(Protocol):
    def drain(self) -> list[Event]:
        """Events that happened since the last call, without waiting."""
        ...

    def wait_until(self, when: datetime) -> list[Event]:
        """Let time pass until `when` (sim: jump; live: block), returning what happened."""
        ...


class Marketplace(Protocol):
    """The other shopkeepers at the same location (arena runs only): look at their machines, send
    them money, trade goods with them. Messages to them go through `Chat` (conversation "shop:<id>")."""

    def shops(self) -> Sequence[str]:
        """The other shops at the location."""
        ...

    def teammates(self) -> int:
        """How many of the other shops are teammates (not which)."""
        ...

    def look(self, shop: str) -> StallView: ...

    def send_money(self, *, to_shop: str, amount_cents: int, memo: str, idempotency_key: str) -> str:
        """Irreversible; returns the transfer id."""
        ...

    def offer(self, *, to_shop: str, side: str, sku: str, quantity: int, unit_price_cents: int,
              memo: str) -> TradeOffer: ...

    def accept(self, offer_id: str) -> TradeOffer:
        """Goods and money move together, or nothing moves (a ToolError says why)."""
        ...

    def decline(self, offer_id: str) -> TradeOffer: ...

    def offers(self) -> Sequence[TradeOffer]:
        """Open offers made to or by this shop."""
        ...


# --- LLM ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmRequest:
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    max_tokens: int
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmReply:
    content: list[dict[str, Any]]  # Messages API content blocks, as plain JSON
    stop_reason: str
    usage: LlmUsage = field(default_factory=LlmUsage)
    model: str = ""


class LLM(Protocol):
    def complete(self, request: LlmRequest) -> LlmReply: ...


# --- the bundle ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """Everything one shop's agent reaches the world through."""

    shop: str
    clock: Clock
    machines: Mapping[str, Machine]
    payments: Payments
    chat: Chat
    procurement: Procurement
    physical: PhysicalWork
    events: EventSource
    approvals: Approvals  # live: the ops group in Slack; sim: the scenario's approver persona
