#!/usr/bin/env python3
"""Prints the README's figures table (the "## Figures" section) from measurements made now.

    .venv/bin/python scripts/readme_figures.py                # every row, timings measured
    .venv/bin/python scripts/readme_figures.py --no-timings   # the seeded figures only (tests)

Rows whose figure is a timing (wall time, events a second) depend on the machine and the moment;
the test (tests/docs/test_readme.py) compares every other cell of the table with this script's
output, so a figure in the README that no command here prints, or that the code no longer gives,
fails it. Paste the output under "## Figures" after a change that moves a figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UNCHECKED = "(timing: measured, not checked)"


@dataclass(frozen=True)
class Row:
    what: str
    command: str
    figure: str
    timing: bool = False


def usd(cents: float) -> str:
    return f"${cents / 100:,.2f}"


def policy_row(workers: int) -> Row:
    from bridge.bench import sweep, table_of

    seeds = 20
    results = sweep("vb1", ["baseline", "oracle"], seeds, None, workers)
    by = {r["policy"]: r for r in table_of(results, ["baseline", "oracle"])}
    b, o = by["baseline"], by["oracle"]
    above = sum(1 for r in results if r["policy"] == "baseline" and r["net_worth_cents"] > 50_000)
    ratio = b["mean_net_worth_cents"] / o["mean_net_worth_cents"]
    return Row("baseline vs oracle, vb1, seeds 0-19", f"`vend bench policy --seeds {seeds}`",
               f"baseline mean {usd(b['mean_net_worth_cents'])} (min {usd(b['min_net_worth_cents'])}), oracle mean "
               f"{usd(o['mean_net_worth_cents'])} (min {usd(o['min_net_worth_cents'])}); ratio {ratio:.3f}; "
               f"baseline above $500 on {above} of {seeds} seeds; bankrupt {b['bankrupt']} / {o['bankrupt']}")


def arena_row(workers: int) -> Row:
    from bridge.compose.arena import ArenaSettings, run_round
    from sim_backend.arena.report import round_table

    policies = ("baseline", "oracle", "baseline")
    t = round_table(run_round(ArenaSettings(policies=policies), seeds=4, workers=workers))
    ps = t["participants"]
    return Row("Arena round, vb1, baseline / oracle / baseline, seeds 0-3",
               "`vend arena --policies baseline,oracle,baseline --seeds 4`",
               "mean net worth " + " / ".join(usd(p["mean_net_worth_cents"]) for p in ps)
               + " (mean bank " + " / ".join(usd(p["mean_bank_cents"]) for p in ps) + "); units "
               + " / ".join(f"{p['mean_units_sold']:,.0f}" for p in ps)
               + f"; money exchanged between shops {usd(t['mean_money_exchanged_cents'])}")


def speed_rows(timings: bool) -> list[Row]:
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    walls, calls, rows = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="vend-figures-") as tmp:
        for i in range(5 if timings else 1):
            sim = build_sim(SimSettings(seed=7, days=365, out_dir=Path(tmp), run_name=f"r{i}", charts=False,
                                        events_log=False))
            t0 = time.perf_counter()
            sim.run()
            walls.append(time.perf_counter() - t0)
            calls, rows = sum(sim.toolbox.counts.values()), sim.store.rows_written
            sim.store.close()
    out = [Row("365-day baseline run, seed 7: its work", "`vend bench speed`",
               f"{calls:,} tool calls, {rows:,} rows handed to the store's writer process")]
    figure = (f"best of 5: {min(walls):.3f} s ({365 / min(walls):,.0f} simulated days a second)" if timings
              else UNCHECKED)
    out.append(Row("365-day baseline run, ledger and audit log written", "`vend bench speed`", figure, timing=True))
    return out


def process_row(timings: bool) -> Row:
    figure = UNCHECKED
    if timings:
        with tempfile.TemporaryDirectory(prefix="vend-figures-") as tmp:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([str(ROOT / ".venv" / "bin" / "vend"), "sim", "--days", "365", "--json", "--out", tmp],
                               check=True, capture_output=True)
                best = min(best, time.perf_counter() - t0)
        figure = f"best of 3: {best:.2f} s wall (start-up, run, events log, summary, charts and report.html)"
    return Row("whole `vend sim --days 365 --json` process", "`time vend sim --days 365 --json`", figure, timing=True)


def ingest_row(timings: bool) -> Row:
    figure = UNCHECKED
    if timings:
        from bridge.compose.live import bench_ingest

        r = bench_ingest(rate=2500, seconds=4.0, machines=4, latency_rate=200, latency_seconds=4.0)
        phases = {p["name"]: p for p in r["phases"]}
        lat = phases["latency"]
        figure = (f"{phases['ingest']['rate']:,.0f} events/s at 2,500 offered (raw subscriber "
                  f"{phases['raw']['rate']:,.0f}: ratio {r['ratio_fixed']:.2f}); at 200/s publish-to-commit p50 "
                  f"{lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms")
    return Row("vend events over MQTT into the SQLite ledger, 4 machines", "`vend bench ingest`", figure, timing=True)


def table(rows: list[Row]) -> str:
    lines = ["| what | command | figure |", "| --- | --- | --- |"]
    lines += [f"| {r.what} | {r.command} | {r.figure} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-timings", action="store_true", help="leave the timing rows unmeasured")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    timings = not args.no_timings
    rows = [policy_row(args.workers), arena_row(args.workers), *speed_rows(timings), process_row(timings),
            ingest_row(timings)]
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
