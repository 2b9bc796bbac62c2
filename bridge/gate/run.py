"""The rollout gate: run a policy over the gate's scenarios and seeds, then judge every rule.

Each run is one job for `bridge.sweep.parallel_map` (processes by default); a job returns a
small JSON-able dict, so the judging and the report never touch a simulator object.

Figures read from a run's summary: `score_cents`, `bankrupt`, `days_run`, `guardrail_refusals`,
`crashes`, and when the policy reports them (the LLM shopkeeper does) `coherence_errors` (an int,
or a dict of counts by kind) and the LLM spend `llm_cost_cents` (or `llm_cost_usd`); absent, 0.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.gate.config import GateConfig

STOPPED_EARLY = ("api_errors",)  # a run ended this way did not finish: runs_complete fails


@dataclass(frozen=True, slots=True, kw_only=True)
class GateJob:
    scenario: str  # the name in the gate file
    source: str  # what build_sim loads
    policy: str
    seed: int
    days: int | None
    enforced_guardrails: str | None
    checked_guardrails: str | None
    model: str = ""


def jobs_for(cfg: GateConfig, policy: str | None = None) -> list[GateJob]:
    return [GateJob(scenario=s.name, source=s.source, policy=policy or cfg.policy, seed=seed, days=s.days,
                    enforced_guardrails=str(cfg.enforced_guardrails) if cfg.enforced_guardrails else None,
                    checked_guardrails=str(cfg.guardrails) if cfg.guardrails else None, model=cfg.model)
            for s in cfg.scenarios for seed in cfg.seeds]


def run_job(job: GateJob) -> dict[str, Any]:
    """One simulated run and its audit. Module level: it runs in worker processes."""
    from bridge.compose.sim import build_sim
    from bridge.gate.checks import find_breaches
    from bridge.guardrails import GuardrailPolicy
    from bridge.settings import SimSettings

    out: dict[str, Any] = {"scenario": job.scenario, "seed": job.seed, "policy": job.policy}
    tmp = Path(tempfile.mkdtemp(prefix="vend-gate-"))
    try:
        enforced = Path(job.enforced_guardrails) if job.enforced_guardrails else None
        sim = build_sim(SimSettings(scenario=job.source, policy=job.policy, seed=job.seed, days=job.days,
                                    out_dir=tmp, run_name="r", guardrails_path=enforced, charts=False,
                                    events_log=False, model=job.model))
        sim.run()
        s = sim.summary()
        rules = GuardrailPolicy.load(job.checked_guardrails) if job.checked_guardrails else GuardrailPolicy()
        count, listed = find_breaches(sim.store, rules, tz=sim.scenario.tz, start=sim.scenario.start)
        assert sim.outcome is not None
        out.update({
            "score_cents": s["score_cents"], "net_worth_cents": s["net_worth_cents"], "bankrupt": s["bankrupt"],
            "days_run": s["days_run"], "ended_by": s["ended_by"], "stop_reason": s.get("stop_reason", ""),
            "units_sold": s["units_sold"],
            "refusals": dict(s["guardrail_refusals"]), "crashes": list(s["crashes"]),
            "coherence_errors": coherence_errors(s), "cost_cents": cost_cents(s),
            "breaches": count, "breach_list": [b.to_json() for b in listed],
            "net_worth_by_day": [d.net_worth_cents for d in sim.outcome.days],
            "error": "",
        })
        sim.store.close()
    except Exception as err:  # a run that cannot finish fails the gate; it does not stop the others
        out["error"] = f"{err!r}\n{traceback.format_exc(limit=4)}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def coherence_errors(summary: dict[str, Any]) -> int:
    found = summary.get("coherence_errors", 0)
    if isinstance(found, dict):
        return int(sum(found.values()))
    return int(found or 0)


def cost_cents(summary: dict[str, Any]) -> float:
    if "llm_cost_cents" in summary:
        return float(summary["llm_cost_cents"] or 0)
    if "llm_cost_usd" in summary:
        return float(summary["llm_cost_usd"] or 0) * 100
    return 0.0


@dataclass(slots=True)
class RuleResult:
    rule: str
    threshold: str
    measured: str
    passed: bool
    where: list[str] = field(default_factory=list)


@dataclass(slots=True)
class GateResult:
    policy: str
    runs: list[dict[str, Any]]
    rules: list[RuleResult]
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.rules if not r.passed]

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "passed": self.passed, "failed_rules": self.failed,
                "seconds": round(self.seconds, 2),
                "rules": [{"rule": r.rule, "threshold": r.threshold, "measured": r.measured, "passed": r.passed,
                           "where": r.where} for r in self.rules],
                "runs": [{k: v for k, v in r.items() if k != "net_worth_by_day"} for r in self.runs]}


def _money(c: float) -> str:
    return f"${c / 100:,.2f}"


def judge(cfg: GateConfig, runs: list[dict[str, Any]], policy: str) -> GateResult:
    rules = cfg.rules
    stopped = [r for r in runs if not r["error"] and r.get("ended_by") in STOPPED_EARLY]
    ok = [r for r in runs if not r["error"] and r not in stopped]
    out: list[RuleResult] = []

    errors = [f"{r['scenario']} seed {r['seed']}: {r['error'].splitlines()[0]}" for r in runs if r["error"]]
    errors += [f"{r['scenario']} seed {r['seed']}: stopped on day {r['days_run']} ({r['ended_by']}): "
               f"{r.get('stop_reason', '')}" for r in stopped]
    crashes = [f"{r['scenario']} seed {r['seed']}: {c}" for r in ok for c in r["crashes"]]
    out.append(RuleResult(rule="runs_complete", threshold="every run finishes, no policy crash",
                          measured=f"{len(errors)} failed, {len(crashes)} crashes",
                          passed=not errors and not crashes, where=errors + crashes[:20]))

    where, worst = [], None
    for s in cfg.scenarios:
        scores = [r["score_cents"] for r in ok if r["scenario"] == s.name]
        if not scores:  # no finished run has a score: the rule cannot hold
            where.append(f"{s.name}: no finished run to score")
            continue
        mean = statistics.mean(scores)
        worst = mean if worst is None else min(worst, mean)
        if mean < s.min_mean_score_cents:
            per_seed = ", ".join(f"seed {r['seed']} {_money(r['score_cents'])}" for r in ok if r["scenario"] == s.name)
            where.append(f"{s.name}: mean {_money(mean)} < {_money(s.min_mean_score_cents)} ({per_seed})")
    out.append(RuleResult(rule="min_mean_score", threshold=f">= {_money(rules.min_mean_score_cents)} per scenario",
                          measured=f"lowest scenario mean {_money(worst)}" if worst is not None else "no scores",
                          passed=not where, where=where))

    if rules.no_bankruptcy:
        where = [f"{r['scenario']} seed {r['seed']}: bankrupt on day {r['days_run']}" for r in ok if r["bankrupt"]]
        out.append(RuleResult(rule="no_bankruptcy", threshold="no run goes bankrupt",
                              measured=f"{sum(1 for r in ok if r['bankrupt'])} bankrupt", passed=not where,
                              where=where))

    where, total = [], 0
    for r in ok:
        total += r["breaches"]
        if r["breaches"] > rules.max_guardrail_breaches:
            where += [f"{r['scenario']} seed {r['seed']} day {b['day']}: {b['rule']}: {b['detail']}"
                      for b in r["breach_list"]]
    out.append(RuleResult(rule="no_guardrail_breach", threshold=f"<= {rules.max_guardrail_breaches} per run",
                          measured=f"{total} in all runs", passed=not where, where=where[:50]))

    if rules.max_refusals is not None:
        cap = rules.max_refusals
        where = [f"{r['scenario']} seed {r['seed']}: {sum(r['refusals'].values())} refusals ("
                 + ", ".join(f"{k} {v}" for k, v in sorted(r["refusals"].items())) + ")"
                 for r in ok if sum(r["refusals"].values()) > cap]
        most = max((sum(r["refusals"].values()) for r in ok), default=0)
        out.append(RuleResult(rule="max_refusals", threshold=f"<= {cap} per run", measured=f"most {most}",
                              passed=not where, where=where))

    cap_c = rules.max_coherence_errors
    where = [f"{r['scenario']} seed {r['seed']}: {r['coherence_errors']} coherence errors"
             for r in ok if r["coherence_errors"] > cap_c]
    most = max((r["coherence_errors"] for r in ok), default=0)
    out.append(RuleResult(rule="max_coherence_errors", threshold=f"<= {cap_c} per run", measured=f"most {most}",
                          passed=not where, where=where))

    cap_d = rules.max_cost_per_day_cents
    per_day = [(r, r["cost_cents"] / max(1, r["days_run"])) for r in ok]
    where = [f"{r['scenario']} seed {r['seed']}: {c:.2f}c per simulated day" for r, c in per_day if c > cap_d]
    most_d = max((c for _, c in per_day), default=0.0)
    out.append(RuleResult(rule="max_cost_per_day", threshold=f"<= {cap_d:.2f}c per simulated day",
                          measured=f"most {most_d:.2f}c", passed=not where, where=where))
    return GateResult(policy=policy, runs=runs, rules=out)


def run_gate(cfg: GateConfig, *, policy: str | None = None, workers: int = 1, backend: str = "process",
             on_done: Callable[[dict[str, Any]], None] | None = None) -> GateResult:
    import time

    from bridge.sweep import parallel_map

    t0 = time.perf_counter()
    jobs = jobs_for(cfg, policy)
    runs = parallel_map(run_job, jobs, workers=workers, backend=backend, on_done=on_done)
    result = judge(cfg, runs, policy or cfg.policy)
    result.seconds = time.perf_counter() - t0
    return result
