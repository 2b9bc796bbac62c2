"""Gate verdicts on disk, and the check `vend live` makes before it starts a policy for real.

`vend gate` writes one JSON file per fingerprint, `<verdicts>/<fingerprint>.json` (default
`runs/gate/verdicts/`); a later gate of the same fingerprint replaces it, so the newest verdict
counts. Ops copy the file to the live host's verdicts folder (`vend live --verdicts DIR`, or
$VEND_GATE_VERDICTS). A verdict file is a record, not a signature: whoever may write that folder
may start any policy, so keep it as closed as the config (see ops/RUNBOOK.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.gate.fingerprint import PolicySpec

DEFAULT_DIR = Path("runs/gate/verdicts")
ENV_DIR = "VEND_GATE_VERDICTS"


def verdicts_dir(given: Path | None) -> Path:
    """The folder `vend live` reads: the flag, else $VEND_GATE_VERDICTS, else runs/gate/verdicts."""
    if given is not None:
        return given
    env = os.environ.get(ENV_DIR, "")
    return Path(env) if env else DEFAULT_DIR


def write_verdict(folder: Path, *, spec: PolicySpec, result: dict[str, Any], gate: dict[str, Any],
                  now: datetime | None = None) -> Path:
    """`result`: GateResult.to_json(); `gate`: the gate config's path, hash, scenarios and seeds."""
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "verdict": "pass" if result["passed"] else "fail",
        "passed": bool(result["passed"]),
        "fingerprint": spec.fingerprint,
        "policy": spec.label,
        "spec": dict(spec.spec),
        "judged_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "gate": gate,
        "failed_rules": list(result["failed_rules"]),
        "rules": [{k: r[k] for k in ("rule", "threshold", "measured", "passed")} for r in result["rules"]],
        "runs": len(result["runs"]),
    }
    path = folder / f"{spec.fingerprint}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, path)  # a reader never sees half a file
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """What the verdicts folder says about a fingerprint."""

    verdict: dict[str, Any] | None  # the passing verdict, or None
    reason: str  # why there is none (empty when there is one)


def read_verdict(folder: Path, spec: PolicySpec) -> Found:
    path = folder / f"{spec.fingerprint}.json"
    if not path.is_file():
        hint = _nearest(folder, spec)
        return Found(verdict=None, reason="no verdict" + (f" ({hint})" if hint else ""))
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return Found(verdict=None, reason=f"unreadable verdict file {path.name}: {err}".splitlines()[0])
    if not isinstance(body, dict) or body.get("fingerprint") != spec.fingerprint:
        return Found(verdict=None, reason=f"verdict file {path.name} is for another fingerprint")
    if body.get("passed") is not True or body.get("verdict") != "pass":
        failed = ", ".join(str(r) for r in body.get("failed_rules") or []) or "?"
        return Found(verdict=None, reason=f"the gate FAILED it on {body.get('judged_at', '?')} (rules: {failed})")
    return Found(verdict=body, reason="")


def _nearest(folder: Path, spec: PolicySpec) -> str:
    """Which parts differ from the newest verdict for the same kind of policy, as a hint."""
    best: tuple[str, dict[str, Any]] | None = None
    for p in folder.glob("*.json") if folder.is_dir() else ():
        try:
            body = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        other = body.get("spec") if isinstance(body, dict) else None
        if isinstance(other, dict) and other.get("policy") == spec.kind:
            when = str(body.get("judged_at", ""))
            if best is None or when > best[0]:
                best = (when, other)
    if best is None:
        return ""
    return f"the newest {spec.kind} verdict there differs in: {', '.join(spec.differs_from(best[1])) or 'nothing'}"


def require_verdict(spec: PolicySpec, folder: Path) -> dict[str, Any]:
    """The passing verdict for `spec`, or a one-line ConfigError saying what is missing and what to run."""
    found = read_verdict(folder, spec)
    if found.verdict is not None:
        return found.verdict
    raise ConfigError(
        f"no passing gate verdict for policy {spec.label} (fingerprint {spec.fingerprint}) in {folder}: "
        f"{found.reason}; run `vend gate` on this policy with this code and guardrails file and copy "
        f"its {spec.fingerprint}.json there, use --shadow, or override with --no-gate-verdict REASON")
