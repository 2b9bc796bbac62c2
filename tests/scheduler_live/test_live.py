"""The live scheduler on a real APScheduler BackgroundScheduler with its SQLAlchemy job store in the
shop's database (SQLite and a real PostgreSQL): jobs fire; after a stop, a missed daily close runs
exactly once on restart; a second fire for the same day changes nothing. Waits are on conditions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine

from scheduler.jobs import JobDef, shop_jobs
from scheduler.live import JOBS_TABLE, RUNS, LiveScheduler, latest_fire
from scheduler.triggers import LocalTimeTrigger

DEADLINE_S = 10.0
DAILY = CronTrigger(hour=3, minute=0, timezone=UTC)
DAILY_LOCAL = LocalTimeTrigger(hour=3, minute=0, timezone=UTC)  # the same, as the shop's jobs declare it


class Host:
    """A JobHost that counts what it was asked to do and lets a test wait for it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.at: list[datetime | None] = []
        self.cond = threading.Condition()

    def _did(self, job: str) -> None:
        with self.cond:
            self.calls.append(job)
            self.cond.notify_all()

    def open_day(self, at: datetime | None = None) -> None:
        self.at.append(at)
        self._did("open_day")

    def close_day(self, at: datetime | None = None) -> None:
        self.at.append(at)
        self._did("close_day")

    def weekly_review(self, at: datetime | None = None) -> None:
        self.at.append(at)
        self._did("weekly_review")

    def reminders(self, at: datetime | None = None) -> None:
        self.at.append(at)
        self._did("reminders")

    def wait_for(self, job: str, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.calls.count(job) >= n, timeout=DEADLINE_S), self.calls


def wait_until(predicate, what: str) -> None:
    """Poll a condition until a deadline (the scheduler's thread works on its own)."""
    done = threading.Event()
    deadline = datetime.now(UTC) + timedelta(seconds=DEADLINE_S)
    while not predicate():
        assert datetime.now(UTC) < deadline, f"timed out waiting for {what}"
        done.wait(0.01)


def backdate(url: str, job_id: str, when: datetime) -> None:
    """Set a stored job's next fire time to `when`: the process was down when the job came due."""
    engine = create_engine(url)
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    job = store.lookup_job(job_id)
    assert job is not None
    job.next_run_time = when
    store.update_job(job)
    engine.dispose()


def close_runs(url: str) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(RUNS.select().where(RUNS.c.job == "close_day"))]
    engine.dispose()
    return rows


def test_the_shops_jobs_are_stored_with_their_triggers_next_times(db_url) -> None:
    tz = UTC
    jobs = shop_jobs(tz, start=datetime.now(tz))
    live = LiveScheduler(host=Host(), db_url=db_url, jobs=jobs, tz=tz)
    live.start()
    try:
        now = datetime.now(UTC)
        for job in jobs:
            expected = job.trigger.get_next_fire_time(None, now)
            assert abs(live.next_run(job.name) - expected) < timedelta(seconds=5)
            # the store keeps APScheduler's own trigger classes, described as the shop's triggers are
            stored = live.scheduler.get_job(job.name).trigger
            assert type(stored) in (CronTrigger, IntervalTrigger) and str(stored) == str(job.trigger)
    finally:
        live.shutdown()


def test_a_job_fires_on_its_trigger_once_per_fire_time(db_url) -> None:
    host = Host()
    live = LiveScheduler(host=host, db_url=db_url, tz=UTC,
                         jobs=[JobDef(name="close_day", trigger=CronTrigger(second="*", timezone=UTC),
                                      description="every second, for the test")])
    live.start()
    try:
        host.wait_for("close_day", 2)
    finally:
        live.shutdown()
    rows = close_runs(db_url)
    assert len(rows) == host.calls.count("close_day") >= 2
    assert len({r["run_key"] for r in rows}) == len(rows) and all(r["status"] == "done" for r in rows)


