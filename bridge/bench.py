"""`vend bench ...`: measured figures, printed; never pass/fail."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> int:
    if args.bench == "speed":
        return speed(args)
    if args.bench == "policy":
        return policy(args)
    if args.bench == "ingest":
        return ingest(args)
    if args.bench == "models":
        from bridge.compose.bench_models import models

        return models(args)
    raise SystemExit(f"unknown bench {args.bench}")


def speed(args: argparse.Namespace) -> int:
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    tmp = Path(tempfile.mkdtemp(prefix="vend-bench-"))
    walls, cpus, calls, rows = [], [], 0, 0
    try:
        for i in range(args.repeat):
            sim = build_sim(SimSettings(seed=args.seed, days=args.days, out_dir=tmp, run_name=f"r{i}",
                                        charts=False, events_log=False))
            c0, w0 = time.process_time(), time.perf_counter()
            sim.run()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
            calls = sum(sim.toolbox.counts.values())
            rows = sim.store.rows_written
            sim.store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best, median = min(walls), statistics.median(walls)
    calibration = _calibrate()
    print(f"365-day baseline run ({args.days} days, seed {args.seed}, {args.repeat} runs, ledger and audit log "
          f"written to SQLite)")
    print(f"  wall time   best {best:.3f} s   median {median:.3f} s   cpu best {min(cpus):.3f} s")
    print(f"  sim days/s  {args.days / best:,.0f} (best)   {args.days / median:,.0f} (median)")
    print(f"  tool calls  {calls:,}   rows written {rows:,}   ({calls / best:,.0f} tool calls/s)")
    print(f"  target 0.25 s: {'met' if best <= 0.25 else 'not met'} (ratio {best / 0.25:.2f})")
    print(f"  machine calibration: a 3,000,000-step Python loop takes {calibration:.3f} s here now "
          f"(run time = {best / calibration:.1f} of those loops)")
    print(f"  interpreter: {_interpreter()}")
    return 0


def _interpreter() -> str:
    """Which CPython ran the figures: builds differ (a distribution's PGO/LTO build against a default
    source build) by more than most changes to the code."""
    import platform
    import sys

    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    try:  # Linux: is the interpreter loaded from a shared libpython (slower calls) or linked in?
        with open("/proc/self/maps") as fh:
            linked = "libpython as a shared library" if "libpython" in fh.read() else "libpython linked in"
    except OSError:
        linked = "linkage unknown"
    return f"{platform.python_implementation()} {platform.python_version()} at {base} ({linked})"


def ingest(args: argparse.Namespace) -> int:
    from bridge.compose.live import bench_ingest

    r = bench_ingest(rate=args.rate, seconds=args.seconds, machines=args.machines, latency_rate=args.latency_rate,
                     latency_seconds=args.latency_seconds)
    if args.json:
        print(json.dumps(r))
        return 0
    names = {"raw": "raw subscriber", "ingest": "bridge -> ledger", "latency": "bridge -> ledger",
             "rawmax": "raw subscriber", "ingestmax": "bridge -> ledger"}
    print(f"vend bench ingest: {r['machines']} emulated machines, vend events over MQTT 5 QoS 1 through one "
          f"mosquitto, SQLite store")
    print(f"  {'phase':<17} {'offered/s':>9} {'events':>7} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for p in r["phases"]:
        offered = f"{p['offered_rate']:,.0f}" if p["offered_rate"] else "unpaced"
        what = "publish->commit" if "raw" not in p["name"] else "publish->arrival"
        print(f"  {names[p['name']]:<17} {offered:>9} {p['events']:>7,} {p['rate']:>9,.0f} {p['p50_ms']:>7.1f} "
              f"{p['p99_ms']:>7.1f}  ({what})")
    print(f"  bridge / raw rate: {r['ratio_fixed']:.2f} at the offered rate, {r['ratio_unpaced']:.2f} unpaced")
    return 0


def _calibrate() -> float:
    """How fast this machine runs plain Python right now: the same figure on two machines (or two
    moments of a shared one) makes their wall times comparable."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        x = 0
        for i in range(3_000_000):
            x += i
        best = min(best, time.perf_counter() - t0)
    return best


