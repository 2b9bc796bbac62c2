"""Charts drawn by a second process. Importing matplotlib costs more than simulating a year, so
the worker is forked at start-up, before anything heavy is imported, and imports it while the
main process imports the store and simulates. Day records cross as plain dicts."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


class ChartWorker:
    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        self._warm = self._pool.submit(_import_charts)

    def draw(self, run_dir: Path, days: list[Any], title: str) -> None:
        rows = [asdict(d) if is_dataclass(d) and not isinstance(d, type) else dict(d) for d in days]
        self._pool.submit(_draw, run_dir, rows, title).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _import_charts() -> None:
    import matplotlib.figure  # noqa: F401 - warms the worker


def _draw(run_dir: Path, rows: list[dict[str, Any]], title: str) -> None:
    from types import SimpleNamespace

    from sim_backend.report import write_charts

    write_charts(run_dir, [SimpleNamespace(**r) for r in rows], title=title)  # type: ignore[misc]
