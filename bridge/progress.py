"""A progress bar on stderr when it is a terminal (tqdm); silent otherwise."""

from __future__ import annotations

import sys
from typing import Any


class DayProgress:
    def __init__(self, *, total: int | None) -> None:
        self.total = total
        self._bar: Any = None
        self._enabled = sys.stderr.isatty()

    def update(self, record: Any) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="day", file=sys.stderr, leave=False)
        self._bar.update(1)
        self._bar.set_postfix_str(f"net worth ${record.net_worth_cents / 100:,.0f}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class RunProgress:
    """Finished runs of a sweep, as a progress bar on stderr when it is a terminal."""

    def __init__(self, *, total: int, label: str = "run") -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._bar: Any = None
        self._enabled = sys.stderr.isatty()

    def update(self, _result: Any = None) -> None:
        self.done += 1
        if not self._enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit=self.label, file=sys.stderr, leave=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
