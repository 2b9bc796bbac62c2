"""`vend shadow-report`: what a shadow shopkeeper would have done, next to what ops did.

The agent's side is the audit log's WRITE calls with verdict "shadow" (`vend live --shadow` judges each by
the guardrails and has the shop's twin answer it, bridge/twin; none is done), each with what the twin
answered; the calls the guardrails refused in a shadow run are listed apart, per day. The world's side is
the `world_action` table the live ingest writes: restocks and cash collections as confirmed, price changes
seen in slot telemetry, supplier payments and deliveries (also those ops record without a task), refunds.
Both sides are cut into the shop's local days (the time zone of the shadow run's config, or --tz) and
matched per kind on a key (a slot, a machine, a payment): an action on both sides the same day is an
agreement; the rest are the agent's alone or ops' alone. Orders are matched by count (a shadow order has
no supplier order id to compare); each delivery is listed as ops' own kind.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text

from bridge.errors import ConfigError
from bridge.store import Store

COMPARED = ("set_price", "restock", "collect_cash", "place_order", "refund")


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    kind: str
    key: tuple[str, ...]
    detail: dict[str, Any] = field(compare=False)


def _shop_settings(store: Store, shop: str) -> tuple[str, str]:
    """The time zone and first machine of the newest shadow run (the run's settings are in run_info)."""
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT settings_json FROM run_info WHERE shop = :s AND mode = 'shadow' "
                                "ORDER BY started_at DESC LIMIT 1"), {"s": shop}).first()
    settings = json.loads(row[0]) if row else {}
    tz = settings.get("bridge", {}).get("tz", "UTC")
    machines = [m["id"] for m in settings.get("machines", [])]
    if not machines:
        machines = sorted(r["machine_id"] for r in store.rows("machine", shop=shop))
    return tz, machines[0] if machines else ""


def agent_actions(tool: str, args: dict[str, Any], *, default_machine: str, result: Any = None) -> list[Action]:
    """The actions a shadow call stands for; `result`: what the twin answered (an error as {"error": ...})."""
    if isinstance(result, dict) and "error" in result:
        return [Action(kind=tool, key=(), detail={**args, "error": result["error"]})]  # would have failed
    machine = args.get("machine") or default_machine
    if tool == "set_price":
        return [Action(kind=tool, key=(machine, str(args.get("slot", ""))),
                       detail={"machine": machine, "slot": args.get("slot"), "price_cents": args.get("price_cents")})]
    if tool == "restock":
        return [Action(kind=tool, key=(machine, str(s.get("slot", "")), str(s.get("sku", ""))),
                       detail={"machine": machine, "slot": s.get("slot"), "sku": s.get("sku"), "count": s.get("count")})
                for s in args.get("slots", [])]
    if tool == "collect_cash":
        return [Action(kind=tool, key=(machine,), detail={"machine": machine})]
    if tool == "place_order":
        got = result if isinstance(result, dict) else {}
        return [Action(kind=tool, key=(), detail={"quote_id": args.get("quote_id"), "order_id": got.get("order_id"),
                                                   "amount_cents": got.get("total_cents")})]
    if tool == "refund":
        ref = str(args.get("payment_ref", ""))
        return [Action(kind=tool, key=(ref,), detail={"payment_ref": ref, "amount_cents": args.get("amount_cents")})]
    return [Action(kind=tool, key=(), detail=args)]  # no world counterpart: always the agent's alone


