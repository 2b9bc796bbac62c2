"""The chart worker draws the four charts in two processes; a failure in either is not lost."""

from pathlib import Path

import pytest

from bridge.compose.charts import ChartWorker
from sim_backend.report import CHARTS

PNG = b"\x89PNG\r\n\x1a\n"


def _day(i: int) -> dict[str, object]:
    return {"net_worth_cents": 50_000 + 40 * i, "bank_cents": 40_000 + 30 * i, "machine_cash_cents": 500,
            "card_pending_cents": 200, "inventory_value_cents": 9_000, "units_sold_total": 12 * i,
            "tool_calls": {"check_machine": 1, "set_price": i % 4}}


def test_all_four_charts_are_drawn_whole(tmp_path: Path) -> None:
    worker = ChartWorker()
    try:
        worker.draw(tmp_path, [_day(i) for i in range(60)], "vb1 / baseline / seed 1")
    finally:
        worker.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CHARTS)
    for name in CHARTS:
        assert (tmp_path / name).read_bytes()[:8] == PNG, name


def test_a_failure_in_the_forked_half_is_raised(tmp_path: Path) -> None:
    days = [_day(i) for i in range(10)]
    for d in days:
        del d["tool_calls"]  # the tool-usage chart (drawn by the forked child) cannot be drawn
    worker = ChartWorker()
    try:
        with pytest.raises(RuntimeError, match=r"tool_usage\.png"):
            worker.draw(tmp_path, days, "broken")
    finally:
        worker.close()
    assert (tmp_path / "net_worth.png").read_bytes()[:8] == PNG  # the other half was still drawn
