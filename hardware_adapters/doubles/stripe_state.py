"""The fake Stripe account's state: objects by id, the balance ledger, events, lists.

Every amount is integer cents. Card charges settle into the balance after `settle_after`
(pending until then) with Stripe's US card fee (2.9% + 30c by default); refunds and payouts
leave the available balance at once. All access goes through `lock`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hardware_adapters.doubles.stripe_wire import (
    API_VERSION,
    IdGen,
    StripeError,
    as_int,
    bad_param,
    from_fixture,
    missing,
)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestContext:
    """The request being served, stamped on the events it causes (`event.request`)."""

    request_id: str | None = None
    idempotency_key: str | None = None


class StripeState:
    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
        settle_after: timedelta = timedelta(days=1),
        fee_rate_per_mille: int = 29,
        fee_fixed_cents: int = 30,
        currency: str = "usd",
    ) -> None:
        self.lock = threading.RLock()
        self.ids = IdGen(seed)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.settle_after = settle_after
        self.fee_rate_per_mille = fee_rate_per_mille
        self.fee_fixed_cents = fee_fixed_cents
        self.currency = currency
        self.objects: dict[str, Obj] = {}
        self.order: dict[str, list[str]] = {}
        self.line_items: dict[str, list[Obj]] = {}  # checkout session / payment link id -> items
        self.pi_data: dict[str, Obj] = {}  # checkout session id -> its payment_intent_data
        self.events: list[str] = []
        self.context = RequestContext()

    # -- time, ids, storage -------------------------------------------------------------------
    def now(self) -> int:
        return int(self._clock().timestamp())

    def new_id(self, prefix: str, length: int = 24) -> str:
        return self.ids.new(prefix, length)

    def add(self, obj: Obj) -> Obj:
        self.objects[obj["id"]] = obj
        self.order.setdefault(obj["object"], []).append(obj["id"])
        return obj

    def get(self, kind: str, obj_id: str, param: str = "id") -> Obj:
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != kind:
            raise missing(kind, obj_id, param)
        return obj

    def all(self, kind: str) -> list[Obj]:
        return [self.objects[i] for i in self.order.get(kind, [])]

    # -- events -------------------------------------------------------------------------------
    def emit(self, event_type: str, obj: Obj, previous: Obj | None = None) -> Obj:
        data: Obj = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event = from_fixture(
            "event",
            id=self.new_id("evt_"),
            api_version=API_VERSION,
            created=self.now(),
            data=data,
            pending_webhooks=1,
            request={"id": self.context.request_id, "idempotency_key": self.context.idempotency_key},
            type=event_type,
        )
        self.add(event)
        self.events.append(event["id"])
        return event

    # -- the ledger ---------------------------------------------------------------------------
    def fee_for(self, amount: int) -> int:
        return (amount * self.fee_rate_per_mille + 500) // 1000 + self.fee_fixed_cents

    def balance_transaction(
        self, *, amount: int, fee: int, kind: str, category: str, source: str, description: str | None,
        settles: bool,
    ) -> Obj:
        now = self.now()
        available_on = now + int(self.settle_after.total_seconds()) if settles else now
        fee_details = (
            [{"amount": fee, "application": None, "currency": self.currency,
              "description": "Stripe processing fees", "type": "stripe_fee"}]
            if fee else []
        )
        return self.add(from_fixture(
            "balance_transaction",
            id=self.new_id("txn_"), amount=amount, available_on=available_on, created=now,
            currency=self.currency, description=description, fee=fee, fee_details=fee_details,
            net=amount - fee, reporting_category=category, source=source,
            status="available" if available_on <= now else "pending", type=kind,
        ))

    def refresh(self) -> None:
        """Let time pass: settle pending balance transactions, land payouts in transit."""
        now = self.now()
        for txn in self.all("balance_transaction"):
            if txn["status"] == "pending" and txn["available_on"] <= now:
                txn["status"] = "available"
        for payout in self.all("payout"):
            if payout["status"] == "in_transit" and payout["arrival_date"] <= now:
                payout["status"] = "paid"
                self.emit("payout.paid", payout)

    def balance_amounts(self) -> tuple[int, int]:
        """(available, pending) in cents."""
        self.refresh()
        available = sum(t["net"] for t in self.all("balance_transaction") if t["status"] == "available")
        pending = sum(t["net"] for t in self.all("balance_transaction") if t["status"] == "pending")
        return available, pending

    def balance(self) -> Obj:
        available, pending = self.balance_amounts()
        return from_fixture(
            "balance",
            available=[{"amount": available, "currency": self.currency, "source_types": {"card": available}}],
            connect_reserved=[{"amount": 0, "currency": self.currency}],
            pending=[{"amount": pending, "currency": self.currency, "source_types": {"card": pending}}],
        )

    # -- lists --------------------------------------------------------------------------------
    def list_page(
        self, kind: str, params: Obj, url: str, where: Callable[[Obj], bool] | None = None
    ) -> Obj:
        """A Stripe list: newest first, `created[gt|gte|lt|lte]`, `limit`, `starting_after`, `ending_before`."""
        limit = as_int(params, "limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise bad_param("This value must be less than or equal to 100.", "limit")
        created = params.get("created")
        items = list(reversed(self.all(kind)))  # creation order == created order here
        items.sort(key=lambda o: o.get("created", 0), reverse=True)
        items = [o for o in items if (where is None or where(o)) and _created_ok(o, created)]
        ids = [o["id"] for o in items]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after:
            if after not in ids:
                raise missing(kind, after, "starting_after")
            page = items[ids.index(after) + 1:]
            has_more = len(page) > limit
            page = page[:limit]
        elif before:
            if before not in ids:
                raise missing(kind, before, "ending_before")
            page = items[: ids.index(before)]
            has_more = len(page) > limit
            page = page[-limit:]
        else:
            has_more = len(items) > limit
            page = items[:limit]
        return {"object": "list", "data": copy.deepcopy(page), "has_more": has_more, "url": url}

    def expand(self, obj: Obj, paths: Any) -> Obj:
        """Apply `expand[]`: replace id strings along each dotted path by the stored object."""
        out = copy.deepcopy(obj)
        for path in paths if isinstance(paths, list) else []:
            _expand_path(out, path.split("."), self.objects)
        return out


def _created_ok(obj: Obj, created: Any) -> bool:
    if created is None:
        return True
    ts = obj.get("created", 0)
    if not isinstance(created, dict):
        return bool(ts == int(created))
    ops: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    }
    for op, raw in created.items():
        if op not in ops:
            raise bad_param(f"Received unknown parameter: created[{op}]", f"created[{op}]", "parameter_unknown")
        if not ops[op](ts, int(raw)):
            return False
    return True


def _expand_path(node: Any, parts: list[str], objects: dict[str, Obj]) -> None:
    if not parts or not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and isinstance(node.get("data"), list):
        for item in node["data"]:
            _expand_path(item, rest, objects)
        return
    value = node.get(head)
    if isinstance(value, str) and value in objects:
        node[head] = copy.deepcopy(objects[value])
    if rest:
        _expand_path(node.get(head), rest, objects)


def unexpected_state(message: str, obj_key: str, obj: Obj) -> StripeError:
    err = StripeError(400, message, code=f"{obj['object']}_unexpected_state")
    err.extra[obj_key] = copy.deepcopy(obj)  # Stripe puts the object's current state in the error
    return err
