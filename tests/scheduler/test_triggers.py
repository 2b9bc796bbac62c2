"""LocalTimeTrigger gives CronTrigger's fire times for every input: value, zone and `fold` alike,
also around DST changes (gaps, repeated hours, Lord Howe's 30-minute change, changes at midnight),
with and without a previous fire time. It is a CronTrigger in every other respect: `str`, fields,
and what the live job store keeps of it."""

from __future__ import annotations

import pickle
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.triggers import WEEKDAYS, LocalTimeTrigger

FIRST, LAST = datetime(2020, 1, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC)


class MadeUpZone(tzinfo):
    """A zone whose UTC offset changes at the given instants (naive UTC), to `offsets[k + 1]` at
    `starts[k]`, following PEP 495 like zoneinfo: in a repeated stretch `fold` picks the later
    offset, in a gap `fold=0` the offset from before it. It has changes that no real zone has
    today (a gap from 23:00 into the next day, a change at 10:37, a day skipped, two changes a few
    hours apart), for the corners of CronTrigger's search."""

    def __init__(self, name: str, first: timedelta, changes: Sequence[tuple[datetime, timedelta]]) -> None:
        self.name = name
        self.starts = [at for at, _ in changes]
        self.offsets = [first, *(off for _, off in changes)]
        # the wall-clock stretch each period shows (period k runs from starts[k - 1] to starts[k])
        edges = [datetime.min, *self.starts, datetime.max]  # noqa: DTZ901  (naive UTC)
        self.shown = [(lo if lo == datetime.min else lo + off, hi if hi == datetime.max else hi + off)  # noqa: DTZ901
                      for lo, hi, off in zip(edges[:-1], edges[1:], self.offsets, strict=True)]

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self.offsets[0]
        wall = dt.replace(tzinfo=None, fold=0)
        shown = [k for k, (lo, hi) in enumerate(self.shown) if lo <= wall < hi]
        if shown:
            return self.offsets[shown[-1] if dt.fold else shown[0]]
        after = next(k for k, (lo, _) in enumerate(self.shown) if lo > wall)  # in a gap
        return self.offsets[after if dt.fold else after - 1]

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        k = bisect_right(self.starts, utc)
        wall = utc + self.offsets[k]
        return wall.replace(tzinfo=self, fold=int(k > 0 and wall < self.shown[k - 1][1]))

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return self.name


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC).replace(tzinfo=None)


H, M = timedelta(hours=1), timedelta(minutes=1)
ODD = MadeUpZone("Odd", -10 * H, [  # local times:
    (_utc(2026, 3, 8, 9), -9 * H),  # Saturday 23:00 -> Sunday 00:00
    (_utc(2026, 3, 9, 19, 37), -9 * H - 35 * M),  # 10:37 -> 10:02, 35 minutes repeated
    (_utc(2026, 3, 10, 1, 37), -9 * H),  # six hours later: 16:02 -> 16:37
    (_utc(2026, 6, 6, 9), 15 * H),  # Saturday 00:00 -> Sunday 00:00: Saturday is skipped
    (_utc(2026, 8, 31, 12, 59, 30), 16 * H),  # 03:59:30 -> 04:59:30
    (_utc(2026, 8, 31, 16), 15 * H),  # three hours later: 08:00 -> 07:00
    (_utc(2026, 10, 31, 8), 14 * H),  # Saturday 23:00 -> 22:00, an hour repeated
])
# The zones the brief names, changes at midnight (Havana) and at 24:00 (Santiago), datetime's own
# UTC (the live tests' zone), and the made-up one.
ZONES: tuple[tzinfo, ...] = (
    *(ZoneInfo(k) for k in ("America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "UTC",
                            "Asia/Kolkata", "America/Havana", "America/Santiago")),
    UTC, ODD,
)


def same(a: datetime | None, b: datetime | None) -> bool:
    """Equal as the scheduler sees them: `==` between datetimes of one zone ignores `fold`."""
    if a is None or b is None:
        return a is b
    return (a.replace(tzinfo=None), a.fold, a.tzinfo, a.utcoffset()) == \
        (b.replace(tzinfo=None), b.fold, b.tzinfo, b.utcoffset())


@cache
def changes(tz: tzinfo) -> tuple[datetime, ...]:
    """The instants (UTC, to the second) where `tz`'s offset changes between FIRST and LAST."""
    if isinstance(tz, MadeUpZone):
        return tuple(at.replace(tzinfo=UTC) for at in tz.starts)
    found = []
    day = FIRST
    while day < LAST:
        nxt = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = day, nxt  # offset(lo) != offset(hi): bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        day = nxt
    return tuple(found)