def world_action(row: dict[str, Any]) -> Action:
    kind = row["kind"]
    if kind == "set_price":
        return Action(kind=kind, key=(row["machine"], row["slot"]),
                      detail={"machine": row["machine"], "slot": row["slot"], "price_cents": row["amount_cents"],
                              "previous_cents": row["previous_cents"]})
    if kind == "restock":
        return Action(kind=kind, key=(row["machine"], row["slot"], row["sku"]),
                      detail={"machine": row["machine"], "slot": row["slot"], "sku": row["sku"], "count": row["count"]})
    if kind == "collect_cash":
        return Action(kind=kind, key=(row["machine"],), detail={"machine": row["machine"],
                                                                 "amount_cents": row["amount_cents"]})
    if kind == "place_order":
        return Action(kind=kind, key=(), detail={"order_id": row["ref"], "amount_cents": row["amount_cents"]})
    if kind == "delivery":
        return Action(kind=kind, key=(row["ref"], row["sku"]), detail={
            "order_id": row["ref"], "sku": row["sku"], "count": row["count"],
            "unit_cost_cents": row["amount_cents"] // row["count"] if row["count"] else 0})
    return Action(kind=kind, key=(row["ref"],), detail={"payment_ref": row["ref"], "amount_cents": row["amount_cents"]})


def _day(ts: Any, tz: tzinfo) -> date:
    return ts.astimezone(tz).date()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}") from None


def _loads(text_: str | None) -> Any:
    """An audited result (None if the audit log cut it short: it keeps the first 2,000 characters)."""
    try:
        return json.loads(text_) if text_ else None
    except ValueError:
        return None


def _refused(store: Store, shop: str) -> list[dict[str, Any]]:
    """WRITE calls of shadow runs that the guardrails refused (or sent for approval)."""
    with store.engine.connect() as conn:
        runs = {r[0] for r in conn.execute(text("SELECT run_id FROM run_info WHERE shop = :s AND mode = 'shadow'"),
                                           {"s": shop})}
    return [r for r in store.rows("audit_log", shop=shop, kind="write")
            if r["run_id"] in runs and r["verdict"].startswith(("refused:", "approval:"))]


def shadow_report(store: Store, *, shop: str = "main", since: date | None = None, tz: str = "") -> dict[str, Any]:
    """Per day: per kind agreed, agent_only, ops_only (each a list of details), and the agent's refused
    calls; totals per kind."""
    run_tz, default_machine = _shop_settings(store, shop)
    zone = _zone(tz or run_tz)
    agent: dict[date, list[Action]] = defaultdict(list)
    for r in sorted(store.rows("audit_log", shop=shop, verdict="shadow"), key=lambda r: (r["ts"], r["seq"])):
        day = _day(r["ts"], zone)
        if since is None or day >= since:
            result = _loads(r["result_json"])
            agent[day] += agent_actions(r["tool"], json.loads(r["args_json"]), default_machine=default_machine,
                                        result=result if r["ok"] else {"error": (result or {}).get("error", "")})
    refused: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(_refused(store, shop), key=lambda r: (r["ts"], r["seq"])):
        day = _day(r["ts"], zone)
        if since is None or day >= since:
            refused[day].append({"tool": r["tool"], "verdict": r["verdict"], "args": json.loads(r["args_json"])})
    world: dict[date, list[Action]] = defaultdict(list)
    rows = sorted(store.rows("world_action", shop=shop), key=lambda r: r["ts"])
    paid = {r["ref"] for r in rows if r["kind"] == "place_order" and not r["sku"]}
    orders: set[str] = set()  # an order is its payment, or its first delivery when it was paid outside the books
    for r in rows:
        day = _day(r["ts"], zone)
        if since is not None and day < since:
            continue
        if r["kind"] == "place_order" and r["sku"]:  # a delivery
            world[day].append(world_action({**r, "kind": "delivery"}))
            if r["ref"] in paid:
                continue
        if r["kind"] == "place_order":
            if r["ref"] in orders:
                continue
            orders.add(r["ref"])
        world[day].append(world_action(r))
    days = []
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for day in sorted(agent.keys() | world.keys() | refused.keys()):
        kinds: dict[str, dict[str, list[Any]]] = {}
        for kind in sorted({a.kind for a in agent[day]} | {w.kind for w in world[day]}):
            got = _match([a for a in agent[day] if a.kind == kind], [w for w in world[day] if w.kind == kind])
            kinds[kind] = got
            for part, items in got.items():
                totals[kind][part] += len(items)
        days.append({"day": day.isoformat(), "kinds": kinds, "refused": refused[day]})
    return {"shop": shop, "tz": str(zone), "since": since.isoformat() if since else None, "days": days,
            "totals": {k: {p: v[p] for p in ("agreed", "agent_only", "ops_only")} for k, v in sorted(totals.items())},
            "refused": sum(len(v) for v in refused.values())}


def _match(agent: list[Action], world: list[Action]) -> dict[str, list[Any]]:
    agreed: list[Any] = []
    ops_left = list(world)
    agent_only: list[Any] = []
    for a in agent:
        found = next((i for i, w in enumerate(ops_left) if w.key == a.key and a.kind in COMPARED), None)
        if found is None:
            agent_only.append(a.detail)
        else:
            w = ops_left.pop(found)
            agreed.append({"agent": a.detail, "ops": w.detail, "same": a.detail == w.detail if a.kind != "set_price"
                           else a.detail["price_cents"] == w.detail["price_cents"]})
    return {"agreed": agreed, "agent_only": agent_only, "ops_only": [w.detail for w in ops_left]}


def format_report(report: dict[str, Any]) -> list[str]:
    lines = [f"shadow report for shop {report['shop']} (days in {report['tz']})"]
    if not report["days"]:
        return [*lines, "no shadow actions and no ops actions recorded"]
    for d in report["days"]:
        lines.append(d["day"])
        for kind, got in d["kinds"].items():
            lines.append(f"  {kind:<20} agreed {len(got['agreed']):>3}  agent only {len(got['agent_only']):>3}  "
                         f"ops only {len(got['ops_only']):>3}")
            lines += [f"    agent only: {_short(x)}" for x in got["agent_only"]]
            lines += [f"    ops only:   {_short(x)}" for x in got["ops_only"]]
        lines += [f"  refused: {r['tool']} ({r['verdict']}) {_short(r['args'])}" for r in d["refused"]]
    lines.append("totals")
    for kind, t in report["totals"].items():
        lines.append(f"  {kind:<20} agreed {t['agreed']:>3}  agent only {t['agent_only']:>3}  ops only {t['ops_only']:>3}")
    lines.append(f"  refused by the guardrails: {report['refused']}")
    return lines


def _short(detail: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, ""))
