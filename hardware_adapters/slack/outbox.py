"""The events a confirmation produced, as JSON kept with the confirmation in the same row.

A confirmation (Done, Approve, Bought, Delivered, a quote entered) is claimed and its outcome
written in one transaction; the events are then queued for the books. If the process dies in
between, the next start finds them here and queues again whatever the books have not recorded
(the ledger is idempotent on event ids, so a re-sent event is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from bridge import events as ev
from bridge.domain import QuoteLine

# Every event the Slack side writes into an outbox (explicit: nothing else is decoded).
KINDS: dict[str, type[ev.Event]] = {c.kind: c for c in (
    ev.Restocked, ev.Unloaded, ev.CashCollected, ev.Alarm, ev.TaskCompleted, ev.ApprovalDecided, ev.SupplierPaid,
    ev.DeliveryReceived, ev.QuoteReceived, ev.HandedOver, ev.MessageReceived)}
_TIMES = frozenset({"ts", "valid_until"})


def _plain(e: ev.Event) -> dict[str, Any]:
    if e.kind not in KINDS:
        raise TypeError(f"{e.kind} events are not kept in a Slack outbox")
    out: dict[str, Any] = {"kind": e.kind}
    for f in fields(e):
        value = getattr(e, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif f.name == "lines":
            value = [[ln.sku, ln.quantity, ln.unit_cost_cents] for ln in value]
        out[f.name] = value
    return out


def encode(events: Iterable[ev.Event]) -> str:
    return json.dumps([_plain(e) for e in events])


def decode(text: str) -> list[ev.Event]:
    out = []
    for raw in json.loads(text or "[]"):
        cls = KINDS[raw.pop("kind")]
        for name in _TIMES & raw.keys():
            raw[name] = datetime.fromisoformat(raw[name])
        if "lines" in raw:
            raw["lines"] = tuple(QuoteLine(sku=s, quantity=q, unit_cost_cents=u) for s, q, u in raw["lines"])
        out.append(cls(**raw))
    return out
