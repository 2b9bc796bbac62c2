"""Drives an arena: the participants' runtimes step through the same jobs in turn (the order rotates
daily so nobody always acts first), their worlds share one market and one exchange, and a
competition report reaches every participant at a set interval. Part of the composition: the
simulator supplies the worlds and never drives an agent's runtime."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge import events as ev
from bridge.ledger import INVENTORY, Ledger
from bridge.policies.base import Policy
from bridge.runtime import Runtime
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools
from scheduler.virtual import VirtualSchedule
from sim_backend.arena.exchange import Exchange
from sim_backend.arena.market import SharedMarket
from sim_backend.engine import SimWorld, hash_rng


@dataclass(slots=True)
class Participant:
    shop: str
    policy_name: str
    team: str | None
    world: SimWorld
    store: Store
    ledger: Ledger
    tools: ShopTools
    toolbox: Toolbox
    policy: Policy
    runtime: Runtime
    events: list[ev.Event] | None = None

    @property
    def active(self) -> bool:
        return not self.runtime.outcome.ended_by


@dataclass(frozen=True, slots=True, kw_only=True)
class ArenaDay:
    day: int
    date: str
    net_worth: dict[str, int]
    bank: dict[str, int]
    units: dict[str, int]
    prices: dict[str, dict[str, int]]  # shop -> sku -> price at the day's sales


@dataclass(slots=True)
class Arena:
    participants: list[Participant]
    market: SharedMarket
    exchange: Exchange
    schedule: VirtualSchedule
    report_every_days: int = 7
    on_close: Callable[[Participant], None] | None = None
    on_day: Callable[[ArenaDay], None] | None = None
    days: list[ArenaDay] = field(default_factory=list)

    def run(self) -> list[ArenaDay]:
        ps = self.participants
        for p in ps:
            p.runtime.ingest()
        day = 0
        while any(p.active for p in ps):
            when, job = self.schedule.pop()
            k = day % len(ps)
            for p in ps[k:] + ps[:k]:
                if p.active:
                    p.runtime.run_job(when, job)
                    if job == "close_day" and self.on_close is not None:
                        self.on_close(p)
            if job == "close_day":
                self._closed(day)
                day += 1
        for p in ps:
            p.store.flush()
        return self.days

    def _closed(self, day: int) -> None:
        ps = self.participants
        last = self.market.history[-1] if self.market.history and self.market.history[-1].day == day else None
        rec = ArenaDay(day=day, date=ps[0].world.today().isoformat(),
                       net_worth={p.shop: p.ledger.net_worth_cents for p in ps},
                       bank={p.shop: p.world.bank for p in ps},
                       units={p.shop: (last.units.get(p.shop, 0) if last else 0) for p in ps},
                       prices=dict(last.prices) if last else {})
        self.days.append(rec)
        if self.on_day is not None:
            self.on_day(rec)
        every = self.report_every_days
        if every and (day + 1) % every == 0 and any(p.active for p in ps):
            text = self.competition_report(day, every)
            for p in ps:
                if p.active:
                    p.world.emit(ev.MessageReceived, conversation="arena", sender="arena", role="arena", text=text)

    def competition_report(self, day: int, every: int) -> str:
        recent = self.days[-every:]
        units = {p.shop: sum(d.units.get(p.shop, 0) for d in recent) for p in self.participants}
        ranked = sorted(self.participants, key=lambda p: -p.ledger.net_worth_cents)
        lines = [f"Competition report, days {day + 2 - len(recent)}-{day + 1}:"]
        for rank, p in enumerate(ranked, start=1):
            lines.append(f"{rank}. {p.shop}: net worth ${p.ledger.net_worth_cents / 100:,.2f}, "
                         f"{units[p.shop]} units sold in the period"
                         + ("" if p.active else " (out of business)"))
        return "\n".join(lines)

    # --- results ------------------------------------------------------------------------------
    def state_hashes(self) -> dict[str, str]:
        return {p.shop: p.world.state_hash() for p in self.participants}

    def arena_hash(self) -> str:
        state = {"worlds": self.state_hashes(), "market": hash_rng(self.market.rng),
                 "exchange": self.exchange.state()}
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

    def participant_summary(self, p: Participant) -> dict[str, Any]:
        ex = self.exchange
        led = p.ledger
        out = p.runtime.outcome
        goods_out = [t for t in ex.trades if t.seller == p.shop]
        goods_in = [t for t in ex.trades if t.buyer == p.shop]
        return {
            "shop": p.shop, "policy": p.policy_name, "team": p.team,
            "net_worth_cents": led.net_worth_cents, "bank_cents": led.balance("bank"),
            "inventory_value_cents": led.balance(INVENTORY), "units_sold": led.units_sold_total,
            "money_sent_cents": sum(t.amount_cents for t in ex.transfers if t.from_shop == p.shop),
            "money_received_cents": sum(t.amount_cents for t in ex.transfers if t.to_shop == p.shop),
            "goods_sold_units": sum(t.offer.quantity for t in goods_out),
            "goods_sold_cents": sum(t.offer.total_cents for t in goods_out),
            "goods_bought_units": sum(t.offer.quantity for t in goods_in),
            "goods_bought_cents": sum(t.offer.total_cents for t in goods_in),
            "messages_to_shops": sum(1 for n in ex.notes if n.sender == p.shop),
            "days_run": out.days_run, "bankrupt": out.bankrupt, "ended_by": out.ended_by,
            "tool_calls": sum(p.toolbox.counts.values()), "tool_errors": p.toolbox.errors,
            "guardrail_refusals": dict(p.toolbox.refusals), "crashes": out.crashes,
            "state_hash": p.world.state_hash(),
        }
