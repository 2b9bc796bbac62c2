"""`vend gate --config ops/gate.toml`: exit 0 when every rule holds, 1 when one fails, 2 on a bad config.

The verdict is written to `<verdicts>/<fingerprint>.json` (default `<out>/verdicts`, so
`runs/gate/verdicts/`), where `vend live` looks for it. `vend gate --store URL` audits an existing
store's books instead: exit 0 when clean, 1 with a breach, 2 when the store cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def run_gate_command(args: argparse.Namespace) -> int:
    from bridge.gate.config import load_gate

    cfg = load_gate(args.config)
    if args.store:
        return _audit_store(args, cfg)
    from bridge.gate.fingerprint import files_sha, policy_spec
    from bridge.gate.report import write_report
    from bridge.gate.run import jobs_for, run_gate
    from bridge.gate.verdict import write_verdict
    from bridge.progress import RunProgress
    from bridge.sweep import check_backend

    check_backend(args.backend)
    policy = args.policy or cfg.policy
    _check_inputs(args, policy)
    spec = policy_spec(policy, guardrails=cfg.enforced_guardrails, model=cfg.model)  # before the runs: their code
    workers = args.workers or cfg.workers or os.cpu_count() or 1
    progress = RunProgress(total=len(jobs_for(cfg, args.policy)), name="vend gate")
    result = run_gate(cfg, policy=args.policy, workers=workers, backend=args.backend, on_done=progress.update)
    progress.close()
    report = write_report(args.out, cfg, result, fingerprint=spec.fingerprint)
    judged = [cfg.path, *_scenario_files(cfg), *([cfg.guardrails] if cfg.guardrails else [])]
    gate = {"config": str(cfg.path), "config_sha256": files_sha(judged), "scenarios": [s.name for s in cfg.scenarios],
            "seeds": list(cfg.seeds)}
    verdict = write_verdict(args.verdicts or args.out / "verdicts", spec=spec, result=result.to_json(), gate=gate)
    if args.json:
        print(json.dumps({**result.to_json(), "report": str(report), "fingerprint": spec.fingerprint,
                          "verdict_file": str(verdict)}))
    else:
        print(f"gate {'PASSED' if result.passed else 'FAILED'}: {result.policy} over {len(result.runs)} runs "
              f"in {result.seconds:.1f} s; report {report}")
        for r in result.rules:
            print(f"  {'pass' if r.passed else 'FAIL'}  {r.rule}: {r.measured} (rule: {r.threshold})")
            for w in r.where[:5]:
                print(f"        {w}")
        print(f"verdict {verdict} (fingerprint {spec.fingerprint})")
    if not result.passed:
        print(f"vend gate: failed rule(s): {', '.join(result.failed)}", file=sys.stderr)
        return 1
    return 0


def _check_inputs(args: argparse.Namespace, policy: str) -> None:
    """A bad policy or an unwritable report folder fails in one line before any run starts."""
    from bridge.compose.policies import check_policy_name, check_script_file
    from bridge.compose.sim import check_out_folder

    check_policy_name(policy)
    check_script_file(policy)  # the file's own script path is made absolute by load_gate
    check_out_folder(args.out)
    if args.verdicts:
        check_out_folder(args.verdicts, flag="--verdicts")


def _audit_store(args: argparse.Namespace, cfg: Any) -> int:
    from bridge.gate.audit import audit_store

    audit = audit_store(args.store, guardrails=cfg.guardrails, tz=args.tz)
    if args.json:
        print(json.dumps(audit.to_json()))
    else:
        print(f"store {audit.store}: {audit.count} guardrail breach(es) against {audit.guardrails} "
              f"(days in {audit.tz} from {audit.start})")
        for b in audit.breaches:
            print(f"  day {b.day}  {b.rule}: {b.detail}")
    if audit.count:
        print(f"vend gate: {audit.count} guardrail breach(es) in the store", file=sys.stderr)
        return 1
    return 0


def _scenario_files(cfg: Any) -> list[Path]:
    """The scenario files the gate judged, with the catalogue each names (a calibrated twin's products,
    named relative to its file)."""
    import tomllib

    out: list[Path] = []
    for s in cfg.scenarios:
        if not s.source.endswith(".toml"):
            continue
        path = Path(s.source)
        out.append(path)
        catalogue = tomllib.loads(path.read_text()).get("catalogue")
        if isinstance(catalogue, str) and catalogue:
            beside = path.parent / catalogue
            out.append(beside if beside.exists() else Path(catalogue))
    return out
