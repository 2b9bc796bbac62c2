#!/usr/bin/env python3
"""Issue 17's table: vb1 with the baseline, project_vend with the shipped example script and with the
baseline (customers in Slack DMs, payment links), through
`vend hil --compare` (the live composition against the simulated outside, then `vend sim` of the same
scenario, seed and policy), with and without --faults. Prints one row per run: identical, or the first
difference; with --faults, how often the shop's process was SIGKILLed and started again (and where: with
device messages in flight, during a Slack request, during a payout webhook); and the wall time of the
`vend hil` run itself (its summary's run_seconds) and of the whole command (hil, sim and the comparison).

    .venv/bin/python scripts/hil_table.py --days 30 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (("vb1", "baseline"), ("project_vend", f"scripted:{ROOT / 'ops' / 'policies' / 'example.toml'}"),
         ("project_vend", "baseline"))


def run(scenario: str, policy: str, seed: int, days: int, faults: bool, out: Path) -> dict[str, object]:
    argv = [sys.executable, "-m", "bridge.cli", "hil", "--scenario", scenario, "--policy", policy, "--seed", str(seed),
            "--days", str(days), "--compare", "--json", "--no-charts", "--out", str(out),
            "--name", f"{scenario}-{'script' if policy.startswith('scripted:') else policy}-s{seed}"
                      f"{'-faults' if faults else ''}"]
    if faults:
        argv.append("--faults")
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    lines = r.stdout.strip().splitlines()
    if r.returncode not in (0, 1) or not lines:
        return {"result": f"exit {r.returncode}: {r.stderr.strip().splitlines()[-1:] }", "hil_s": None, "wall_s": wall}
    s = json.loads(lines[-1])
    c = s.get("comparison") or {}
    first = c.get("first_difference")
    if c.get("identical"):
        result = f"identical ({c['days']} days)"
    elif first is None:
        result = "different"
    elif first["what"] == "tool_call":
        def name(c: object) -> str:
            return f"{c['tool']}" if isinstance(c, dict) else "(none)"
        result = f"{first['day']}: call #{first['index'] + 1} sim {name(first['sim'])} / hil {name(first['hil'])}"
    else:
        only = [f"{ln['debit']}<-{ln['credit']} {ln['memo']}" for ln in first.get("only_sim", [])[:1]]
        result = (f"{first['day']}: balance of {first['account']} sim {first['sim']} / hil {first['hil']}"
                  + (f" (only sim: {only[0]})" if only else ""))
    faults = s.get("faults") or {}
    kills = "-"
    if faults:
        where = [f"{faults[f'shop_kill_{w}']} {w}" for w in ("mqtt", "slack", "webhook") if faults.get(f"shop_kill_{w}")]
        kills = f"{faults.get('shop_kill', 0)}" + (f" ({', '.join(where)})" if where else "")
    return {"result": result, "hil_s": s.get("run_seconds"), "wall_s": wall, "crashes": len(s.get("crashes") or []),
            "kills": kills}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=None, help="where the run folders go (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hil-table-") as tmp:
        out = args.out or Path(tmp)
        print("| scenario / policy | seed | faults | shop kills | vend hil --compare | hil run (s) | command (s) |")
        print("|---|---|---|---|---|---|---|")
        for scenario, policy in CASES:
            for seed in args.seeds:
                for faults in (False, True):
                    row = run(scenario, policy, seed, args.days, faults, out)
                    name = policy if not policy.startswith("scripted:") else "example script"
                    hil_s = f"{row['hil_s']:.1f}" if isinstance(row["hil_s"], float | int) else "-"
                    print(f"| {scenario} / {name} | {seed} | {'yes' if faults else 'no'} | {row.get('kills', '-')} | "
                          f"{row['result']} | "
                          f"{hil_s} | {row['wall_s']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
