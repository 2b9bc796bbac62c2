"""Live plumbing shared by the adapters: the wall clock and a thread-safe event queue.

Adapters (Slack handlers, webhooks, MQTT callbacks) `put` events from their own threads; the
runtime drains them through the EventSource port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bridge.events import Event


class SystemClock:
    """Clock port on the wall clock; live actions take real time, so `spend` does nothing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def spend(self, minutes: float) -> None:
        return None


class VirtualClock:
    """Clock port on a virtual time line (`vend hil`): it stands still until it is moved. `spend`
    (a tool's simulated cost) and `advance_to` (the event source waiting for the next job) move it
    through `mover`: whoever plays the outside world (the simulated world of `vend hil`) lets what falls
    due on the way happen, waits until the adapters are quiet, and sets the time with `set`. Without a
    mover the time simply moves. Never backwards."""

    def __init__(self, *, start: datetime, mover: Callable[[datetime], None] | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        self._now = start
        self.mover = mover
        self._spans: dict[float, timedelta] = {}

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Move to `when` (the mover calls this as the world's happenings come due); never backwards."""
        if when > self._now:
            self._now = when

    def advance_to(self, when: datetime) -> None:
        if self.mover is not None:
            self.mover(when)
        self.set(when)

    def spend(self, minutes: float) -> None:
        span = self._spans.get(minutes)
        if span is None:
            span = self._spans[minutes] = timedelta(minutes=minutes)
        self.advance_to(self._now + span)


class EventQueue:
    """EventSource for live adapters. `put` from any thread; `drain` takes what is there."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._events: list[Event] = []
        self._cond = threading.Condition()

    def put(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def drain(self) -> list[Event]:
        with self._cond:
            out, self._events = self._events, []
            return out

    def wait_until(self, when: datetime) -> list[Event]:
        """Block until the wall clock reaches `when`, then return what arrived meanwhile."""
        while (left := (when - self._now()).total_seconds()) > 0:
            time.sleep(min(left, 1.0))
        return self.drain()

    def wait_for_any(self, timeout: float) -> bool:
        """Block until an event is queued (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._events:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._events)
