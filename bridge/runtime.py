"""The runtime loop: jobs fire, events are recorded once, the policy acts, the day is closed.

The same loop runs a simulated year and a live shop; only the backend and the schedule differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from bridge import events as ev
from bridge.domain import DayRecord
from bridge.errors import ConfigError, RunStopped
from bridge.ledger import BANK, CARD_PENDING, DAILY_FEE, INVENTORY, MACHINE_CASH, PREPAID, Ledger
from bridge.policies.base import Policy
from bridge.ports import Backend
from bridge.resume import Resume
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools


class Schedule(Protocol):
    def pop(self) -> tuple[datetime, str]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLimits:
    days: int
    max_messages: int
    bankruptcy_days: int


@dataclass(slots=True)
class RunOutcome:
    days_run: int = 0
    messages: int = 0
    ended_by: str = ""
    stop_reason: str = ""  # why a run stopped early (ended_by "api_errors"); empty otherwise
    bankrupt: bool = False
    days: list[DayRecord] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)


class Runtime:
    def __init__(self, *, backend: Backend, ledger: Ledger, store: Store, tools: ShopTools, toolbox: Toolbox,
                 policy: Policy, schedule: Schedule, limits: RunLimits,
                 on_event: Callable[[ev.Event], None] | None = None,
                 on_day: Callable[[DayRecord], None] | None = None, flush_every_days: int = 1,
                 running_costs: Sequence[tuple[str, int]] = ()) -> None:
        self.backend = backend
        self.ledger = ledger
        self.store = store
        self.tools = tools
        self.toolbox = toolbox
        self.policy = policy
        self.schedule = schedule
        self.limits = limits
        self.on_event = on_event
        self.on_day = on_day
        self.flush_every_days = flush_every_days
        self.running_costs = tuple(running_costs)  # (name, cents a day) the close books (live: the site's)
        self.outcome = RunOutcome()
        self._calls_at_open: dict[str, int] = {}
        self.between_jobs = True  # no job is running (a process stopped now loses nothing: bridge/resume.py)
        self.resume: Resume | None = None  # saves the runtime's memory after each job (a live shop's)
        toolbox.after_call = self.ingest

    # --- events -----------------------------------------------------------------------------
    def ingest(self) -> None:
        events = self.backend.events.drain()
        if events:  # after most tool calls nothing has happened
            self._record(events)

    def _record(self, events: list[ev.Event]) -> None:
        """Book each event once, and tell the tools and `on_event` of those that were new. (One loop with
        the lookups made once: a simulated year records ~10,000 events through here.)"""
        record, observe, on_event = self.ledger.record, self.tools.observe, self.on_event
        for event in events:
            if record(event):
                observe(event)
                if on_event is not None:
                    on_event(event)

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        self.ingest()
        while not self.outcome.ended_by:
            when, job = self.schedule.pop()
            self.run_job(when, job)
        self.store.flush()  # and waits: the run's rows are committed when it returns
        return self.outcome

    def run_job(self, when: datetime, job: str) -> None:
        """Let time pass to `when`, record what happened, and run the job (one step of `run`; an
        arena steps several runtimes in turn)."""
        self._record(self.backend.events.wait_until(when))
        if self.outcome.ended_by:  # the run was ended while time passed (`vend demo` stopped): no more jobs
            return
        self.between_jobs = False
        getattr(self, job)(at=when)
        self.job_done(when, job)

    def job_done(self, when: datetime, job: str) -> None:
        """After a job: with `resume`, its memory saved and the books committed, before anything waits."""
        if self.resume is not None:
            self.resume.save(self, when, job)
        self.between_jobs = True

    def _act(self, reason: str) -> None:
        self.toolbox.turn_ended = False
        try:
            used = self.policy.act(self.toolbox, reason=reason)
        except ConfigError:
            raise  # a setting is wrong (an LLM key the API refuses): every session would fail alike
        except RunStopped as stop:  # the run cannot go on (its LLM API keeps failing): it ends, said why
            self.outcome.ended_by = stop.ended_by
            self.outcome.stop_reason = str(stop)
            used = 0
        except Exception as crash:  # a crash is recorded, and the shop carries on tomorrow
            self.outcome.crashes.append(f"{self.backend.clock.now().isoformat()} {reason}: {crash!r}")
            used = 1
        self.outcome.messages += used
        if self.outcome.messages >= self.limits.max_messages:
            self.outcome.ended_by = "message_cap"

    # --- jobs (scheduler.jobs.JobHost) ----------------------------------------------------------
    def open_day(self, at: datetime | None = None) -> None:
        self._act("open_day")

    def weekly_review(self, at: datetime | None = None) -> None:
        if not self.outcome.ended_by:
            self._act("weekly_review")

    def reminders(self, at: datetime | None = None) -> None:
        if (self.tools.inbox or self.tools.notices) and not self.outcome.ended_by:
            self._act("messages")

    def close_day(self, at: datetime | None = None) -> None:
        """Book the close of the day that `at` (the fire time the run stands for) falls in; without
        it, today's. A close caught up after midnight books the day it was due, not the clock's. The
        close books the day's running costs (live: the site's), and amends the closes of earlier days
        that sales arrived late for (each sale is booked on the local day of its own time)."""
        self.ingest()
        led = self.ledger
        now = self.backend.clock.now()
        today = (at or now).astimezone(led.tz).date()
        if led.late_days:
            self._amend_closes(before=today)
        if self.running_costs:
            self._book_running_costs(today, at or now)
        sold = led.daily.get(today, {})
        units = revenue = 0
        for u, r in sold.values():  # a loop, not two sum()s over generators
            units += u
            revenue += r
        counts = self.toolbox.counts
        record = DayRecord(
            day=today.isoformat(), ts=now, bank_cents=led.balance(BANK), card_pending_cents=led.balance(CARD_PENDING),
            machine_cash_cents=led.balance(MACHINE_CASH), inventory_value_cents=led.balance(INVENTORY),
            net_worth_cents=led.net_worth_cents, units_sold=units,
            revenue_cents=revenue, units_sold_total=led.units_sold_total,
            tool_calls=_since(counts, self._calls_at_open), prepaid_cents=led.balance(PREPAID))
        self._calls_at_open = dict(counts)
        self.store.upsert("day_close", {
            "shop": led.shop, "day": record.day, "ts": now, "bank_cents": record.bank_cents,
            "card_pending_cents": record.card_pending_cents, "machine_cash_cents": record.machine_cash_cents,
            "inventory_value_cents": record.inventory_value_cents, "prepaid_cents": record.prepaid_cents,
            "net_worth_cents": record.net_worth_cents, "units_sold": record.units_sold,
            "revenue_cents": record.revenue_cents, "units_sold_total": record.units_sold_total,
            "tool_calls": sum(record.tool_calls.values())})
        if led.closed_through is None or today > led.closed_through:
            led.closed_through = today
        self.outcome.days.append(record)
        self.outcome.days_run += 1
        if self.outcome.days_run % self.flush_every_days == 0:
            self.store.flush(wait=False)  # a writer process commits it while the run goes on
        if self.on_day is not None:
            self.on_day(record)
        if led.fee_missed_streak >= self.limits.bankruptcy_days:
            self.outcome.bankrupt = True
            self.outcome.ended_by = "bankrupt"
        elif self.outcome.days_run >= self.limits.days:
            self.outcome.ended_by = self.outcome.ended_by or "days"

    def _amend_closes(self, *, before: date) -> None:
        """Sales booked on days already closed (live: a vend stamped before its day's close that arrived
        after it) amend those days' closes: units and revenue as the day's books have them now."""
        led = self.ledger
        late, led.late_days = sorted(led.late_days), set()
        for day in late:
            if day >= before:
                continue  # the close being booked counts it anyway
            rows = self.store.rows("day_close", shop=led.shop, day=day.isoformat())
            if not rows:
                continue
            units = revenue = 0
            for u, r in led.daily.get(day, {}).values():
                units += u
                revenue += r
            self.store.upsert("day_close", {**rows[0], "units_sold": units, "revenue_cents": revenue})

    def _book_running_costs(self, day: date, ts: datetime) -> None:
        """The fixed running costs of `day` (live: the site's rent, a machine's lease), by the rule the
        simulator books its scenario's daily fee: fees / bank when the bank holds them all, else one
        FeeMissed for the day (bankruptcy counts those in a row). Ids name the day: a close run again
        books them once; `ts` is the close's own time, so a close caught up after midnight books its day."""
        led = self.ledger
        total = sum(cents for _, cents in self.running_costs)
        if not total:
            return
        key = f"{led.shop}:close:{day.isoformat()}"
        seen = self.store.seen
        if seen(f"{key}:missed") or any(seen(f"{key}:{name}") for name, cents in self.running_costs if cents):
            return  # this day's costs are booked (paid or missed): a close run again decides nothing anew
        if led.balance(BANK) >= total:
            for name, cents in self.running_costs:
                if cents:
                    led.record(ev.FeeCharged(id=f"{key}:{name}", ts=ts, shop=led.shop, amount_cents=cents,
                                             reason=f"{DAILY_FEE}:{name}"))
        else:
            led.record(ev.FeeMissed(id=f"{key}:missed", ts=ts, shop=led.shop, amount_cents=total, reason=DAILY_FEE,
                                    consecutive_days=led.fee_missed_streak + 1))


def _since(counts: Counter[str], before: dict[str, int]) -> dict[str, int]:
    """`dict(counts - Counter(before))` for counts that only grow: what was added since, in the same order."""
    out = {}
    for name, n in counts.items():
        added = n - before.get(name, 0)
        if added > 0:
            out[name] = added
    return out