@pytest.mark.parametrize("trigger", [DAILY, DAILY_LOCAL], ids=["CronTrigger", "LocalTimeTrigger"])
def test_after_a_stop_missed_closes_run_exactly_once_and_a_refire_changes_nothing(db_url, trigger) -> None:
    jobs = [JobDef(name="close_day", trigger=trigger, description="daily close")]
    first = LiveScheduler(host=Host(), db_url=db_url, jobs=jobs, tz=UTC)
    first.start()
    first.shutdown()  # stopped before the close came due
    due = latest_fire(trigger, datetime.now(UTC))
    assert due is not None
    backdate(db_url, "close_day", due - timedelta(days=2))  # three closes fell due while it was down

    host = Host()
    again = LiveScheduler(host=host, db_url=db_url, jobs=jobs, tz=UTC)
    again.start()
    try:
        host.wait_for("close_day", 1)
        wait_until(lambda: again.ran == [("close_day", due.isoformat())], "the catch-up close to finish")
        assert again.next_run("close_day") == due + timedelta(days=1)  # back on its daily schedule
    finally:
        again.shutdown()
    assert host.calls == ["close_day"]  # three missed fires, coalesced into one close
    assert host.at == [due]  # told the period it closes, not the (later) time it ran
    assert [(r["run_key"], r["status"]) for r in close_runs(db_url)] == [(due.isoformat(), "done")]

    # the same close fires again (stale stored state after a crash): the day is already closed
    backdate(db_url, "close_day", due)
    host2 = Host()
    third = LiveScheduler(host=host2, db_url=db_url, jobs=jobs, tz=UTC)
    third.start()
    try:
        wait_until(lambda: third.skipped == [("close_day", due.isoformat())], "the second fire to be skipped")
    finally:
        third.shutdown()
    assert host2.calls == []
    assert len(close_runs(db_url)) == 1


def test_jobs_stored_on_crontriggers_keep_their_fire_times_when_the_shop_declares_local_time_triggers(
        db_url) -> None:
    """A database written before the shop's jobs were LocalTimeTriggers: the stored job is not
    rescheduled from now (its trigger reads the same), so the close missed meanwhile still runs, once."""
    old = LiveScheduler(host=Host(), db_url=db_url, tz=UTC,
                        jobs=[JobDef(name="close_day", trigger=DAILY, description="daily close")])
    old.start()
    old.shutdown()
    due = latest_fire(DAILY, datetime.now(UTC))
    assert due is not None
    backdate(db_url, "close_day", due)

    host = Host()
    new = LiveScheduler(host=host, db_url=db_url, tz=UTC,
                        jobs=[JobDef(name="close_day", trigger=DAILY_LOCAL, description="daily close")])
    new.start()
    try:
        wait_until(lambda: new.ran == [("close_day", due.isoformat())], "the missed close to run")
        assert new.next_run("close_day") == due + timedelta(days=1)
    finally:
        new.shutdown()
    assert host.at == [due]


def test_a_close_left_running_by_a_dead_process_is_retried_and_a_done_one_is_not(db_url) -> None:
    jobs = [JobDef(name="close_day", trigger=DAILY, description="daily close")]
    host = Host()
    live = LiveScheduler(host=host, db_url=db_url, jobs=jobs, tz=UTC)
    due = latest_fire(DAILY, datetime.now(UTC))
    assert due is not None
    with live.engine.begin() as conn:
        conn.execute(RUNS.insert().values(job="close_day", run_key=due.isoformat(), status="running",
                                          owner="a-process-that-died", started_at=due))
    assert live.run_job("close_day") is True
    assert live.run_job("close_day") is False  # now done
    assert host.calls == ["close_day"]
    assert [r["status"] for r in close_runs(db_url)] == ["done"]
    live.engine.dispose()


def test_a_failed_close_is_recorded_and_retried(db_url) -> None:
    class Failing(Host):
        def __init__(self) -> None:
            super().__init__()
            self.fail = True

        def close_day(self, at: datetime | None = None) -> None:
            if self.fail:
                raise RuntimeError("the books are locked")
            super().close_day(at)

    host = Failing()
    live = LiveScheduler(host=host, db_url=db_url, tz=UTC,
                         jobs=[JobDef(name="close_day", trigger=DAILY, description="daily close")])
    with pytest.raises(RuntimeError):
        live.run_job("close_day")
    assert [r["status"] for r in close_runs(db_url)] == ["failed"]
    host.fail = False
    assert live.run_job("close_day") is True
    assert [r["status"] for r in close_runs(db_url)] == ["done"]
    live.engine.dispose()


def test_a_job_run_for_a_given_time_is_keyed_by_that_period(db_url) -> None:
    host = Host()
    live = LiveScheduler(host=host, db_url=db_url, tz=UTC,
                         jobs=[JobDef(name="close_day", trigger=DAILY, description="daily close")])
    day_end = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    assert live.run_job("close_day", at=day_end) is True
    assert host.at == [datetime(2026, 3, 2, 3, 0, tzinfo=UTC)]  # that day's close, whenever it runs
    assert live.run_job("close_day", at=day_end - timedelta(hours=1)) is False  # the same period: once
    assert live.run_job("close_day", at=day_end + timedelta(days=1)) is True  # the next day's
    assert [r["run_key"] for r in close_runs(db_url)] == ["2026-03-02T03:00:00+00:00", "2026-03-03T03:00:00+00:00"]
    live.engine.dispose()
