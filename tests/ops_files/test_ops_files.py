"""The ops kit is consistent with the code: the unit's commands parse with `vend`'s own parser, and
the example gate names files that exist."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

from bridge.cli import build_parser
from bridge.gate.config import load_gate

OPS = Path(__file__).resolve().parents[2] / "ops"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(OPS / "systemd" / "vendbridge.service")
    return parser


def test_the_unit_runs_vend_commands_that_exist() -> None:
    u = unit()
    assert {"Unit", "Service", "Install"} <= set(u.sections())
    pre = shlex.split(u["Service"]["ExecStartPre"])
    assert pre[0].endswith("/vend")
    args = build_parser().parse_args(pre[1:])
    assert (args.command, args.db_command) == ("db", "upgrade")
    start = shlex.split(u["Service"]["ExecStart"])
    assert start[0].endswith("/vend") and start[1:3] == ["live", "--config"]
    live = build_parser().parse_args(start[1:])
    assert live.verdicts is not None and live.verdicts.is_absolute()  # the gate's verdicts, copied by the deploy
    assert not live.shadow and live.no_gate_verdict is None
    assert u["Service"]["EnvironmentFile"] == "/etc/vendbridge/secrets.env"
    assert u["Service"]["KillSignal"] == "SIGTERM"
    assert "StartLimitBurst" in u["Unit"]  # systemd ignores it under [Service]


def test_systemd_accepts_the_unit_when_it_is_here() -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return  # optional: the parser test above still checks the unit
    done = subprocess.run([tool, "verify", str(OPS / "systemd" / "vendbridge.service")], capture_output=True,
                          text=True, timeout=60, check=False)
    problems = [ln for ln in done.stderr.splitlines() if ln.strip() and "is not executable" not in ln]
    assert problems == []


def test_the_example_gate_loads_and_is_small() -> None:
    cfg = load_gate(OPS / "gate.toml")
    assert cfg.policy == "baseline" and cfg.guardrails == OPS / "guardrails.toml"
    assert len(cfg.seeds) * len(cfg.scenarios) <= 4 and all((s.days or 365) <= 90 for s in cfg.scenarios)
    assert cfg.rules.no_bankruptcy and cfg.rules.max_guardrail_breaches == 0
