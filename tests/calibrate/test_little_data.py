"""Honest on little data: two weeks of sales give wide intervals and mostly the base scenario's values,
said plainly; and a store on PostgreSQL calibrates as one on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from sim_backend.calibrate import calibrate
from tests.calibrate.history import make_history


def _width(e) -> float:  # type: ignore[no-untyped-def]
    return (e.high - e.low) / e.value


def test_two_weeks_lean_on_the_base_and_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short_url, _ = make_history(tmp_path / "short", seed=2, days=17)  # the first sales come on day 3
    long_url, _ = make_history(tmp_path / "long", seed=2, days=90)
    short, long = calibrate(short_url), calibrate(long_url)
    assert short.little_data and not long.little_data
    assert short.history.sales_days <= 15
    # wide: +-25% and more, and far wider than a quarter's for the products the quarter kept on offer
    both = [e.name for e in short.estimates if e.name.startswith("base_daily_sales[")]
    assert sorted(_width(short.get(n)) for n in both)[len(both) // 2] > 0.5
    kept_on = {p.sku for p in long.history.panel if p.day.month == 3}
    ratios = [_width(short.get(n)) / _width(long.get(n)) for n in both if n[17:-1] in kept_on]
    assert len(ratios) >= 3 and sorted(ratios)[len(ratios) // 2] > 2 and min(ratios) > 1.2
    # mostly the base's: no product has an elasticity of its own, the months beyond the first keep theirs,
    # and the rates sit nearer the base than a quarter's fit puts them
    assert not [e for e in short.estimates if e.name.startswith("elasticity[") and e.method == "fitted"]
    months = [e for e in short.estimates if e.name.startswith("month_factors[")]
    assert sum(e.identified for e in months) <= 1
    moved_short = sum(abs(short.get(n).value - short.get(n).base) for n in both)
    moved_long = sum(abs(long.get(n).value - long.get(n).base) for n in both if n in {e.name for e in long.estimates})
    assert moved_short < moved_long
    # said plainly: in the printout, on stderr, and in the file
    out = tmp_path / "twin.toml"
    assert main(["calibrate", "--db", short_url, "--out", str(out)]) == 0
    assert capsys.readouterr().err.strip()
    report = json.loads(out.with_name("twin.calibration.json").read_text())
    assert report["little_data"] is True and report["notes"]
    assert "little data" in out.read_text()


def test_a_store_on_each_backend_calibrates_alike(db_url: str, tmp_path: Path) -> None:
    url, _ = make_history(tmp_path, seed=3, days=30, db_url=db_url)
    cal = calibrate(url)
    assert cal.history.sales_days >= 20
    assert cal.get("card_share").identified
    assert cal.get("restock_delay_minutes").value > 0
    rates = [e for e in cal.estimates if e.name.startswith("base_daily_sales[")]
    assert len(rates) >= 10 and all(e.low <= e.value <= e.high for e in rates)
