"""The shop's jobs, declared once as APScheduler triggers.

Live, `scheduler.live` hands them to a BackgroundScheduler; in simulation `scheduler.virtual`
asks the very same trigger objects for their next fire time. A job at a local time of day is a
`LocalTimeTrigger`: a CronTrigger that answers the simulator's ~800 questions a year cheaply. A job
names a method of the `JobHost` (the runtime), so this module depends on nothing but APScheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.triggers import LocalTimeTrigger


class JobHost(Protocol):
    """Each job gets `at`: the fire time its run stands for (None when there is none, e.g. an interval
    job). A run that is late (a close caught up after a restart) still works on the period of `at`."""

    def open_day(self, at: datetime | None = None) -> None:
        """Morning: the shopkeeper's working session."""

    def close_day(self, at: datetime | None = None) -> None:
        """Evening: book the close of the day `at` falls in, daily report, checks."""

    def weekly_review(self, at: datetime | None = None) -> None:
        """Monday: price and assortment review."""

    def reminders(self, at: datetime | None = None) -> None:
        """Every few hours: overdue tasks and orders, unanswered messages."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDef:
    name: str  # also the JobHost method it calls
    trigger: BaseTrigger
    description: str


def shop_jobs(tz: tzinfo, *, start: datetime, open_hour: int = 8, close_hour: int = 23,
              close_minute: int = 55) -> tuple[JobDef, ...]:
    """`start`: when the schedule starts (the simulation's first instant, or now live). The
    reminders run every 4 hours from the local midnight of that day: an IntervalTrigger without a
    start date would count from the wall clock's now, which a simulation of another year must not see."""
    midnight = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    anchor = midnight.replace(tzinfo=tz)
    return (
        JobDef(name="open_day", trigger=LocalTimeTrigger(hour=open_hour, minute=0, timezone=tz),
               description="the shopkeeper's daily session"),
        JobDef(name="weekly_review",
               trigger=LocalTimeTrigger(day_of_week="mon", hour=open_hour, minute=30, timezone=tz),
               description="weekly price and assortment review"),
        JobDef(name="reminders", trigger=IntervalTrigger(hours=4, start_date=anchor, timezone=tz),
               description="overdue tasks, orders and messages"),
        JobDef(name="close_day", trigger=LocalTimeTrigger(hour=close_hour, minute=close_minute, timezone=tz),
               description="book the day's close and report"),
    )


class PaymentsJobHost(Protocol):
    """Optional: a host with a card processor (live Stripe). The simulator has no such job: its
    payments are its own truth, so `payment_jobs` is only added to a live schedule."""

    def reconcile_payments(self, at: datetime | None = None) -> None:
        """Early morning: the card processor's movements of the day before `at`'s day against the ledger."""


def payment_jobs(tz: tzinfo, *, hour: int = 6) -> tuple[JobDef, ...]:
    return (JobDef(name="reconcile_payments", trigger=LocalTimeTrigger(hour=hour, minute=15, timezone=tz),
                   description="reconcile yesterday's Stripe balance transactions with the ledger"),)
