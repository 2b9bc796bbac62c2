"""The simulator's virtual clock for jobs: it asks the APScheduler triggers themselves for their
next fire time (APScheduler is not driven by a fake clock)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime

from scheduler.jobs import JobDef

# Jobs due at the same instant run in this order.
PRIORITY = {"close_day": 0, "open_day": 1, "weekly_review": 2, "reminders": 3}


class VirtualSchedule:
    def __init__(self, jobs: Sequence[JobDef], *, start: datetime, only: Sequence[str] | None = None,
                 after: tuple[datetime, str] | None = None) -> None:
        """`after`: the last job a stopped process ran (its fire time and name, bridge/resume.py): the
        schedule from `start` goes on after it (the jobs due at the same time and run before it, too,
        are not run again)."""
        self._jobs = {j.name: j for j in jobs if only is None or j.name in only}
        self._heap: list[tuple[datetime, int, str]] = []
        for job in self._jobs.values():
            first = job.trigger.get_next_fire_time(None, start)
            if first is not None:
                heapq.heappush(self._heap, (first, PRIORITY.get(job.name, 9), job.name))
        if after is not None:
            last = (after[0], PRIORITY.get(after[1], 9))
            while self._heap and self._heap[0][:2] <= last:
                self.pop()

    def pop(self) -> tuple[datetime, str]:
        """The next job due and its fire time; the job is rescheduled from its trigger, asked as of
        that fire time. (Not as of a second later by wall-clock arithmetic: for a fire time in the
        hour that repeats when DST ends, that is an hour earlier, and a cron trigger answers the
        same fire time again, for ever.)"""
        when, prio, name = heapq.heappop(self._heap)
        job = self._jobs[name]
        nxt = job.trigger.get_next_fire_time(when, when)
        if nxt is not None:
            heapq.heappush(self._heap, (nxt, prio, name))
        return when, name

    def peek(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

