"""A cron trigger for one local time of day, every day or on one weekday, that answers
`get_next_fire_time` cheaply.

`LocalTimeTrigger(hour=8, minute=0, timezone=tz)` is a `CronTrigger(hour=8, minute=0, timezone=tz)`
(and with `day_of_week="mon"`, the CronTrigger with that weekday too): the same fields, the same
`str` and the same fire times for every input. Only `get_next_fire_time` is its own. CronTrigger's
search is generic: eight fields, each asked through its expressions, most steps rebuilding a
datetime from a dict, one day at a time for a weekday (~80 us for a daily trigger, ~210 us for a
weekly one; the simulator asks ~800 times a simulated year). This trigger takes the very same steps
that CronTrigger's search takes for these fields (the `*` fields always match and are skipped), with
the same datetime arithmetic, so it lands on the same datetime, value and `fold` alike, also where a
step crosses a DST change: CronTrigger adds a step's wall-clock difference in UTC, so near a change
it can land an hour off and go on from there (a Monday 00:30 trigger skips the Monday after the
spring change in Los Angeles), and this trigger does the same. The one difference: it keeps each
instant in UTC alongside instead of converting the local datetime back to UTC, which gives the same
instant for zones that convert UTC to local time and back exactly, as PEP 495 asks (zoneinfo,
datetime.timezone). Property tests check it against CronTrigger over random instants in several
zones and years, and around odd changes of a made-up zone. About a fifth of CronTrigger's cost for
a daily trigger, a seventh for a weekly one.

Pickled (the live job store) or copied, it is the CronTrigger it equals: the database holds only
APScheduler's own classes, so a job stored before or after this trigger existed loads either way,
and a restart finds the stored trigger's `str` unchanged (a changed trigger would be rescheduled
from now, and a close missed while the process was down would be lost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # CronTrigger's names; Monday is 0
_US = timedelta(microseconds=1)
# What CronTrigger's search does next, after a step: check the weekday, the hour or the minute.
_DAY_LEVEL, _HOUR_LEVEL, _MINUTE_LEVEL = 0, 1, 2


class LocalTimeTrigger(CronTrigger):
    """Fires at `hour`:`minute`:00 local time in `timezone`, every day, or only on `day_of_week`."""

    __slots__ = ("_hour", "_minute", "_weekday")

    def __init__(self, *, hour: int, minute: int, timezone: tzinfo, day_of_week: str | None = None) -> None:
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError(f"no such time of day: {hour}:{minute:02d}")
        if day_of_week is not None and day_of_week not in WEEKDAYS:
            raise ValueError(f"day_of_week must be one of {', '.join(WEEKDAYS)}, not {day_of_week!r}")
        super().__init__(day_of_week=day_of_week, hour=hour, minute=minute, timezone=timezone)
        self._hour = hour
        self._minute = minute
        self._weekday = None if day_of_week is None else WEEKDAYS.index(day_of_week)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (or copied), a bare CronTrigger given this trigger's CronTrigger state."""
        return object.__new__, (CronTrigger,), self.__getstate__()

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Where CronTrigger starts looking: its own lines for a trigger without start or end date,
        # with the instant kept in UTC as well (`u`), so that no datetime is converted back to UTC.
        tz = self.timezone
        if previous_fire_time:
            u = min(now.astimezone(UTC), previous_fire_time.astimezone(UTC) + _US)
            start = u.astimezone(tz)
            if start == previous_fire_time:
                u += _US
                start = u.astimezone(tz)
        else:
            u = now.astimezone(UTC)
            start = now
        if start.microsecond:  # datetime_ceil
            u += timedelta(0, 1, -start.microsecond)  # (days, seconds, microseconds)
            at = u.astimezone(tz)
        else:
            at = start.astimezone(tz)
        if not 1970 <= at.year < 9999:  # CronTrigger's year field jumps to 1970, or runs out of years
            return super().get_next_fire_time(previous_fire_time, now)
        hour, minute, weekday = self._hour, self._minute, self._weekday
        # CronTrigger's search over its fields, which it resumes after each step at the field the
        # step changed: a step to the next day rechecks the weekday, to the next hour the hour.
        level = _DAY_LEVEL
        while True:
            if level == _DAY_LEVEL and weekday is not None and at.weekday() != weekday:
                at, u, level = _step(at, u, tz, _DAY_LEVEL)
                continue
            if level <= _HOUR_LEVEL:
                if at.hour > hour:
                    at, u, level = _step(at, u, tz, _DAY_LEVEL)
                    continue
                if at.hour < hour:  # set the hour (minute and second to their least), then the minute
                    return datetime(at.year, at.month, at.day, hour, minute, 0, 0, tz, fold=at.fold)
            if at.minute > minute:
                at, u, level = _step(at, u, tz, _HOUR_LEVEL)
                continue
            if at.minute < minute:
                return datetime(at.year, at.month, at.day, at.hour, minute, 0, 0, tz, fold=at.fold)
            if at.second == 0:
                return at
            at, u, level = _step(at, u, tz, _MINUTE_LEVEL)


def _step(at: datetime, u: datetime, tz: tzinfo, unit: int) -> tuple[datetime, datetime, int]:
    """CronTrigger's `_increment_field_value`: on to the start of the next day, hour or minute (a
    unit at its last value carries into the one above), adding the wall-clock difference to the
    instant in UTC (`u`: `at` in UTC). Returns the new datetime, in `tz` and in UTC, and the level
    the search resumes at."""
    if unit == _MINUTE_LEVEL and at.minute == 59:
        unit = _HOUR_LEVEL
    if unit == _HOUR_LEVEL and at.hour == 23:
        unit = _DAY_LEVEL
    past = at.second  # the wall clock past the start of the unit, in seconds
    if unit != _MINUTE_LEVEL:
        past += 60 * at.minute
        if unit == _DAY_LEVEL:
            past += 3600 * at.hour
    length = 86400 if unit == _DAY_LEVEL else 3600 if unit == _HOUR_LEVEL else 60
    u += timedelta(0, length - past, -at.microsecond)
    return u.astimezone(tz), u, unit
