"""Progress where people wait, on stderr: a bar (tqdm) when stderr is a terminal; otherwise (a CI log,
a file, a pipe) a plain line at most every PROGRESS_EVERY_S seconds, and one at the end when any
was printed. `VEND_PROGRESS=off` silences the lines (a terminal's bar stays)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

PROGRESS_EVERY_S = 5.0
HEARTBEAT_S = 30.0  # a sweep whose runs take long says it is alive this often


class _Lines:
    """Plain progress lines for a log: the first after PROGRESS_EVERY_S, then at most one as often."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.t0 = time.monotonic()
        self.last = self.t0
        self.printed = 0
        self.enabled = os.environ.get("VEND_PROGRESS", "").lower() not in ("off", "0", "no")

    def due(self) -> bool:
        return self.enabled and time.monotonic() - self.last >= PROGRESS_EVERY_S

    def say(self, text: str) -> None:
        self.last = time.monotonic()
        self.printed += 1
        print(f"{self.label}: {text} ({self.last - self.t0:.0f} s)", file=sys.stderr, flush=True)


class DayProgress:
    def __init__(self, *, total: int | None, label: str = "vend sim") -> None:
        self.total = total
        self._bar: Any = None
        self._enabled = sys.stderr.isatty()
        self._lines = None if self._enabled else _Lines(label)
        self._days = 0
        self._worth = 0

    def update(self, record: Any) -> None:
        self._days += 1
        self._worth = record.net_worth_cents
        if not self._enabled:
            if self._lines is not None and self._lines.due():
                self._lines.say(self._text())
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="day", file=sys.stderr, leave=False)
        self._bar.update(1)
        self._bar.set_postfix_str(f"net worth ${record.net_worth_cents / 100:,.0f}", refresh=False)

    def _text(self) -> str:
        of = f"/{self.total}" if self.total else ""
        return f"day {self._days}{of}, net worth ${self._worth / 100:,.2f}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._lines is not None and self._lines.printed:
            self._lines.say(f"done, {self._text()}")


class RunProgress:
    """Finished runs of a sweep: a progress bar on stderr when it is a terminal, else log lines."""

    def __init__(self, *, total: int, label: str = "run", name: str = "vend") -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._bar: Any = None
        self._enabled = sys.stderr.isatty()
        self._lines = None if self._enabled else _Lines(name)
        self._stop = threading.Event()
        if self._lines is not None and self._lines.enabled:  # runs can be long: a line now and then meanwhile
            threading.Thread(target=self._heartbeat, name="progress", daemon=True).start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_S):
            lines = self._lines
            if lines is not None and time.monotonic() - lines.last >= HEARTBEAT_S:
                lines.say(f"{self.done}/{self.total} {self.label}s done, still running")

    def update(self, _result: Any = None) -> None:
        self.done += 1
        if not self._enabled:
            if self._lines is not None and self._lines.due():
                self._lines.say(f"{self.done}/{self.total} {self.label}s done")
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit=self.label, file=sys.stderr, leave=False)
        self._bar.update(1)

    def close(self) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.close()
        if self._lines is not None and self._lines.printed:
            self._lines.say(f"done, {self.done}/{self.total} {self.label}s")
