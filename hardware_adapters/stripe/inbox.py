"""The Stripe inbox: webhook deliveries are durable before Stripe hears 200.

The webhook handler (uvicorn's thread) verifies and translates a delivery, then `keep()`s it: one row
of `stripe_inbox` (the raw body, the project events it became) committed in its own transaction, and
only then answers 200. The core thread takes kept deliveries as a LiveEventSource (`next_batch`), and
for each one hands out its events and marks the row booked through the Store, so the mark commits
in the same transaction as the ledger lines. A crash after the 200 and before that commit leaves the
row unbooked; the next process `recover()`s it at start-up and books it then. Booking twice is
harmless anyway (the ledger is idempotent on the event ids derived from Stripe's objects), and a
replayed delivery finds its row already there (idempotent on the Stripe event id).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge import events as ev
from bridge.store import Store
from bridge.store.store import TABLES

TABLE = "stripe_inbox"
# The event types a webhook becomes (hardware_adapters.stripe.webhooks), by their `kind`.
KINDS: dict[str, type[ev.Event]] = {cls.kind: cls for cls in (
    ev.PaymentReceived, ev.CardCaptured, ev.PaymentStatus, ev.RefundIssued, ev.DisputeOpened, ev.FeeCharged,
    ev.CardSettled, ev.DeadLettered)}


def _json(e: ev.Event) -> dict[str, Any]:
    out = e.to_json()
    if isinstance(e, ev.DeadLettered):  # a delivery that could not be booked keeps its bytes
        out["raw"] = base64.b64encode(e.raw).decode("ascii")
    return out


def encode(events: list[ev.Event]) -> str:
    return json.dumps([_json(e) for e in events])


def decode(text: str) -> list[ev.Event]:
    out = []
    for item in json.loads(text):
        fields = dict(item)
        cls = KINDS[fields.pop("kind")]
        fields["ts"] = datetime.fromisoformat(fields["ts"])
        if cls is ev.DeadLettered:
            fields["raw"] = base64.b64decode(fields["raw"])
        out.append(cls(**fields))
    return out


class StripeInbox:
    """Kept webhook deliveries; `keep` from any thread, the rest from the core thread."""

    def __init__(self, *, store: Store, shop: str, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.shop = shop
        self.now = now or (lambda: datetime.now(UTC))
        self._ready: list[dict[str, Any]] = []  # rows kept and not handed out yet
        self._lock = threading.Lock()
        self.kept = 0
        self.recovered = 0

    # --- the webhook's side ------------------------------------------------------------------------
    def keep(self, event: dict[str, Any], raw: bytes, found: list[ev.Event]) -> None:
        """Commit the delivery (its own transaction) and queue it for the core. A delivery already kept
        (a replay) is queued again: booking it again changes nothing, and the duplicate is counted."""
        row = {"stripe_event_id": str(event["id"]), "shop": self.shop, "type": str(event.get("type", "")),
               "received_at": self.now(), "raw": raw, "events_json": encode(found), "booked_at": None}
        try:
            with self.store.engine.begin() as conn:
                conn.execute(TABLES[TABLE].insert(), [row])
            self.kept += 1
        except IntegrityError:
            pass  # kept before (booked, or waiting for the core): the id is the Stripe event's
        with self._lock:
            self._ready.append(row)

    # --- the core's side ---------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue the deliveries a previous process kept and did not book (at start-up)."""
        tbl = TABLES[TABLE]
        with self.store.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                select(tbl).where(tbl.c.shop == self.shop, tbl.c.booked_at.is_(None)).order_by(tbl.c.received_at))]
        with self._lock:
            self._ready[:0] = rows
        self.recovered += len(rows)
        return len(rows)

    def next_batch(self, *, max_wait_s: float, max_items: int) -> list[ev.Event]:
        """Hand out kept deliveries' events and buffer each row's booked mark with them (it commits with
        their ledger lines in the ingest loop's next flush). Never waits: the merged source does."""
        with self._lock:
            rows, self._ready = self._ready, []
        out: list[ev.Event] = []
        for row in rows:
            out += decode(row["events_json"])
            self.store.upsert(TABLE, {**row, "booked_at": self.now()})
        return out

    def acknowledge(self) -> None:
        """Nothing to tell the sender: Stripe had its 200 when the delivery was kept."""

    def pending(self) -> int:
        with self._lock:
            return len(self._ready)
