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
