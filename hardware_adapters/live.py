"""Live plumbing shared by the adapters: the wall clock and a thread-safe event queue.

Adapters (Slack handlers, webhooks, MQTT callbacks) `put` events from their own threads; the
runtime drains them through the EventSource port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bridge.events import Event


class SystemClock:
    """Clock port on the wall clock; live actions take real time, so `spend` does nothing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def spend(self, minutes: float) -> None:
        return None


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
