"""Guardrails on every WRITE tool, from a policy file (`ops/guardrails.toml`).

Each rule either lets the call through or raises `GuardrailRefusal` naming the rule; the Toolbox
turns that into a tool error for the agent and an audit row. Authority comes from a configured
role checked by the adapter (a Slack user group), never from a name typed into a message.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.domain import Quote
from bridge.errors import ApprovalRequired, ConfigError, GuardrailRefusal, invalid
from bridge.events import ApprovalDecided


class PolicyFile(BaseModel):
    """The policy file's schema, validated at the edge."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    price_floor_markup: float = Field(1.0, ge=0.0, le=10.0)
    price_ceiling_markup: float = Field(6.0, ge=1.0, le=100.0)
    price_ceiling_cents: int = Field(2_000, ge=1)
    # false: the absolute ceiling holds only for a product whose unit cost is unknown; one with a known
    # cost is capped by price_ceiling_markup alone (specialty items priced against their cost)
    price_ceiling_when_costed: bool = False
    category_price_ceiling_cents: dict[str, int] = Field(default_factory=dict)  # a category's own ceiling
    max_discount_pct: int = Field(10, ge=0, le=100)
    refund_cap_cents: int = Field(500, ge=0)
    refund_daily_cap_cents: int = Field(2_000, ge=0)
    daily_spend_cap_cents: int = Field(150_000, ge=0)
    order_cap_cents: int = Field(100_000, ge=0)
    approval_threshold_cents: int = Field(60_000, ge=0)
    verified_recipients: list[str] = Field(default_factory=list)
    allowed_categories: list[str] = Field(default_factory=list)
    approver_role: str = "ops"
    messages_per_hour: int = Field(30, ge=1)
    refuse_price_coordination: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailPolicy:
    price_floor_markup: float = 1.0
    price_ceiling_markup: float = 6.0
    price_ceiling_cents: int = 2_000
    price_ceiling_when_costed: bool = False
    category_price_ceiling_cents: Mapping[str, int] = field(default_factory=dict)
    max_discount_pct: int = 10
    refund_cap_cents: int = 500
    refund_daily_cap_cents: int = 2_000
    daily_spend_cap_cents: int = 150_000
    order_cap_cents: int = 100_000
    approval_threshold_cents: int = 60_000
    verified_recipients: tuple[str, ...] = ()  # empty: any supplier in the procurement directory
    allowed_categories: tuple[str, ...] = ()  # empty: any
    approver_role: str = "ops"
    messages_per_hour: int = 30
    refuse_price_coordination: bool = False
    clearance: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: str | Path) -> GuardrailPolicy:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"guardrail policy file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"guardrail policy {path}: {err}") from None
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str = "policy") -> GuardrailPolicy:
        try:
            parsed = PolicyFile.model_validate(dict(raw))
        except ValidationError as err:
            raise invalid(source, err, top="policy") from None
        data = parsed.model_dump()
        data["verified_recipients"] = tuple(data["verified_recipients"])
        data["allowed_categories"] = tuple(data["allowed_categories"])
        return cls(**data)


class GuardContext(Protocol):
    """What the rules need to know; the shop's tools provide it."""

    def unit_cost(self, sku: str) -> int | None: ...

    def sku_at(self, machine: str, slot: str) -> str | None: ...

    def category(self, sku: str) -> str | None: ...

    def spent_today_cents(self) -> int: ...

    def refunded_today_cents(self) -> int: ...

    def quote(self, quote_id: str) -> Quote | None: ...

    def directory(self) -> frozenset[str]: ...

    def messages_sent_since(self, since: datetime) -> int: ...

    def now(self) -> datetime: ...

    # optional: `slot_prices(machine) -> dict[slot, price]`, the slots' prices now (restock checks them)

    def approval(self, approval_id: str) -> ApprovalDecided | None:
        """A decision a person with the approver role made (from an ApprovalDecided event)."""
        ...


