"""The live scheduler: the jobs of `scheduler.jobs` on APScheduler's BackgroundScheduler, with the
SQLAlchemy job store in the shop's own database.

Exactly-once daily close, two ways:
- APScheduler keeps each job's next fire time in the database. On start, jobs already stored are
  kept as they are (re-adding them would move a missed fire time past now and lose it), so a close
  that fell due while the process was down or stopped is run on start-up: `coalesce` folds several
  missed fires into one, and the close has no misfire grace limit (it runs however late).
- Every run of a keyed job claims a row in `scheduler_run` keyed by (job, the fire time it stands
  for: the trigger's latest fire time at or before now). A second fire for the same period (a
  double start, a restart racing a run) finds the row `done` and changes nothing. A claim left
  `running` by a process that died is retried by the next process.

APScheduler's persistent store needs a job function it can name in text, so jobs point at
`scheduler.live:fire`, which finds the host of the running LiveScheduler by its name: the one
table of live objects in the project, forced by the persistent store.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from scheduler.jobs import JobDef, JobHost

log = logging.getLogger("vendbridge.scheduler")

# Seconds a missed fire may be late and still run; None: however late (the daily close).
MISFIRE_GRACE: dict[str, int | None] = {"close_day": None, "open_day": 4 * 3600, "weekly_review": 24 * 3600,
                                        "reminders": 3600, "reconcile_payments": 18 * 3600}
KEYED = frozenset({"open_day", "close_day", "weekly_review", "reconcile_payments"})  # at most once per fire time
JOBS_TABLE = "apscheduler_jobs"

_META = MetaData()
RUNS = Table(
    "scheduler_run", _META,
    Column("job", String(64), primary_key=True),
    Column("run_key", String(64), primary_key=True),  # the fire time the run stands for, UTC ISO
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("owner", String(64), nullable=False),  # the LiveScheduler instance that claimed it
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

_ACTIVE: dict[str, LiveScheduler] = {}
_ACTIVE_LOCK = threading.Lock()


def latest_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's latest fire time at or before `now` (looking back at most 8 days), found by
    walking forward from the start of the shortest window that holds one."""
    for back in (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), timedelta(days=8)):
        t = trigger.get_next_fire_time(None, now - back)
        last = None
        while t is not None and t <= now:
            last = t
            t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
        if last is not None:
            return last
    return None


def fire(name: str, job: str) -> None:
    """Every stored job calls this; it runs `job` on the host of the LiveScheduler called `name`."""
    with _ACTIVE_LOCK:
        live = _ACTIVE.get(name)
    if live is None:
        log.warning("job %s fired for scheduler %s, which is not running here", job, name)
        return
    live.run_job(job)


class LiveScheduler:
    def __init__(self, *, host: JobHost, db_url: str, jobs: Sequence[JobDef], tz: tzinfo,
                 name: str = "shop", engine: Engine | None = None) -> None:
        self.host = host
        self.name = name
        self.tz = tz
        self.jobs = {j.name: j for j in jobs}
        self.owner = uuid.uuid4().hex
        self.engine = engine or create_engine(db_url, pool_pre_ping=True)
        _META.create_all(self.engine, tables=[RUNS], checkfirst=True)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE)},
            executors={"default": ThreadPoolExecutor(max_workers=1)},  # jobs run one at a time
            job_defaults={"coalesce": True, "max_instances": 1}, timezone=tz)
        self.ran: list[tuple[str, str]] = []  # (job, run key) run by this instance, in order
        self.skipped: list[tuple[str, str]] = []

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Load the stored jobs, add the ones not stored yet, then run whatever is due."""
        with _ACTIVE_LOCK:
            if self.name in _ACTIVE:
                raise RuntimeError(f"a scheduler named {self.name!r} is already running in this process")
            _ACTIVE[self.name] = self
        self.scheduler.start(paused=True)
        for job in self.jobs.values():
            stored = self.scheduler.get_job(job.name)
            if stored is None:
                self.scheduler.add_job("scheduler.live:fire", trigger=job.trigger, args=(self.name, job.name),
                                       id=job.name, name=job.description,
                                       misfire_grace_time=MISFIRE_GRACE.get(job.name, 3600))
            elif str(stored.trigger) != str(job.trigger):
                log.info("job %s: trigger changed from %s to %s", job.name, stored.trigger, job.trigger)
                self.scheduler.reschedule_job(job.name, trigger=job.trigger)
        for stale in {j.id for j in self.scheduler.get_jobs()} - self.jobs.keys():
            self.scheduler.remove_job(stale)
        self.scheduler.resume()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing; with `wait`, a job that is running finishes first (nothing half-done)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        with _ACTIVE_LOCK:
            if _ACTIVE.get(self.name) is self:
                del _ACTIVE[self.name]

    def next_run(self, job: str) -> datetime | None:
        found = self.scheduler.get_job(job)
        return found.next_run_time if found is not None else None

    # --- running a job ------------------------------------------------------------------------
    def run_job(self, job: str, *, at: datetime | None = None) -> bool:
        """Run `job` on the host unless its period already ran; True when it ran. The period is the
        trigger's latest fire time at or before `at` (default now), and the host is told it (`at=`), so
        a close caught up after midnight books the day it was due. A job that is not keyed runs always."""
        when = self._period(job, at)
        key = when.astimezone(UTC).isoformat() if when is not None and job in KEYED else None
        if key is not None and not self._claim(job, key):
            self.skipped.append((job, key))
            log.info("job %s for %s already done; skipped", job, key)
            return False
        try:
            getattr(self.host, job)(at=when)
        except Exception:
            if key is not None:
                self._finish(job, key, "failed")
            log.exception("job %s failed", job)
            raise
        if key is not None:
            self._finish(job, key, "done")
        self.ran.append((job, key or ""))
        return True

    def _period(self, job: str, at: datetime | None) -> datetime | None:
        if job not in self.jobs or job not in KEYED:
            return at
        return latest_fire(self.jobs[job].trigger, (at or datetime.now(UTC)).astimezone(self.tz))

    def _claim(self, job: str, key: str) -> bool:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            try:
                conn.execute(RUNS.insert().values(job=job, run_key=key, status="running", owner=self.owner,
                                                  started_at=now))
                return True
            except IntegrityError:
                pass
        with self.engine.begin() as conn:
            row = conn.execute(select(RUNS.c.status, RUNS.c.owner).where(
                RUNS.c.job == job, RUNS.c.run_key == key).with_for_update()).first()
            if row is None or row.status == "done" or (row.status == "running" and row.owner == self.owner):
                return False
            # failed, or left running by a process that is gone: take it over
            conn.execute(update(RUNS).where(RUNS.c.job == job, RUNS.c.run_key == key).values(
                status="running", owner=self.owner, started_at=now, finished_at=None))
            return True

    def _finish(self, job: str, key: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(RUNS).where(RUNS.c.job == job, RUNS.c.run_key == key).values(
                status=status, finished_at=datetime.now(UTC)))

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(RUNS).order_by(RUNS.c.started_at))]
