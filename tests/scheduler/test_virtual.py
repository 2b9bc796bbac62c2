"""The virtual schedule of the shop's jobs: the same fire times, in the same order, as the same jobs
on APScheduler's own CronTriggers, and a job in the hour that repeats when DST ends moves on."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from scheduler.jobs import JobDef, shop_jobs
from scheduler.triggers import LocalTimeTrigger
from scheduler.virtual import VirtualSchedule

LA = ZoneInfo("America/Los_Angeles")
SHOP = ("open_day", "close_day", "weekly_review", "reminders")


def as_cron(job: JobDef) -> JobDef:
    """The job on the CronTrigger its LocalTimeTrigger equals (a new one, from its own fields)."""
    if not isinstance(job.trigger, LocalTimeTrigger):
        return job
    fields = {f.name: str(f) for f in job.trigger.fields if not f.is_default}
    return JobDef(name=job.name, trigger=CronTrigger(timezone=job.trigger.timezone, **fields),
                  description=job.description)


def fired(schedule: VirtualSchedule, until: datetime) -> list[tuple[datetime, int, str]]:
    out = []
    while (nxt := schedule.peek()) is not None and nxt < until:
        when, job = schedule.pop()
        out.append((when, when.fold, job))
    return out


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "UTC",
                                  "Asia/Kolkata"])
@pytest.mark.parametrize("hours", [{}, {"open_hour": 2, "close_hour": 1, "close_minute": 30}],
                         ids=["shop hours", "jobs in DST changes"])
def test_two_years_of_the_shops_schedule_are_the_crontriggers(zone: str, hours: dict) -> None:
    tz: tzinfo = ZoneInfo(zone)
    start = datetime(2026, 1, 1, 7, 0, tzinfo=tz)
    jobs = shop_jobs(tz, start=start, **hours)
    assert {type(j.trigger) for j in jobs if j.name != "reminders"} == {LocalTimeTrigger}
    until = datetime(2028, 1, 1, tzinfo=tz)
    expected = fired(VirtualSchedule([as_cron(j) for j in jobs], start=start, only=SHOP), until)
    assert fired(VirtualSchedule(jobs, start=start, only=SHOP), until) == expected
    assert len(expected) > 2 * 365 * 8


def test_a_job_in_the_repeated_hour_fires_in_both_and_moves_on() -> None:
    """01:00 comes twice in Los Angeles on 1 November 2026, and a cron trigger fires at both. Asked a
    second after the second one by wall-clock arithmetic (fold 0: an hour earlier), the trigger
    would answer the second one again, and the schedule would run it for ever."""
    start = datetime(2026, 10, 31, tzinfo=LA)
    schedule = VirtualSchedule(shop_jobs(LA, start=start, open_hour=1), start=start, only=("open_day",))
    opens = [schedule.pop()[0] for _ in range(4)]
    assert [(t.isoformat(), t.fold) for t in opens] == [
        ("2026-10-31T01:00:00-07:00", 0), ("2026-11-01T01:00:00-07:00", 0), ("2026-11-01T01:00:00-08:00", 1),
        ("2026-11-02T01:00:00-08:00", 0)]
