"""Progress where people wait: outside a terminal (a CI log) a long command prints plain progress
lines on stderr, at most one every PROGRESS_EVERY_S seconds, and a last one when it is done."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bridge import progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_day_progress_prints_a_line_every_few_seconds(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    monkeypatch.delenv("VEND_PROGRESS", raising=False)
    bar = progress.DayProgress(total=365)
    for day in range(365):  # a simulated day every 0.1 s: 36.5 s in all
        clock.t += 0.1
        bar.update(SimpleNamespace(net_worth_cents=50_000 + day))
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert 6 <= len(lines) <= 8  # one per 5 s of 36.5 s, and the last
    assert "365/365" in lines[-1]


def test_a_quick_run_prints_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    bar = progress.DayProgress(total=30)
    for _ in range(30):
        clock.t += 0.01
        bar.update(SimpleNamespace(net_worth_cents=1))
    bar.close()
    assert capsys.readouterr().err == ""


def test_runs_of_a_sweep_are_counted_in_lines(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VEND_PROGRESS", "on")
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    runs = progress.RunProgress(total=4, name="vend gate")
    for _ in range(4):
        clock.t += 6
        runs.update()
    runs.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5 and all(line.startswith("vend gate: ") for line in lines)
    assert "4/4" in lines[-1]
