"""When the shop is told to expect things: one rule for the simulator and the live side.

A supplier delivers on the shop's local day `lead_time_days` after the order, at the delivery hour;
if that time has already passed (an order placed after the hour on a same-day lead), two hours from
now. A person's task (a restock, a cash collection) is due a fixed number of minutes after it was
asked for (the simulated restocker's delay; live, the ops team's promise in the config); no promise,
no due time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

LATE_SAME_DAY = timedelta(hours=2)


def expected_delivery(now: datetime, lead_time_days: int, *, delivery_hour: int, tz: tzinfo) -> datetime:
    day = now.astimezone(tz).date() + timedelta(days=lead_time_days)
    when = datetime.combine(day, time(delivery_hour), tz)
    return when if when > now else now + LATE_SAME_DAY


def task_due(now: datetime, minutes: int) -> datetime | None:
    return now + timedelta(minutes=minutes) if minutes > 0 else None
