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
    """Half the charts here, half in a child forked from this warm worker (matplotlib is already
    imported, so the fork costs milliseconds): the main process is idle by now, both cores draw."""
    import os
    from types import SimpleNamespace

    from sim_backend.report import CHARTS, write_charts

    days = [SimpleNamespace(**r) for r in rows]
    half = len(CHARTS) // 2
    pid = os.fork()
    if pid == 0:  # the child: its half, then out without running the parent's exit handlers
        code = 0
        try:
            write_charts(run_dir, days, title=title, only=CHARTS[half:])  # type: ignore[arg-type]
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    write_charts(run_dir, days, title=title, only=CHARTS[:half])  # type: ignore[arg-type]
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"drawing {', '.join(CHARTS[half:])} failed (see the error above)")
