"""The rollout gate end to end through `vend gate`: the baseline passes the example gate; planted
bad policies (bankrupt, a guardrail breach, pushing at the rails) fail it, naming the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def gate(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, dict, str]:
    rc = main(["gate", "--config", str(config), "--out", str(tmp_path / "report"), "--json", *extra])
    out, err = capsys.readouterr()
    return rc, json.loads(out), err


def write_gate(tmp_path: Path, script: str, *, enforced: str = "", seeds: int = 1, rules: str = "") -> Path:
    path = tmp_path / "gate.toml"
    enforced_line = f'enforced_guardrails = "{DATA / enforced}"' if enforced else ""
    path.write_text(f"""
policy = "scripted:{DATA / script}"
guardrails = "{ROOT / 'ops' / 'guardrails.toml'}"
{enforced_line}
seeds = {seeds}
days = 60
[[scenarios]]
name = "vb1"
[rules]
min_mean_score_cents = 0
{rules}
""")
    return path


def test_the_baseline_passes_the_example_gate(tmp_path, capsys) -> None:
    rc, verdict, _ = gate(tmp_path, capsys, ROOT / "ops" / "gate.toml", "--workers", "2")
    assert rc == 0
    assert verdict["passed"] is True and verdict["failed_rules"] == []
    assert verdict["policy"] == "baseline"
    assert len(verdict["runs"]) == 2 and {r["seed"] for r in verdict["runs"]} == {0, 1}
    assert all(r["breaches"] == 0 and not r["bankrupt"] and r["score_cents"] > 60_000 for r in verdict["runs"])
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**PASSED**" in report
    assert (tmp_path / "report" / "net_worth_vb1.png").stat().st_size > 1000
    assert (tmp_path / "report" / "scores.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report" / "verdict.json").read_text())["passed"] is True


def test_a_policy_that_goes_bankrupt_fails_on_that_rule(tmp_path, capsys) -> None:
    rc, verdict, err = gate(tmp_path, capsys, write_gate(tmp_path, "bankrupt.toml"))
    assert rc == 1
    assert verdict["failed_rules"] == ["no_bankruptcy"]
    rule = next(r for r in verdict["rules"] if r["rule"] == "no_bankruptcy")
    assert rule["where"] and "vb1 seed 0: bankrupt on day" in rule["where"][0]
    assert verdict["runs"][0]["days_run"] < 60  # the run ended at the bankruptcy
    assert "no_bankruptcy" in err
    report = (tmp_path / "report" / "report.md").read_text()
    assert "FAILED: no_bankruptcy" in report and "### no_bankruptcy" in report


def test_a_write_that_got_past_loose_guardrails_is_a_breach(tmp_path, capsys) -> None:
    """The runs enforce a mis-set guardrail file (no price floor); the audit of the books against
    ops/guardrails.toml still finds every sale below cost."""
    rc, verdict, _ = gate(tmp_path, capsys, write_gate(tmp_path, "below_cost.toml", enforced="loose_guardrails.toml"))
    assert rc == 1
    assert "no_guardrail_breach" in verdict["failed_rules"]
    run = verdict["runs"][0]
    assert run["breaches"] > 0 and sum(run["refusals"].values()) == 0
    assert {b["rule"] for b in run["breach_list"]} == {"price_floor"}
    rule = next(r for r in verdict["rules"] if r["rule"] == "no_guardrail_breach")
    assert "price_floor" in rule["where"][0] and "day" in rule["where"][0]


def test_a_policy_that_keeps_pushing_at_the_rails_fails_the_refusal_cap(tmp_path, capsys) -> None:
    rc, verdict, _ = gate(tmp_path, capsys, write_gate(tmp_path, "below_cost.toml", rules="max_refusals = 10"))
    assert rc == 1
    assert verdict["failed_rules"] == ["max_refusals"]  # refused, so nothing got through
    run = verdict["runs"][0]
    assert run["breaches"] == 0 and run["refusals"].get("price_floor", 0) > 10


def test_coherence_and_llm_cost_come_from_the_summary_when_present() -> None:
    from bridge.gate.run import coherence_errors, cost_cents

    assert coherence_errors({}) == 0 and cost_cents({}) == 0
    assert coherence_errors({"coherence_errors": {"forgot_order": 2, "phantom_delivery": 3}}) == 5
    assert cost_cents({"llm_cost_usd": 1.25}) == 125 and cost_cents({"llm_cost_cents": 40}) == 40


@pytest.mark.parametrize(("text", "needle"), [
    ('policy = "baseline"\n', "scenarios: Field required"),
    ('seeds = 0\n[[scenarios]]\nname = "vb1"\n', "seeds:"),
    ('colour = 1\n[[scenarios]]\nname = "vb1"\n', "colour: Extra inputs are not permitted"),
    ('guardrails = "nope.toml"\n[[scenarios]]\nname = "vb1"\n', "guardrails: no such file"),
    ('[[scenarios]]\nname = "vb1"\n[rules]\nmax_refusals = -1\n', "rules.max_refusals"),
    ('[[scenarios\n', "gate config"),
])
def test_gate_config_errors_are_one_line_and_exit_2(tmp_path, capsys, text, needle) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    assert main(["gate", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_a_missing_gate_file_is_one_line(tmp_path, capsys) -> None:
    assert main(["gate", "--config", str(tmp_path / "none.toml")]) == 2
    assert "gate config not found" in capsys.readouterr().err
