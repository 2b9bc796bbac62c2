"""The rollout gate at `vend live`'s door: a policy runs for real only with a passing verdict.

Called first thing by `vend live`, before the bridge opens anything: it reads the live config,
computes the fingerprint of the policy its [policy] section names (with the same guardrails file
and script or model), and looks the verdict up. `--shadow` needs none (nothing is done for
real). `--no-gate-verdict REASON` starts without one and writes that, with the reason, into the
store's audit log (tool `vend_live_start`, verdict `override:no_gate_verdict`) before the start;
if that row cannot be written, nothing starts.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bridge.errors import ConfigError
from bridge.gate.fingerprint import PolicySpec, policy_spec
from bridge.gate.verdict import read_verdict, require_verdict, verdicts_dir

OVERRIDE_TOOL = "vend_live_start"
OVERRIDE_VERDICT = "override:no_gate_verdict"


def live_policy_spec(config: Any) -> PolicySpec:
    """The spec of the policy a LiveConfig names, its relative paths taken from the config's folder."""
    from bridge.live.config import LlmSection

    p = config.policy
    guardrails = config.path(p.guardrails) if p.guardrails else None
    name = p.name
    if name.startswith("scripted:"):
        name = f"scripted:{config.path(name.removeprefix('scripted:'))}"
    model = (config.llm or LlmSection()).model if name == "llm" else ""
    spec = policy_spec(name, guardrails=guardrails, model=model)
    return PolicySpec(spec=spec.spec, fingerprint=spec.fingerprint, label=p.name)


def check_live_start(config_path: Path, *, shadow: bool, verdicts: Path | None = None, override: str | None = None,
                     err: TextIO | None = None) -> dict[str, Any] | None:
    """The passing verdict `vend live` starts on (None in shadow mode or on an override), else a
    one-line ConfigError naming the fingerprint and what to run."""
    if shadow:
        return None
    from bridge.live.config import LiveConfig

    config = LiveConfig.load(config_path)
    spec = live_policy_spec(config)
    folder = verdicts_dir(verdicts)
    if override is None:
        return require_verdict(spec, folder)
    found = read_verdict(folder, spec)
    if found.verdict is not None:
        return found.verdict  # nothing to override
    record_override(config, spec=spec, reason=override, missing=found.reason, folder=folder)
    print(f"vend live: WARNING: starting {spec.label} (fingerprint {spec.fingerprint}) without a passing gate "
          f"verdict ({found.reason}); override recorded in the audit log: {override}", file=err or sys.stderr)
    return None


def record_override(config: Any, *, spec: PolicySpec, reason: str, missing: str, folder: Path,
                    now: datetime | None = None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.store import Store

    ts = now or datetime.now(UTC)
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = ""
    args = {"reason": reason, "policy": spec.label, "fingerprint": spec.fingerprint, "missing": missing,
            "verdicts": str(folder), "operator": operator}
    row = {"shop": config.bridge.shop, "run_id": f"gate-override-{ts:%Y%m%dT%H%M%S%f}", "seq": 0, "ts": ts,
           "tool": OVERRIDE_TOOL, "kind": "write", "args_json": json.dumps(args, sort_keys=True), "ok": True,
           "result_json": json.dumps({"started": True, "spec": dict(spec.spec)}, sort_keys=True),
           "verdict": OVERRIDE_VERDICT, "idempotency_key": "", "input_tokens": 0, "output_tokens": 0}
    try:
        store = Store(url=config.db_url())
        try:
            store.append("audit_log", row)
            store.flush()
        finally:
            store.engine.dispose()
    except SQLAlchemyError as e:
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise ConfigError(f"cannot record the gate override in the audit log, so not starting: {detail}") from None
