"""What a policy is: something that acts through the tools when woken, for a reason."""

from __future__ import annotations

from typing import Any, Protocol

from bridge.tools.executor import Toolbox

SIM_JOBS = ("open_day", "close_day", "weekly_review", "reminders")  # scheduler.jobs' jobs that a simulation runs
REASONS = {"open_day": "open_day", "weekly_review": "weekly_review", "reminders": "messages"}  # job -> `act` reason


class Policy(Protocol):
    name: str

    def act(self, tools: Toolbox, *, reason: str) -> int:
        """Work until done or until `wait_for_next_day`; returns the agent messages it used
        (an LLM's assistant turns; one per session for a programmatic policy)."""
        ...


def jobs_for(policy: Any) -> tuple[str, ...]:
    """The jobs a simulation schedules for `policy`: the day's open and close always (the books close
    every day), the others only when the policy acts on their reason. A policy may say which reasons it
    acts on (`wakes_for`, a set of reasons); one that does not (the LLM shopkeeper, a script) gets every
    job. A wake-up the policy ignores changes nothing and costs a scheduled step each time: the 4-hourly
    reminders are 2,190 of a simulated year's 2,973."""
    wakes = getattr(policy, "wakes_for", None)
    return tuple(job for job in SIM_JOBS
                 if job in ("open_day", "close_day") or wakes is None or REASONS[job] in wakes)
