"""Stand-ins for ports a live shop has not wired: each refuses with a tool error that says what to
configure, so the shopkeeper learns it cannot do that here (and nothing pretends to succeed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.domain import OrderReceipt, QuoteRequested, RestockLine, SupplierInfo, TaskReceipt
from bridge.errors import ToolError
from bridge.ports import Balance, PaymentLink
from bridge.runtime import RunLimits

log = logging.getLogger("vendbridge.live")

# A live shop runs until it is stopped: no day or message cap, and bankruptcy is an alert, not an end.
LIVE_LIMITS = RunLimits(days=10**9, max_messages=10**15, bankruptcy_days=10**9)


class NoPayments:
    """Payments when no [stripe] section is configured."""

    def balance(self) -> Balance:
        raise ToolError("card payments are not configured in this shop ([stripe] in the live config)")

    def create_payment_link(self, *, order_ref: str, amount_cents: int, description: str,
                            customer: str) -> PaymentLink:
        raise ToolError("payment links need Stripe, which this shop has not configured")

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        raise ToolError("refunds need Stripe, which this shop has not configured")


class OpsProcurement:
    """Live purchasing is done by ops: the shopkeeper asks in chat (send_message) or for approval;
    there is no supplier directory to quote from."""

    def suppliers(self) -> Sequence[SupplierInfo]:
        return ()

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        raise ToolError("no supplier directory live: ask the ops staff to buy stock (send_message)")

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        raise ToolError("no supplier quotes live: ask the ops staff")

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        raise ToolError("no supplier quotes live: ask the ops staff")


class NoPhysicalWork:
    """Physical work when no [slack] section is configured: nobody can be asked."""

    def request_restock(self, *, machine: str, lines: Sequence[RestockLine], note: str = "") -> TaskReceipt:
        raise ToolError("nobody can be asked to restock: Slack is not configured ([slack])")

    def request_cash_collection(self, *, machine: str) -> TaskReceipt:
        raise ToolError("nobody can be asked to collect cash: Slack is not configured ([slack])")

    def request_handover(self, *, sku: str, quantity: int, customer: str, payment_ref: str,
                         amount_cents: int) -> TaskReceipt:
        raise ToolError("nobody can be asked to hand goods over: Slack is not configured ([slack])")


class NoChat:
    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        raise ToolError("nobody can be messaged: Slack is not configured ([slack])")


class NoApprovals:
    """Approvals when no [slack] section is configured: no person with the ops role can be asked, so
    nothing above the guardrails' limits can be approved."""

    def request_approval(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str = "") -> str:
        raise ToolError("nobody can approve: Slack is not configured ([slack]), so stay within the guardrails")


def day_logger(record: Any) -> None:
    log.info("day closed", extra={"day": record.day, "units_sold": record.units_sold,
                                  "revenue_cents": record.revenue_cents, "net_worth_cents": record.net_worth_cents})