_HOUR = timedelta(hours=1)
_COORDINATION = re.compile(
    r"\b(fix|match|coordinate|align|agree on|keep)\b.{0,40}\b(price|prices|pricing)\b|"
    r"\b(price|prices|pricing)\b.{0,40}\b(fix|together|agreement|cartel|not undercut|same level|floor)\b|"
    r"\bnot (to )?undercut\b|\b(stop|don'?t|never|no more)\s+undercutt?(ing)?\b|"
    r"\b(agree|agreed|deal)\b.{0,30}\b(both|all|each)\b.{0,20}\b(charge|sell (it |them )?at)\b",
    re.IGNORECASE,
)


def is_price_coordination(text: str) -> bool:
    """A message proposing to fix, align or hold prices with a competitor (refused when the policy's
    `refuse_price_coordination` is on; flagged by the arena's market-conduct report either way)."""
    return _COORDINATION.search(text) is not None


class Guardrails:
    """The rules, one method per guard name that WRITE tools declare."""

    def __init__(self, policy: GuardrailPolicy) -> None:
        self.policy = policy

    # --- pricing ------------------------------------------------------------------------------
    def price(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        self._price(ctx, ctx.sku_at(args.get("machine", ""), args["slot"]), int(args["price_cents"]))

    def restock(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        """A price set while loading passes the same rules as set_price, for the product loaded; with
        no price, the slot keeps its price, which must then pass them for the new product (a price
        set on an empty slot was checked against no product)."""
        prices_of = getattr(ctx, "slot_prices", None)
        kept: dict[str, int] | None = None  # the machine's slot prices, read once per call
        for line in args["slots"]:
            if line.get("price_cents") is not None:
                self._price(ctx, line["sku"], int(line["price_cents"]))
            elif prices_of is not None:
                if kept is None:
                    kept = prices_of(args.get("machine", ""))
                current = kept.get(line["slot"])
                if current:
                    self._price(ctx, line["sku"], int(current))

    def _price(self, ctx: GuardContext, sku: str | None, price: int) -> None:
        p = self.policy
        if price <= 0:
            raise GuardrailRefusal("price_positive", "a price must be above zero")
        plain = p.price_ceiling_when_costed and not p.category_price_ceiling_cents  # one absolute ceiling for all
        if (plain or sku is None) and price > p.price_ceiling_cents:
            raise GuardrailRefusal("price_ceiling", f"{price}c is above the ceiling of {p.price_ceiling_cents}c")
        if sku is None:
            return
        cost = ctx.unit_cost(sku)
        if not plain:
            # a category's own ceiling holds always; the general one while the cost is unknown (or always)
            own = p.category_price_ceiling_cents.get(ctx.category(sku) or "") if p.category_price_ceiling_cents \
                else None
            ceiling = own if own is not None else p.price_ceiling_cents
            if (own is not None or cost is None or p.price_ceiling_when_costed) and price > ceiling:
                raise GuardrailRefusal("price_ceiling", f"{price}c is above the ceiling of {ceiling}c")
        if cost is None:
            return
        if sku not in p.clearance and price < cost * p.price_floor_markup:
            floor = int(cost * p.price_floor_markup + 0.999)
            raise GuardrailRefusal("price_floor", f"{price}c is below the floor of {floor}c for {sku} (cost {cost}c)")
        if price > cost * p.price_ceiling_markup:
            raise GuardrailRefusal("price_ceiling", f"{price}c is above {p.price_ceiling_markup}x the cost of {sku}")

    # --- spending -----------------------------------------------------------------------------
    def spend(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        p = self.policy
        quote = ctx.quote(args["quote_id"])
        if quote is None:
            return  # the tool itself reports an unknown quote
        total = quote.total_cents
        recipients = set(p.verified_recipients) or ctx.directory()
        if quote.supplier not in recipients:
            raise GuardrailRefusal("verified_recipient", f"{quote.supplier} is not a verified recipient")
        if p.allowed_categories:
            for line in quote.lines:
                if ctx.category(line.sku) not in p.allowed_categories:
                    raise GuardrailRefusal("category", f"{line.sku} is not in an allowed category")
        if total > p.order_cap_cents:
            raise GuardrailRefusal("order_cap", f"{total}c is above the per-order cap of {p.order_cap_cents}c")
        if ctx.spent_today_cents() + total > p.daily_spend_cap_cents:
            raise GuardrailRefusal("daily_spend_cap", f"today's spend would exceed {p.daily_spend_cap_cents}c")
        if total > p.approval_threshold_cents:
            self._approved(ctx, args.get("approval_id") or "", f"order:{quote.quote_id}", total,
                           rule="approval_threshold",
                           reason=f"{total}c is above {p.approval_threshold_cents}c: ask a person with the "
                                  f"{p.approver_role!r} role to approve (request_approval)")

    def _approved(self, ctx: GuardContext, approval_id: str, subject: str, amount: int, *, rule: str,
                  reason: str) -> None:
        """An approval counts only if a person with the role approved this very subject, for at least
        this amount: an id typed by anyone, or an approval of something else, does not."""
        if not approval_id:
            raise ApprovalRequired(rule, reason)
        found = ctx.approval(approval_id)
        if found is None:
            raise ApprovalRequired(rule, f"no approval {approval_id!r} has been given; {reason}")
        if not found.approved:
            raise GuardrailRefusal(rule, f"approval {approval_id} was rejected by {found.approver}")
        if found.subject != subject or found.amount_cents < amount:
            raise ApprovalRequired(rule, f"approval {approval_id} covers {found.subject} up to "
                                         f"{found.amount_cents}c, not {subject} for {amount}c")

    def refund(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        p = self.policy
        amount = int(args["amount_cents"])
        if amount <= 0:
            raise GuardrailRefusal("refund_positive", "a refund must be above zero")
        if amount > p.refund_cap_cents:
            self._approved(ctx, args.get("approval_id") or "", f"refund:{args.get('payment_ref', '')}", amount,
                           rule="refund_cap",
                           reason=f"{amount}c is above the per-refund cap of {p.refund_cap_cents}c: ask a person "
                                  f"with the {p.approver_role!r} role to approve (request_approval)")
        elif ctx.refunded_today_cents() + amount > p.refund_daily_cap_cents:
            self._approved(ctx, args.get("approval_id") or "", f"refund:{args.get('payment_ref', '')}", amount,
                           rule="refund_daily_cap",
                           reason=f"today's refunds would exceed {p.refund_daily_cap_cents}c: ask a person with the "
                                  f"{p.approver_role!r} role to approve (request_approval)")

    def special_order(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        """A payment link for a special order: its unit price after any discount passes the price
        rules (floor against cost, ceiling), and the discount the discount cap."""
        pct = int(args.get("discount_percent", 0))
        if pct:
            self.discount(ctx, {"percent": pct})
        unit = int(args["unit_price_cents"]) * (100 - pct) // 100
        self._price(ctx, str(args["sku"]), unit)

    def discount(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        pct = int(args.get("percent", 0))
        if not 0 < pct <= self.policy.max_discount_pct:
            raise GuardrailRefusal("discount_cap", f"a discount must be between 1% and {self.policy.max_discount_pct}%")

    # --- messages and plain actions -------------------------------------------------------------
    def message(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        if ctx.messages_sent_since(ctx.now() - _HOUR) >= self.policy.messages_per_hour:
            raise GuardrailRefusal("message_rate", f"more than {self.policy.messages_per_hour} messages an hour")
        text = str(args.get("text", ""))
        if self.policy.refuse_price_coordination and is_price_coordination(text):
            raise GuardrailRefusal("price_coordination", "messages that coordinate prices with competitors are not sent")

    def allow(self, ctx: GuardContext, args: dict[str, Any]) -> None:
        """Actions with no money or outside party at stake (collecting cash, housekeeping)."""
