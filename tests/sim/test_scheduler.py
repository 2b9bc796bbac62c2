from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.jobs import shop_jobs
from scheduler.virtual import VirtualSchedule

TZ = ZoneInfo("America/Los_Angeles")


def test_the_virtual_clock_asks_the_apscheduler_triggers() -> None:
    jobs = shop_jobs(TZ, start=datetime(2026, 3, 6, tzinfo=TZ))
    sched = VirtualSchedule(jobs, start=datetime(2026, 3, 6, tzinfo=TZ), only=("open_day", "close_day"))
    fired = [sched.pop() for _ in range(8)]
    opens = [t for t, name in fired if name == "open_day"]
    assert len(opens) == 4
    # 08:00 local every day, across the DST change of 8 March 2026
    assert all(t.hour == 8 and t.minute == 0 for t in opens)
    assert {t.utcoffset().total_seconds() / 3600 for t in opens} == {-8.0, -7.0}
    trigger = next(j.trigger for j in jobs if j.name == "open_day")
    assert trigger.get_next_fire_time(None, opens[0]) == opens[0]


def test_weekly_review_fires_on_mondays() -> None:
    sched = VirtualSchedule(shop_jobs(TZ, start=datetime(2026, 1, 1, tzinfo=TZ)), start=datetime(2026, 1, 1, tzinfo=TZ), only=("weekly_review",))
    days = [sched.pop()[0] for _ in range(3)]
    assert [d.weekday() for d in days] == [0, 0, 0]


def test_reminders_count_from_the_schedules_start_not_the_wall_clock() -> None:
    """A simulated 2026 must not see the real date: the 4-hourly reminders start at the simulated
    start's local midnight, whatever day the run happens on."""
    start = datetime(2026, 1, 5, 8, 0, tzinfo=TZ)
    sched = VirtualSchedule(shop_jobs(TZ, start=start), start=start, only=("reminders",))
    fired = [sched.pop()[0] for _ in range(7)]
    assert fired[0] == datetime(2026, 1, 5, 8, 0, tzinfo=TZ)  # 08:00 is on the 4-hour grid from midnight
    assert [t.hour for t in fired] == [8, 12, 16, 20, 0, 4, 8]
    assert fired[-1].date().isoformat() == "2026-01-06"


def _job_counts(sim) -> dict[str, int]:
    counts: dict[str, int] = {}
    schedule = sim.runtime.schedule
    pop = schedule.pop

    def counting_pop():
        when, name = pop()
        counts[name] = counts.get(name, 0) + 1
        return when, name

    schedule.pop = counting_pop
    return counts


def test_a_policy_is_woken_only_for_what_it_acts_on_and_the_run_is_the_same(make_sim) -> None:
    """The baseline acts in its morning session and on messages (the quotes it asked for arrive in
    its inbox): its simulation schedules no weekly review, and comes out exactly as with every job."""
    from bridge.policies.base import SIM_JOBS, jobs_for

    trimmed = make_sim(seed=3, days=45)
    assert jobs_for(trimmed.policy) == ("open_day", "close_day", "reminders")
    full = make_sim(seed=3, days=45)
    full.runtime.schedule = VirtualSchedule(shop_jobs(full.scenario.tz, start=full.world.now),
                                            start=full.world.now, only=SIM_JOBS)
    ran_trimmed, ran_full = _job_counts(trimmed), _job_counts(full)
    trimmed.run()
    full.run()
    assert set(ran_trimmed) == {"open_day", "close_day", "reminders"} and "weekly_review" not in ran_trimmed
    assert ran_full["weekly_review"] >= 6
    a, b = trimmed.summary(), full.summary()
    for s in (a, b):
        s.pop("run_seconds"), s.pop("run_dir")
    assert a == b and a["state_hash"] == b["state_hash"] and a["units_sold"] > 0
    assert [d.net_worth_cents for d in trimmed.outcome.days] == [d.net_worth_cents for d in full.outcome.days]


def test_a_policy_with_customers_to_answer_keeps_its_reminders(make_sim) -> None:
    from bridge.policies.base import SIM_JOBS, jobs_for

    with_desk = make_sim(scenario="project_vend", seed=1, days=3)
    assert jobs_for(with_desk.policy) == ("open_day", "close_day", "reminders")

    class Silent:  # says nothing of what it acts on (as the LLM shopkeeper): every job
        name = "silent"

        def act(self, tools, *, reason: str) -> int:
            return 0

    assert jobs_for(Silent()) == SIM_JOBS
