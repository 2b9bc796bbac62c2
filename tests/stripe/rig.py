"""The Stripe side's test rig: the fake's clock, the bridge's HTTP app on a real loopback port
(uvicorn in a thread), and books on a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.ledger import Ledger
from bridge.store import Store
from hardware_adapters.doubles.loopback import serve_asgi
from hardware_adapters.live import EventQueue

SECRET = "whsec_test_vendbridge_stripe"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Clock:
    """The fake Stripe's clock (object times, settlement); webhook signatures use real time."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def deadline_wait(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.005)


serve = serve_asgi  # the Stripe tests' name for the shared loopback ASGI server


class Books:
    """A ledger on a SQLite file, fed from the live EventQueue the way the runtime does."""

    def __init__(self, path: Path, shop: str = "main") -> None:
        self.url = f"sqlite:///{path}"
        self.store = Store(url=self.url)
        self.ledger = Ledger(shop=shop, store=self.store)
        self.queue = EventQueue()
        self.recorded: list[str] = []
        self.repeats = 0

    def ingest(self) -> int:
        n = 0
        for event in self.queue.drain():
            if self.ledger.record(event):
                self.recorded.append(event.id)
                n += 1
            else:
                self.repeats += 1
        self.store.flush()
        return n

    def snapshot(self) -> tuple[dict[str, int], int, int]:
        """Balances, ledger line count, processed event count: what 'the ledger changed' means."""
        with self.store.engine.connect() as conn:
            from sqlalchemy import text

            lines = conn.execute(text("SELECT COUNT(*) FROM ledger_line")).scalar_one()
            events = conn.execute(text("SELECT COUNT(*) FROM processed_event")).scalar_one()
        return {k: v for k, v in self.ledger.balances.items() if v}, int(lines), int(events)
