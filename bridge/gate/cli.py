"""`vend gate --config ops/gate.toml`: exit 0 when every rule holds, 1 when one fails, 2 on a bad config."""

from __future__ import annotations

import argparse
import json
import os
import sys


def run_gate_command(args: argparse.Namespace) -> int:
    from bridge.gate.config import load_gate
    from bridge.gate.report import write_report
    from bridge.gate.run import jobs_for, run_gate
    from bridge.progress import RunProgress
    from bridge.sweep import check_backend

    cfg = load_gate(args.config)
    check_backend(args.backend)
    workers = args.workers or cfg.workers or os.cpu_count() or 1
    progress = RunProgress(total=len(jobs_for(cfg, args.policy)))
    result = run_gate(cfg, policy=args.policy, workers=workers, backend=args.backend, on_done=progress.update)
    progress.close()
    report = write_report(args.out, cfg, result)
    if args.json:
        print(json.dumps({**result.to_json(), "report": str(report)}))
    else:
        print(f"gate {'PASSED' if result.passed else 'FAILED'}: {result.policy} over {len(result.runs)} runs "
              f"in {result.seconds:.1f} s; report {report}")
        for r in result.rules:
            print(f"  {'pass' if r.passed else 'FAIL'}  {r.rule}: {r.measured} (rule: {r.threshold})")
            for w in r.where[:5]:
                print(f"        {w}")
    if not result.passed:
        print(f"vend gate: failed rule(s): {', '.join(result.failed)}", file=sys.stderr)
        return 1
    return 0
