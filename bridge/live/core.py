"""The live shop's core thread: one thread owns the books (ledger, store, machines' MQTT queue).

Events from every adapter (MQTT machines, Slack, Stripe webhooks) are recorded by the ingest loop on
the core thread; scheduled jobs (the shopkeeper's sessions, the close) and commands to machines that
other threads ask for are handed to the core thread and run there between batches, so nothing needs a
lock around the books and a job always sees every event that arrived before it ran.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bridge import events as ev
from bridge.domain import MachineView
from bridge.live.ingest import IngestLoop, LiveEventSource
from bridge.ports import Machine, VirtualTime
from bridge.runtime import Runtime

log = logging.getLogger("vendbridge.live")
T = TypeVar("T")
SLICE_S = 0.02  # how long the idle core waits on one source before looking at the others


class Inbox(Protocol):
    """Events adapters queue from their own threads (hardware_adapters.live.EventQueue)."""

    def drain(self) -> list[ev.Event]: ...

    def pending(self) -> int: ...


def as_telemetry(e: ev.Event) -> ev.Event:
    """A device's own report of a restock or a cash collection, when people confirm those (Slack tasks):
    telemetry, so the books take the person's counts once and not the device's report as well."""
    if isinstance(e, ev.Restocked):
        return ev.MachineRestocked(id=e.id, ts=e.ts, shop=e.shop, machine=e.machine, slot=e.slot, sku=e.sku,
                                   count=e.count)
    if isinstance(e, ev.CashCollected):
        return ev.MachineCashCollected(id=e.id, ts=e.ts, shop=e.shop, machine=e.machine, amount_cents=e.amount_cents)
    return e


class MergedSource:
    """The ingest loop's one source: the machines (acknowledged after commit), the adapters' inbox, and
    `durable` sources that never wait (Stripe's inbox table: its rows are marked booked in the commit)."""

    def __init__(self, *, inbox: Inbox, fleet: LiveEventSource | None = None,
                 translate: Callable[[ev.Event], ev.Event] | None = None,
                 interrupted: Callable[[], bool] = lambda: False,
                 durable: Sequence[LiveEventSource] = ()) -> None:
        self.inbox = inbox
        self.fleet = fleet
        self.durable = list(durable)
        self.translate = translate
        self.interrupted = interrupted

    def next_batch(self, *, max_wait_s: float, max_items: int) -> list[ev.Event]:
        deadline = time.monotonic() + max_wait_s
        while True:
            out = self.inbox.drain()
            for src in self.durable:
                out += src.next_batch(max_wait_s=0.0, max_items=max_items)
            if self.fleet is not None:
                wait = 0.0 if out else max(0.0, min(SLICE_S, deadline - time.monotonic()))
                got = self.fleet.next_batch(max_wait_s=wait, max_items=max(1, max_items - len(out)))
                out += [self.translate(e) for e in got] if self.translate else got
            if out or time.monotonic() >= deadline or self.interrupted():
                return out
            if self.fleet is None:
                time.sleep(min(SLICE_S, max(0.0, deadline - time.monotonic())))

    def acknowledge(self) -> None:
        if self.fleet is not None:
            self.fleet.acknowledge()
        for src in self.durable:
            src.acknowledge()


class CoreLoop:
    """Runs the ingest loop and, between its steps, work other threads hand over with `call()`."""

    def __init__(self, *, loop: IngestLoop) -> None:
        self.loop = loop
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._dead: BaseException | None = None
        self.running = False

    def has_work(self) -> bool:
        return not self._work.empty()

    def start(self, stop: threading.Event) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(stop,), name="vend-core", daemon=True)
        self._thread.start()
        return self._thread

    def run(self, stop: threading.Event) -> None:
        self.running = True
        try:
            while not stop.is_set():
                self._run_work()
                self.loop.step()
            self._run_work()
            self.loop.commit()
        except BaseException as crash:  # a failed commit: stop, acknowledge nothing more
            self._dead = crash
            log.exception("the core loop stopped")
            self._fail_pending(crash)
            raise
        finally:
            self.running = False

    def _run_work(self) -> None:
        while True:
            try:
                fn, fut = self._work.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as err:  # the caller gets it (a job's failure is the job's)
                fut.set_exception(err)

    def _fail_pending(self, crash: BaseException) -> None:
        while True:
            try:
                _fn, fut = self._work.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(RuntimeError(f"the core loop stopped: {crash!r}"))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the core thread and return its result (directly when already on it)."""
        if threading.current_thread() is self._thread or self._thread is None:
            return fn()
        if self._dead is not None or not self._thread.is_alive():
            raise RuntimeError("the core loop is not running")
        fut: Future[T] = Future()
        self._work.put((fn, fut))
        while True:
            try:
                return fut.result(timeout=1.0)
            except TimeoutError:
                if not self._thread.is_alive() and not fut.done():
                    self._fail_pending(self._dead or RuntimeError("stopped"))


class CoreMachine:
    """A machine for threads other than the core (Slack handlers): commands run on the core thread."""

    def __init__(self, *, machine: Machine, core: CoreLoop) -> None:
        self.machine = machine
        self.core = core
        self.machine_id = machine.machine_id

    def view(self) -> MachineView:
        return self.machine.view()

    def set_price(self, slot: str, price_cents: int) -> None:
        self.core.call(lambda: self.machine.set_price(slot, price_cents))

    def lock(self) -> None:
        self.core.call(self.machine.lock)

    def unlock(self) -> None:
        self.core.call(self.machine.unlock)

    def display(self, text: str) -> None:
        self.core.call(lambda: self.machine.display(text))


class LivePump:
    """The runtime's EventSource live: the ingest loop records (and the tools observe) events as they
    come, so `drain()` brings the books up to date and has nothing left to hand back."""

    def __init__(self, *, loop: IngestLoop, clock: Any = None) -> None:
        self.loop = loop
        self.clock = clock if isinstance(clock, VirtualTime) else None

    def drain(self) -> list[ev.Event]:
        self.loop.pump()
        return []

    def wait_until(self, when: datetime) -> list[ev.Event]:
        """On a virtual clock (`vend hil`): move it to `when` (the outside plays what falls due on the way
        and returns once the adapters are quiet), then record what came. On the wall clock the scheduler
        fires the jobs and nothing waits here."""
        if self.clock is None:
            raise RuntimeError("live jobs are fired by the scheduler; nothing waits on the runtime's clock")
        self.clock.advance_to(when)
        self.loop.pump()
        return []


class LiveHost:
    """scheduler.jobs.JobHost live: every job runs the runtime's method on the core thread;
    `after_close` (the daily report) follows a close; with `reconcile`, also a PaymentsJobHost."""

    def __init__(self, *, runtime: Runtime, core: CoreLoop,
                 after_close: Callable[[datetime | None], None] | None = None,
                 reconcile: Callable[[datetime | None], Any] | None = None) -> None:
        self.runtime = runtime
        self.core = core
        self.after_close = after_close
        self.reconcile = reconcile  # the card processor's daily reconciliation (Stripe), if there is one

    def _job(self, name: str, at: datetime | None) -> None:
        t0 = time.perf_counter()
        crashes = self.runtime.outcome.crashes
        before = len(crashes)
        runtime = self.runtime

        def job() -> None:
            getattr(runtime, name)(at=at)
            runtime.job_done(at or runtime.backend.clock.now(), name)  # its memory saved (bridge/resume.py)

        self.core.call(job)
        for crash in crashes[before:]:  # the runtime keeps the shop going; the log says what broke
            log.error("policy crashed", extra={"job": name, "crash": crash})
        log.info("job done", extra={"job": name, "at": at.isoformat() if at else None,
                                    "seconds": round(time.perf_counter() - t0, 3)})

    def open_day(self, at: datetime | None = None) -> None:
        self._job("open_day", at)

    def weekly_review(self, at: datetime | None = None) -> None:
        self._job("weekly_review", at)

    def reminders(self, at: datetime | None = None) -> None:
        self._job("reminders", at)

    def reconcile_payments(self, at: datetime | None = None) -> None:
        """scheduler.jobs.PaymentsJobHost: commit what the core holds, then compare the committed books
        with the card processor's off the core thread (it waits on the network; differences are an Alarm)."""
        if self.reconcile is None:
            raise RuntimeError("no card processor is configured to reconcile")
        t0 = time.perf_counter()
        self.core.call(self.core.loop.pump)
        self.reconcile(at)
        log.info("job done", extra={"job": "reconcile_payments", "at": at.isoformat() if at else None,
                                    "seconds": round(time.perf_counter() - t0, 3)})

    def close_day(self, at: datetime | None = None) -> None:
        self._job("close_day", at)
        after = self.after_close
        if after is not None:
            self.core.call(lambda: after(at))
