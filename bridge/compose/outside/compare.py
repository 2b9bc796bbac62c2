"""Two runs' books side by side (`vend hil --compare`): per shop-local day, the tool calls (name and
arguments, in order) from the audit log and the ledger's balance per account at the day's end. The
first difference is named with the event behind it: the tool call that differs, or the ledger lines of
that day and account that one side has and the other has not."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import create_engine, text

IGNORED_ARGS = ("idempotency_key",)


@dataclass(frozen=True, slots=True)
class DayBooks:
    day: str
    calls: tuple[tuple[str, str], ...]  # (tool, arguments as sorted JSON)
    balances: dict[str, int]  # account -> cents at the day's end
    lines: dict[str, list[dict[str, Any]]]  # account -> the day's ledger lines touching it


@dataclass(slots=True)
class Comparison:
    days: int = 0
    identical_days: int = 0
    first: dict[str, Any] | None = None
    per_day: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.first is None

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "days": self.days, "identical_days": self.identical_days,
                "first_difference": self.first, "per_day": self.per_day}


def _local_day(ts: Any, tz: tzinfo) -> str:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:  # SQLite keeps UTC
        from datetime import UTC

        ts = ts.replace(tzinfo=UTC)
    d: date = ts.astimezone(tz).date()
    return d.isoformat()


def _args(raw: str, ids: dict[tuple[str, str], str]) -> str:
    """The arguments as sorted JSON; an id the outside gave (a quote's, an order's, a task's: any `*_id`)
    becomes its key and the order in which the run first used it, as the two worlds name them differently
    (`q-pacific-bev-00005` in the simulator is `quote-00005` from ops in Slack)."""
    try:
        args = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(args, dict):
        for k in IGNORED_ARGS:
            args.pop(k, None)
        for k, v in args.items():
            if k.endswith("_id") and isinstance(v, str) and v:
                n = sum(1 for key in ids if key[0] == k)
                args[k] = ids.setdefault((k, v), f"{k}#{n + 1}")
    return json.dumps(args, sort_keys=True)


def read_books(url: str, *, tz: tzinfo, shop: str = "main") -> dict[str, DayBooks]:
    """A store's days: the tool calls and the closing balances of each shop-local day."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            calls = c.execute(text("SELECT ts, tool, args_json FROM audit_log WHERE shop = :s ORDER BY seq, id"),
                              {"s": shop}).all()
            lines = c.execute(text("SELECT ts, event_id, debit, credit, amount_cents, sku, units, memo FROM ledger_line "
                                   "WHERE shop = :s ORDER BY id"), {"s": shop}).all()
            closes = [r[0] for r in c.execute(text("SELECT day FROM day_close WHERE shop = :s ORDER BY day"),
                                              {"s": shop}).all()]
    finally:
        engine.dispose()
    by_day_calls: dict[str, list[tuple[str, str]]] = defaultdict(list)
    ids: dict[tuple[str, str], str] = {}
    for ts, tool, args in calls:
        by_day_calls[_local_day(ts, tz)].append((tool, _args(args, ids)))
    by_day_lines: dict[str, list[Any]] = defaultdict(list)
    for row in lines:
        by_day_lines[_local_day(row[0], tz)].append(row)
    days = sorted(set(closes) | set(by_day_calls) | set(by_day_lines))
    out: dict[str, DayBooks] = {}
    running: dict[str, int] = defaultdict(int)
    for day in days:
        touched: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ts, event_id, debit, credit, amount, sku, units, memo in by_day_lines.get(day, []):
            running[debit] += amount
            running[credit] -= amount
            line = {"event_id": event_id, "ts": str(ts), "debit": debit, "credit": credit, "amount_cents": amount,
                    "sku": sku, "units": units, "memo": memo}
            touched[debit].append(line)
            touched[credit].append(line)
        out[day] = DayBooks(day=day, calls=tuple(by_day_calls.get(day, [])),
                            balances={k: v for k, v in sorted(running.items()) if v}, lines=dict(touched))
    return out


def _line_key(line: dict[str, Any]) -> tuple[Any, ...]:
    return (line["debit"], line["credit"], line["amount_cents"], line["sku"], line["units"])


def compare_books(a: dict[str, DayBooks], b: dict[str, DayBooks], *, names: tuple[str, str] = ("sim", "hil"),
                  days: int | None = None) -> Comparison:
    out = Comparison()
    order = sorted(set(a) | set(b))
    if days is not None:
        order = order[:days]
    empty = DayBooks(day="", calls=(), balances={}, lines={})
    for day in order:
        x, y = a.get(day, empty), b.get(day, empty)
        out.days += 1
        diff = _first_call_difference(x, y, names) or _first_balance_difference(x, y, names)
        out.per_day.append({"day": day, "calls": [len(x.calls), len(y.calls)], "same_calls": x.calls == y.calls,
                            "same_balances": x.balances == y.balances})
        if diff is None:
            out.identical_days += 1
        elif out.first is None:
            out.first = {"day": day, **diff}
    return out


def _first_call_difference(x: DayBooks, y: DayBooks, names: tuple[str, str]) -> dict[str, Any] | None:
    for i in range(max(len(x.calls), len(y.calls))):
        cx = x.calls[i] if i < len(x.calls) else None
        cy = y.calls[i] if i < len(y.calls) else None
        if cx != cy:
            return {"what": "tool_call", "index": i,
                    names[0]: {"tool": cx[0], "args": json.loads(cx[1])} if cx else None,
                    names[1]: {"tool": cy[0], "args": json.loads(cy[1])} if cy else None}
    return None


def _first_balance_difference(x: DayBooks, y: DayBooks, names: tuple[str, str]) -> dict[str, Any] | None:
    for account in sorted(set(x.balances) | set(y.balances)):
        bx, by = x.balances.get(account, 0), y.balances.get(account, 0)
        if bx == by:
            continue
        lx = [_line_key(ln) for ln in x.lines.get(account, [])]
        ly = [_line_key(ln) for ln in y.lines.get(account, [])]
        only_x = [ln for ln in x.lines.get(account, []) if _line_key(ln) not in ly]
        only_y = [ln for ln in y.lines.get(account, []) if _line_key(ln) not in lx]
        return {"what": "balance", "account": account, names[0]: bx, names[1]: by,
                f"only_{names[0]}": only_x[:5], f"only_{names[1]}": only_y[:5]}
    return None


def format_comparison(c: Comparison, *, names: tuple[str, str] = ("sim", "hil")) -> str:
    if c.identical:
        return f"identical: {c.days} day(s), tool calls and balances per account"
    f = c.first
    assert f is not None
    head = f"different: {c.identical_days} of {c.days} day(s) identical; first difference on {f['day']}: "
    if f["what"] == "tool_call":
        def call(v: Any) -> str:
            return "(none)" if v is None else f"{v['tool']}({json.dumps(v['args'], sort_keys=True)})"

        return (head + f"tool call #{f['index']}\n  {names[0]}: {call(f[names[0]])}\n  {names[1]}: {call(f[names[1]])}")
    lines = [head + f"balance of {f['account']}: {names[0]} {f[names[0]]} vs {names[1]} {f[names[1]]}"]
    for side in names:
        for ln in f[f"only_{side}"]:
            lines.append(f"  only in {side}: event {ln['event_id']} at {ln['ts']}: {ln['debit']} <- {ln['credit']} "
                         f"{ln['amount_cents']}c {ln['memo']}")
    return "\n".join(lines)