@st.composite
def cases(draw: st.DrawFn) -> tuple[tzinfo, int, int, str | None, datetime | None, datetime]:
    """A trigger (zone, hour, minute, weekday) and an input (previous fire time, now). Half the
    instants fall within nine days of one of the zone's offset changes, and then the hour is often
    the local hour of the change (a time in the gap or in the repeated hour)."""
    tz = draw(st.sampled_from(ZONES))
    near = changes(tz)
    hours = st.integers(0, 23)
    if near and draw(st.booleans()):
        change = draw(st.sampled_from(near))
        instant = change + timedelta(seconds=draw(st.integers(-9 * 86400, 9 * 86400)))
        local = {(change + timedelta(minutes=m)).astimezone(tz).hour for m in (-61, -1, 0, 30, 61)}
        hours = st.one_of(hours, st.sampled_from(sorted(local)))
    else:
        instant = FIRST + timedelta(seconds=draw(st.integers(0, int((LAST - FIRST).total_seconds()))))
    hour = draw(hours)
    minute = draw(st.one_of(st.integers(0, 59), st.sampled_from([0, 15, 30, 45, 55, 59])))
    weekday = draw(st.one_of(st.none(), st.sampled_from(WEEKDAYS)))
    instant += timedelta(microseconds=draw(st.sampled_from([0, 1, 999_999, 500_000])))
    # `now` as a scheduler would pass it: in the trigger's zone, in UTC, or in the zone with the
    # other `fold` (wall-clock arithmetic on an aware datetime leaves fold at 0)
    now = draw(st.sampled_from(["zone", "utc", "other fold"]))
    at = instant.astimezone(tz) if now != "utc" else instant
    if now == "other fold":
        at = at.replace(fold=1 - at.fold)
    cron = CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=tz)
    previous = draw(st.sampled_from(["none", "fire", "fire, other fold", "any"]))
    prev = None
    if previous.startswith("fire"):  # one of the trigger's fire times before now, asked again as of then
        prev = cron.get_next_fire_time(None, at - timedelta(seconds=draw(st.integers(0, 9 * 86400))))
        if prev is not None and previous.endswith("other fold"):
            prev = prev.replace(fold=1 - prev.fold)
        if prev is not None:
            at = draw(st.sampled_from([at, prev, prev + timedelta(seconds=1)]))
    elif previous == "any":
        prev = (at + timedelta(seconds=draw(st.integers(-9 * 86400, 3600)))).astimezone(tz)
    return tz, hour, minute, weekday, prev, at


@settings(max_examples=1500, deadline=None)
@given(cases())
def test_the_same_fire_time_as_crontrigger_for_every_input(case) -> None:
    tz, hour, minute, weekday, prev, now = case
    cron = CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=tz)
    fast = LocalTimeTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=tz)
    expected = cron.get_next_fire_time(prev, now)
    got = fast.get_next_fire_time(prev, now)
    assert same(got, expected), (got, got and got.fold, expected, expected and expected.fold)


@pytest.mark.parametrize("change", ODD.starts, ids=str)
def test_around_each_change_of_the_made_up_zone(change: datetime) -> None:
    """Corners too narrow for random instants to find: e.g. on Saturday 22:30 in the made-up zone, a
    trigger for Saturdays at 22:00 steps to the next hour, which is Sunday 00:00 there, and
    CronTrigger (which then checks the hour, not the weekday) fires on Sunday at 22:00."""
    around = [(change + timedelta(seconds=s)).replace(tzinfo=UTC) for s in range(-3 * 3600, 3 * 3600, 9 * 60 + 13)]
    local = [t.astimezone(ODD) for t in around]
    for weekday in (None, *sorted({WEEKDAYS[t.weekday()] for t in local})):
        for hour in sorted({t.hour for t in local}):
            for minute in (0, 30, 59):
                cron = CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=ODD)
                fast = LocalTimeTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=ODD)
                for now in local:
                    expected = cron.get_next_fire_time(None, now)
                    assert same(fast.get_next_fire_time(None, now), expected), (weekday, hour, minute, now)
                    assert same(fast.get_next_fire_time(expected, expected), cron.get_next_fire_time(expected, expected))


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(("hour", "minute", "weekday"), [(8, 0, None), (8, 30, "mon"), (23, 55, None),
                                                         (2, 15, None), (1, 30, "sun"), (0, 0, None)])
def test_two_years_of_fire_times_are_crontriggers(tz: tzinfo, hour: int, minute: int, weekday: str | None) -> None:
    """Every fire time of 2026-2027 in a row, each asked from the one before (as the virtual schedule
    and APScheduler do): 02:15, 01:30 and 00:00 fall in gaps or repeated hours in some of the zones."""
    cron = CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=tz)
    fast = LocalTimeTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=tz)
    start = datetime(2026, 1, 1, tzinfo=tz)
    expected, got = [cron.get_next_fire_time(None, start)], [fast.get_next_fire_time(None, start)]
    while expected[-1] is not None and expected[-1] < datetime(2028, 1, 1, tzinfo=tz) and len(expected) < 800:
        expected.append(cron.get_next_fire_time(expected[-1], expected[-1]))
        got.append(fast.get_next_fire_time(got[-1], got[-1]))
    assert len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected, strict=True))


def test_it_is_the_crontrigger_it_equals_in_text_and_in_the_job_store() -> None:
    tz = ZoneInfo("America/Los_Angeles")
    fast = LocalTimeTrigger(day_of_week="mon", hour=8, minute=30, timezone=tz)
    cron = CronTrigger(day_of_week="mon", hour=8, minute=30, timezone=tz)
    assert isinstance(fast, CronTrigger)
    assert str(fast) == str(cron) == "cron[day_of_week='mon', hour='8', minute='30']"
    assert repr(fast) == "<LocalTimeTrigger (day_of_week='mon', hour='8', minute='30', timezone='America/Los_Angeles')>"
    stored = pickle.loads(pickle.dumps(fast, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(stored) is CronTrigger and repr(stored) == repr(cron)
    assert stored.__getstate__() == cron.__getstate__()
    at = datetime(2026, 3, 4, 9, 0, tzinfo=tz)
    assert stored.get_next_fire_time(None, at) == fast.get_next_fire_time(None, at) == datetime(2026, 3, 9, 8, 30, tzinfo=tz)


@pytest.mark.parametrize("bad", [{"hour": 24, "minute": 0}, {"hour": 8, "minute": 60}, {"hour": -1, "minute": 0},
                                 {"hour": 8, "minute": 0, "day_of_week": "monday"}])
def test_a_time_or_weekday_that_does_not_exist_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        LocalTimeTrigger(timezone=UTC, **bad)
