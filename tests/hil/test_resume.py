"""A shop process that stops carries on from where it stopped (bridge/resume.py): the schedule goes on
after the last job run, whatever ran at the same instant."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.jobs import shop_jobs
from scheduler.virtual import VirtualSchedule

TZ = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=TZ)  # a Monday: the weekly review too


def test_the_schedule_goes_on_after_the_last_job_run_and_runs_each_job_once() -> None:
    """From every point of three days (the open and the reminders both at 8:00, the weekly review at 8:30),
    a schedule rebuilt from the run's start with `after` = the last job run gives exactly the jobs the
    first one gave after it: a job due at the restart's own time runs once, not twice, not never."""
    jobs = shop_jobs(TZ, start=T0)
    first = VirtualSchedule(jobs, start=T0)
    fired = [first.pop() for _ in range(24)]
    assert fired[:3] == [(T0, "reminders"), (T0.replace(hour=4), "reminders"), (T0.replace(hour=8), "open_day")]
    assert fired[3] == (T0.replace(hour=8), "reminders")  # due at the same instant as the open
    for k in range(len(fired) - 1):
        again = VirtualSchedule(jobs, start=T0, after=fired[k])
        assert [again.pop() for _ in range(len(fired) - k - 1)] == fired[k + 1:], fired[k]
