"""No silent failure: a store that already holds a run is refused; a run that did not end normally
says so in its summary; the gate counts a run that stopped early as failed; the bench names a
bankrupt oracle instead of dividing by it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import format_summary, main
from bridge.gate.config import load_gate
from bridge.gate.run import judge

ROOT = Path(__file__).resolve().parents[2]


def test_a_store_that_holds_a_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    first = ["sim", "--days", "3", "--db", db, "--out", str(tmp_path / "runs"), "--no-charts", "--json"]
    assert main([*first, "--name", "one"]) == 0
    assert json.loads(capsys.readouterr().out)["days_run"] == 3
    assert main([*first, "--name", "two"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["one"]  # no folder for the refused run


def _summary(**over: object) -> dict:
    base = {"scenario": "vb1", "policy": "llm", "seed": 1, "days_run": 4, "ended_by": "days", "bankrupt": False,
            "net_worth_cents": 0, "bank_cents": 0, "machine_cash_cents": 0, "card_pending_cents": 0,
            "inventory_value_cents": 0, "units_sold": 0, "days_until_sales_stop": 0, "tool_calls": 0,
            "tool_errors": 0, "guardrail_refusals": {}, "run_dir": "x", "messages": 9, "crashes": []}
    return {**base, **over}


@pytest.mark.parametrize("over", [
    {"ended_by": "api_errors", "stop_reason": "the LLM API failed 3 times in a row"},
    {"ended_by": "bankrupt", "bankrupt": True},
    {"ended_by": "message_cap"},
    {"crashes": ["2026-01-01 open_day: KeyError()"]},
])
def test_a_summary_never_calls_an_abnormal_run_normal(over: dict) -> None:
    normal = format_summary(_summary()).splitlines()[0]
    assert format_summary(_summary(**over)).splitlines()[0] != normal


def _run(**over: object) -> dict:
    base = {"scenario": "vb1", "seed": 0, "policy": "llm", "error": "", "score_cents": 90_000,
            "net_worth_cents": 90_000, "bankrupt": False, "days_run": 60, "ended_by": "days", "units_sold": 10,
            "refusals": {}, "crashes": [], "coherence_errors": 0, "cost_cents": 0.0, "breaches": 0,
            "breach_list": [], "net_worth_by_day": []}
    return {**base, **over}


def test_the_gate_fails_a_run_the_llm_api_stopped() -> None:
    cfg = load_gate(ROOT / "ops" / "gate.toml")
    runs = [_run(seed=s) for s in cfg.seeds]
    assert "runs_complete" not in judge(cfg, runs, "llm").failed
    runs[0] = _run(seed=runs[0]["seed"], ended_by="api_errors", days_run=2, stop_reason="API down")
    assert "runs_complete" in judge(cfg, runs, "llm").failed


def test_the_gate_fails_the_score_rule_when_no_run_finished() -> None:
    cfg = load_gate(ROOT / "ops" / "gate.toml")
    runs = [_run(seed=s, error="ConfigError('x')") for s in cfg.seeds]
    failed = judge(cfg, runs, "llm").failed
    assert "runs_complete" in failed and "min_mean_score" in failed


def test_bench_policy_names_a_bankrupt_oracle(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bridge import bench

    def fake_sweep(scenario, policies, seeds, days, workers, *, backend="process", on_done=None):
        rows = []
        for p in policies:
            for s in range(seeds):
                broke = p == "oracle"
                rows.append({"policy": p, "seed": s, "net_worth_cents": -100 if broke else 60_000,
                             "bank_cents": 0, "units_sold": 5, "days_until_sales_stop": 3, "bankrupt": broke})
        return rows

    monkeypatch.setattr(bench, "sweep", fake_sweep)
    assert main(["bench", "policy", "--seeds", "2", "--json"]) == 0
    capsys.readouterr()
    assert main(["bench", "policy", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    ratio_line = next(line for line in out.splitlines() if line.startswith("baseline / oracle"))
    assert "no ratio" in ratio_line and "-600" not in ratio_line