def _one(job: tuple[str, str, int, int | None]) -> dict[str, Any]:
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    scenario, pol, seed, days = job
    tmp = Path(tempfile.mkdtemp(prefix="vend-pol-"))
    try:
        sim = build_sim(SimSettings(scenario=scenario, policy=pol, seed=seed, days=days, out_dir=tmp, run_name="r",
                                    charts=False, events_log=False))
        sim.run()
        s = sim.summary()
        sim.store.close()
        return s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sweep(scenario: str, policies: list[str], seeds: int, days: int | None, workers: int, *,
          backend: str = "process", on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every policy over seeds 0..seeds-1, in parallel (see bridge.sweep for the backends)."""
    from bridge.sweep import parallel_map

    jobs = [(scenario, p, s, days) for p in policies for s in range(seeds)]
    return parallel_map(_one, jobs, workers=workers, backend=backend, on_done=on_done)


def policy(args: argparse.Namespace) -> int:
    from bridge.progress import RunProgress
    from bridge.sweep import check_backend

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    backend = getattr(args, "backend", "process")
    check_backend(backend)
    from bridge.compose.sim import check_sweep_inputs

    check_sweep_inputs(args.scenario, policies, args.days)
    t0 = time.perf_counter()
    progress = RunProgress(total=len(policies) * args.seeds, name="vend bench policy")
    results = sweep(args.scenario, policies, args.seeds, args.days, args.workers or os.cpu_count() or 1,
                    backend=backend, on_done=progress.update)
    progress.close()
    table = table_of(results, policies)
    if args.json:
        print(json.dumps({"table": table, "seconds": time.perf_counter() - t0}))
        return 0
    score = table[0]["score"] if table else "net_worth"
    print(f"{args.scenario}, {args.seeds} seeds (0..{args.seeds - 1}), {time.perf_counter() - t0:.1f} s; "
          f"ranked by the scenario's score ({score})")
    print(f"{'policy':10s} {'mean score':>12s} {'min score':>11s} {'mean net worth':>15s} {'min net worth':>14s} "
          f"{'mean units':>11s} {'days to stop':>12s} {'bankrupt':>8s}")
    for row in sorted(table, key=lambda r: -r["mean_score_cents"]):
        print(f"{row['policy']:10s} {row['mean_score_cents'] / 100:>12,.2f} {row['min_score_cents'] / 100:>11,.2f}"
              f" {row['mean_net_worth_cents'] / 100:>15,.2f} {row['min_net_worth_cents'] / 100:>14,.2f}"
              f" {row['mean_units_sold']:>11,.0f} {row['mean_days_until_sales_stop']:>12.0f} {row['bankrupt']:>8d}")
    for row in table:
        extra = {k: v for k, v in row.items() if k.startswith(("mean_procurement", "mean_scam", "mean_bait",
                 "max_adversarial", "min_bank", "mean_given", "mean_discounts", "mean_refunds", "mean_special",
                 "mean_guardrail", "mean_units_sold_below"))}
        if extra and (row.get("mean_procurement_spend_cents") and (row.get("mean_scam_loss_cents")
                      or row.get("mean_bait_switch_loss_cents") or "mean_special_orders_paid" in row)):
            print(f"  {row['policy']}: " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    by = {r["policy"]: r for r in table}
    for row in table:
        if row["bankrupt"]:
            print(f"note: {row['policy']} went bankrupt on {row['bankrupt']} of {row['runs']} seeds")
    if "baseline" in by and "oracle" in by:
        above = sum(1 for r in results if r["policy"] == "baseline" and r["net_worth_cents"] > 50_000)
        oracle = by["oracle"]
        label = score.replace("_", " ")
        solvent = oracle["runs"] - oracle["bankrupt"]
        if oracle["bankrupt"] or oracle["mean_score_cents"] <= 0:
            print(f"baseline / oracle mean {label}: no ratio (the oracle went bankrupt on {oracle['bankrupt']} of "
                  f"{oracle['runs']} seeds, mean {label} ${oracle['mean_score_cents'] / 100:,.2f}: it is "
                  f"no upper bound on {args.scenario}); baseline above the $500 start on {above} of {args.seeds} seeds")
        else:
            ratio = by["baseline"]["mean_score_cents"] / oracle["mean_score_cents"]
            print(f"baseline / oracle mean {label}: {ratio:.3f}; oracle solvent on {solvent} of {oracle['runs']} "
                  f"seeds; baseline above the $500 start on {above} of {args.seeds} seeds")
    return 0


def table_of(results: list[dict[str, Any]], policies: list[str]) -> list[dict[str, Any]]:
    table = []
    for p in policies:
        rs = [r for r in results if r["policy"] == p]
        if not rs:
            continue
        table.append({
            "policy": p, "runs": len(rs), "score": rs[0].get("score", "net_worth"),
            "mean_score_cents": round(statistics.mean(r.get("score_cents", r["net_worth_cents"]) for r in rs)),
            "min_score_cents": min(r.get("score_cents", r["net_worth_cents"]) for r in rs),
            "mean_net_worth_cents": round(statistics.mean(r["net_worth_cents"] for r in rs)),
            "min_net_worth_cents": min(r["net_worth_cents"] for r in rs),
            "mean_bank_cents": round(statistics.mean(r["bank_cents"] for r in rs)),
            "mean_units_sold": statistics.mean(r["units_sold"] for r in rs),
            "mean_days_until_sales_stop": statistics.mean(r["days_until_sales_stop"] for r in rs),
            "bankrupt": sum(1 for r in rs if r["bankrupt"]),
            **_extra_columns(rs),
        })
    return table


EXTRA_SUMS = ("procurement_spend_cents", "scam_loss_cents", "bait_switch_loss_cents", "given_away_cents",
              "discounts_granted_cents", "refunds_granted_cents", "refunds_to_false_claims_cents",
              "special_orders_paid", "special_orders_fulfilled", "guardrail_refusals_total", "units_sold_below_cost")


def _extra_columns(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """The Vending-Bench 2 and Project Vend figures, when the runs report them: means over seeds,
    and the worst seed's share of procurement lost to scam and bait-and-switch suppliers."""
    out: dict[str, Any] = {}
    for key in EXTRA_SUMS:
        if all(key in r for r in rs):
            out[f"mean_{key}"] = round(statistics.mean(r[key] for r in rs), 1)
    if all("adversarial_loss_share" in r for r in rs):
        out["max_adversarial_loss_share"] = max(r["adversarial_loss_share"] for r in rs)
        out["min_bank_cents"] = min(r["bank_cents"] for r in rs)
    return out
