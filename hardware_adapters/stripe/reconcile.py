"""Reconciliation: Stripe's balance transactions of one day against the ledger, every difference listed.

Each balance transaction names its source (a charge, refund, payout, dispute); the webhook handler
booked that source under an id derived from it (see webhooks.py), so matching is by id, and amounts
are compared on the card_pending account (the money Stripe holds for the shop):

- charge: the payment (`stripe:pay:<pi>`: + amount) or, for a fridge session, its capture
  (`stripe:capture:<pi>`: recorded); and its fee (`stripe:fee:<txn>`: - fee).
- refund (`stripe:refund:<re>`), paid payout (`stripe:payout:<po>`), dispute (`stripe:dispute:<dp>`, and
  its fee under `stripe:fee:<txn>`).

Differences: `missing_in_ledger`, `missing_in_stripe` (booked from Stripe, but Stripe has no such
money movement), `amount_mismatch`, `fee_missing`, `fee_mismatch`, `duplicate_charge` (two charges
for one order), `duplicate_in_ledger` (one order's payment booked twice), `unknown` (a Stripe
movement the shop has no rule for). A payout still in transit is not a difference yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import stripe
from sqlalchemy import text

from bridge.store import Store
from hardware_adapters.stripe.client import vendor_errors
from hardware_adapters.stripe.payments import FRIDGE

CARD = "card_pending"
LOOKBACK = timedelta(days=14)  # Stripe movements this far back match ledger entries of the day
LOOKAHEAD = timedelta(days=7)  # ledger entries this far ahead match Stripe movements of the day (a payout
# is booked when it reaches the bank, days after Stripe sent it; a webhook may come after midnight)
Obj = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    kind: str
    ref: str  # the Stripe object (or the ledger event) it is about
    stripe_cents: int | None = None
    ledger_cents: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    event_id: str
    ts: datetime
    card_cents: int  # the entry's effect on card_pending (debit +, credit -)
    memo: str = ""


@dataclass(slots=True, kw_only=True)
class Reconciliation:
    day: date
    transactions: int = 0
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "ok": self.ok, "transactions": self.transactions,
                "matched": self.matched, "differences": [asdict(d) for d in self.differences]}


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


def stripe_transactions(client: stripe.StripeClient, start: datetime, end: datetime) -> list[Obj]:
    """Every balance transaction created in [start, end), with its source expanded, as plain dicts."""
    out: list[Obj] = []
    params: dict[str, Any] = {"created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
                              "limit": 100, "expand": ["data.source"]}
    while True:
        with vendor_errors("balance transactions"):
            page = client.v1.balance_transactions.list(params=params)  # type: ignore[arg-type]
        out.extend(t.to_dict() for t in page.data)
        if not page.has_more or not page.data:
            return out
        params = {**params, "starting_after": page.data[-1].id}


def ledger_entries(store: Store, *, shop: str, start: datetime, end: datetime) -> list[LedgerEntry]:
    """The ledger's entries booked from Stripe in [start, end): their effect on card_pending, and the
    fridge captures (which move no money, so only their record). Filtered by time here, in Python,
    so SQLite's text timestamps and PostgreSQL's timestamptz behave the same."""
    sums: dict[str, list[Any]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_id, ts, debit, credit, amount_cents, memo FROM ledger_line "
            "WHERE shop = :s AND event_id LIKE 'stripe:%'"), {"s": shop})
        for event_id, ts, debit, credit, amount, memo in rows:
            entry = sums.setdefault(event_id, [_aware(ts), 0, memo or ""])
            entry[1] += (amount if debit == CARD else 0) - (amount if credit == CARD else 0)
        captured = conn.execute(text(
            "SELECT event_id, ts FROM processed_event WHERE shop = :s AND kind = 'card_captured' "
            "AND event_id LIKE 'stripe:%'"), {"s": shop})
        for event_id, ts in captured:
            sums.setdefault(event_id, [_aware(ts), 0, ""])
    return [LedgerEntry(event_id=k, ts=v[0], card_cents=int(v[1]), memo=v[2]) for k, v in sums.items()
            if start <= v[0] < end]


def _aware(ts: Any) -> datetime:
    when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def compare(txns: Sequence[Obj], entries: Iterable[LedgerEntry], *, day: date, tz: tzinfo) -> Reconciliation:
    """Pure: Stripe's transactions (created in the look-back window up to the day's end) against the
    ledger's Stripe entries (from the look-back window to the look-ahead); differences concern the day
    `day`: its Stripe movements, and its ledger entries."""
    start, end = day_bounds(day, tz)
    ledger = {e.event_id: e for e in entries}
    report = Reconciliation(day=day)
    expected: set[str] = set()  # ledger ids that some Stripe movement of the window accounts for
    by_order: dict[str, list[str]] = defaultdict(list)
    for txn in txns:
        source = txn.get("source")
        src: Obj = source if isinstance(source, dict) else {"id": source or ""}
        ids = _expected_ids(txn, src)
        expected.update(ids)
        created = datetime.fromtimestamp(int(txn["created"]), UTC)
        if not start <= created < end:
            continue
        report.transactions += 1
        before = len(report.differences)
        _check(report, txn, src, ids, ledger)
        if len(report.differences) == before:
            report.matched += 1
        order = (src.get("metadata") or {}).get("order_ref") if txn.get("type") in ("charge", "payment") else None
        if order:
            by_order[order].append(src["id"])
    for order, charges in by_order.items():
        if len(charges) > 1:
            report.differences.append(Difference(kind="duplicate_charge", ref=order,
                                                 detail=f"order {order} charged {len(charges)} times: {charges}"))
    deposits: dict[str, list[str]] = defaultdict(list)
    for e in ledger.values():
        if not start <= e.ts < end:
            continue
        if e.event_id.startswith("stripe:pay:") and e.memo:
            deposits[e.memo].append(e.event_id)
        if e.event_id not in expected:
            report.differences.append(Difference(kind="missing_in_stripe", ref=e.event_id, ledger_cents=e.card_cents,
                                                 detail="booked from Stripe, but no Stripe movement matches"))
    for order, ids in deposits.items():
        if len(ids) > 1:
            report.differences.append(Difference(kind="duplicate_in_ledger", ref=order,
                                                 detail=f"order {order} booked as paid {len(ids)} times: {ids}"))
    return report


def _expected_ids(txn: Obj, src: Obj) -> list[str]:
    """The ledger ids the movement should be booked under: [main, fee] (fee id only for charges)."""
    sid, kind = src.get("id", ""), txn.get("type", "")
    if kind in ("charge", "payment"):
        pi = src.get("payment_intent") or sid
        pi = pi.get("id") if isinstance(pi, dict) else pi
        main = f"stripe:capture:{pi}" if (src.get("metadata") or {}).get("kind") == FRIDGE else f"stripe:pay:{pi}"
        return [main, f"stripe:fee:{txn['id']}"]
    if sid.startswith("dp_"):  # a dispute's withdrawal, and its fee
        return [f"stripe:dispute:{sid}", f"stripe:fee:{txn['id']}"]
    prefix = {"refund": "refund", "payment_refund": "refund", "payout": "payout"}.get(kind)
    return [f"stripe:{prefix}:{sid}"] if prefix else []


def _check(report: Reconciliation, txn: Obj, src: Obj, ids: list[str], ledger: dict[str, LedgerEntry]) -> None:
    amount, fee, tid = int(txn["amount"]), int(txn.get("fee") or 0), txn["id"]
    add = report.differences.append
    if not ids:
        add(Difference(kind="unknown", ref=tid, stripe_cents=amount, detail=f"no rule for {txn.get('type')}"))
        return
    main = ledger.get(ids[0])
    if ids[0].startswith("stripe:payout:") and main is None and src.get("status") != "paid":
        return  # in transit: booked when it reaches the bank (payout.paid)
    if main is None:
        add(Difference(kind="missing_in_ledger", ref=ids[0].split(":", 2)[2], stripe_cents=amount,
                       detail=f"{txn.get('type')} {tid} is not in the books"))
    elif not ids[0].startswith("stripe:capture:") and main.card_cents != amount:
        add(Difference(kind="amount_mismatch", ref=ids[0].split(":", 2)[2], stripe_cents=amount,
                       ledger_cents=main.card_cents, detail=f"{txn.get('type')} {tid}"))
    if len(ids) > 1:
        booked = ledger.get(ids[1])
        if booked is None and fee:
            add(Difference(kind="fee_missing", ref=tid, stripe_cents=-fee, detail="Stripe's fee is not in the books"))
        elif booked is not None and booked.card_cents != -fee:
            add(Difference(kind="fee_mismatch", ref=tid, stripe_cents=-fee, ledger_cents=booked.card_cents))


def reconcile_day(*, client: stripe.StripeClient, store: Store, shop: str, day: date, tz: tzinfo = UTC
                  ) -> Reconciliation:
    start, end = day_bounds(day, tz)
    txns = stripe_transactions(client, start - LOOKBACK, end)
    entries = ledger_entries(store, shop=shop, start=start - LOOKBACK, end=end + LOOKAHEAD)
    return compare(txns, entries, day=day, tz=tz)
