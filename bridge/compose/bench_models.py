"""`vend bench models --models A,B --seeds N`: two players (two models of the llm shopkeeper, or
policies: baseline, oracle, scripted:FILE) on the same seeds. The simulator draws demand per day and
product from the seed (common random numbers), so a seed's two runs differ by what the players did;
the paired differences give a confidence interval and the seeds needed to tell the two apart."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

POLICY_NAMES = ("baseline", "oracle")


def player(name: str) -> tuple[str, str]:
    """(policy, model) of a player named on the command line: a policy, or a model of the llm policy."""
    if name in POLICY_NAMES or name.startswith("scripted:"):
        return name, ""
    return "llm", name


def run_one(job: tuple[str, str, int, int | None, str, bool]) -> dict[str, Any]:
    """One seeded run of one player in a scratch folder: its score and coherence (module level: picklable)."""
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    scenario, name, seed, days, base_url, charge = job
    policy, model = player(name)
    llm = None
    if policy == "llm":
        from bridge.llm.settings import LlmSettings

        llm = LlmSettings(model=model, base_url=base_url, charge_output_tokens=charge)
    tmp = Path(tempfile.mkdtemp(prefix="vend-models-"))
    try:
        sim = build_sim(SimSettings(scenario=scenario, policy=policy, seed=seed, days=days, out_dir=tmp, run_name="r",
                                    charts=False, events_log=False, model=model, llm=llm))
        sim.run()
        s = sim.summary()
        sim.store.close()
        return {"player": name, "seed": seed, "score": s["score"], "score_cents": s["score_cents"],
                "bankrupt": s["bankrupt"], "days_run": s["days_run"],
                "coherence_errors": sum((s.get("coherence_errors") or {}).values()),
                "first_incoherence_day": s.get("first_incoherence_day")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def models(args: argparse.Namespace) -> int:
    from bridge.paired import paired
    from bridge.sweep import parallel_map

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if len(names) != 2 or names[0] == names[1]:
        raise ConfigError("--models names two different players, e.g. claude-sonnet-4-6,claude-haiku-4-5")
    from sim_backend.scenario import load_scenario

    load_scenario(args.scenario, days=args.days)  # a bad scenario: one line before any worker starts
    if any(player(n)[0] == "llm" for n in names):
        from bridge.llm.adapter import api_key_from_env

        api_key_from_env()  # no key: one clear line before any work
    t0 = time.perf_counter()
    jobs = [(args.scenario, n, seed, args.days, args.llm_base_url, args.llm_charge_tokens)
            for seed in range(args.seeds) for n in names]
    results = parallel_map(run_one, jobs, workers=args.workers or os.cpu_count() or 1)
    by = {n: sorted((r for r in results if r["player"] == n), key=lambda r: r["seed"]) for n in names}
    a, b = ([r["score_cents"] for r in by[n]] for n in names)
    stats = paired(a, b)
    table = [{"player": n, "mean_score_cents": round(statistics.fmean(r["score_cents"] for r in by[n])),
              "scores_cents": [r["score_cents"] for r in by[n]], "bankrupt": sum(r["bankrupt"] for r in by[n]),
              "first_incoherence_days": [r["first_incoherence_day"] for r in by[n]]} for n in names]
    out = {"scenario": args.scenario, "score": results[0]["score"], "seeds": args.seeds, "players": table,
           "paired": {"a": names[0], "b": names[1], **stats.to_json()}, "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{args.scenario}, {args.seeds} seeds (0..{args.seeds - 1}), the same demand draws for both; "
          f"score: {out['score']}; {out['seconds']} s")
    for row in table:
        firsts = [d for d in row["first_incoherence_days"] if d is not None]
        print(f"  {row['player']:28s} mean {row['mean_score_cents'] / 100:>12,.2f}  bankrupt {row['bankrupt']}"
              + (f"  first incoherence on day {min(firsts)} (earliest)" if firsts else ""))
    verdict = "apart" if stats.separated else "not apart"
    needed = stats.seeds_needed
    print(f"{names[0]} - {names[1]}: mean {stats.mean_diff / 100:,.2f}, 95% CI [{stats.ci_low / 100:,.2f}, "
          f"{stats.ci_high / 100:,.2f}] ({verdict} on {stats.seeds} seeds); seeds needed at this difference: "
          + (str(needed) if needed is not None else "no difference seen"))
    return 0
