"""The gate governs live: `vend gate` writes its verdict under the fingerprint of what it judged; `vend
live` (not in shadow mode) starts only on a passing verdict for the fingerprint of the policy its
config names, or on an explicit override that goes into the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.errors import ConfigError
from bridge.gate.live_start import OVERRIDE_TOOL, OVERRIDE_VERDICT, check_live_start, live_policy_spec
from bridge.gate.verdict import write_verdict
from bridge.live.config import LiveConfig
from bridge.store import Store

ROOT = Path(__file__).resolve().parents[2]
GUARDRAILS = ROOT / "ops" / "guardrails.toml"
MISSING_TOKEN = "GATEFP_TEST_NO_SUCH_TOKEN"  # the live start fails here, after the gate's check


def tiny_gate(tmp_path: Path, policy: str = "baseline") -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(f'policy = "{policy}"\nguardrails = "{GUARDRAILS}"\nseeds = 1\ndays = 5\nworkers = 1\n'
                    '[[scenarios]]\nname = "vb1"\n[rules]\nmin_mean_score_cents = 0\n')
    return path


def live_config(tmp_path: Path, *, guardrails: Path = GUARDRAILS, policy: str = "baseline") -> Path:
    """A live config whose start gets past the gate, opens the store, then stops at a missing Slack token."""
    path = tmp_path / "live" / "live.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live" / "live.db"}"\n'
                    f'[policy]\nname = "{policy}"\nguardrails = "{guardrails}"\n'
                    f'[slack]\nops_channel = "C1"\nshop_channel = "C2"\nops_usergroup = "S1"\n'
                    f'bot_token_env = "{MISSING_TOKEN}"\n')
    return path


def run_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str], gate: Path) -> tuple[int, dict]:
    rc = main(["gate", "--config", str(gate), "--out", str(tmp_path / "report")])
    capsys.readouterr()
    verdicts = list((tmp_path / "report" / "verdicts").glob("*.json"))
    assert len(verdicts) == 1
    return rc, json.loads(verdicts[0].read_text())


def live(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, list[str]]:
    rc = main(["live", "--config", str(config), *args])
    return rc, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VEND_GATE_VERDICTS", raising=False)
    monkeypatch.delenv(MISSING_TOKEN, raising=False)
    monkeypatch.chdir(tmp_path)  # the default verdicts folder, runs/gate/verdicts, is empty here


def test_the_gate_writes_a_passing_verdict_live_starts_on_it_and_refuses_without_it(tmp_path, capsys) -> None:
    rc, verdict = run_gate(tmp_path, capsys, tiny_gate(tmp_path))
    assert rc == 0 and verdict["passed"] is True and verdict["verdict"] == "pass"
    config = live_config(tmp_path)
    spec = live_policy_spec(LiveConfig.load(config))
    assert verdict["fingerprint"] == spec.fingerprint and verdict["spec"] == dict(spec.spec)
    assert verdict["gate"]["seeds"] == [0] and len(verdict["gate"]["config_sha256"]) == 64
    assert {r["rule"] for r in verdict["rules"]} >= {"runs_complete", "no_guardrail_breach"}
    folder = tmp_path / "report" / "verdicts"
    assert json.loads((tmp_path / "report" / "verdict.json").read_text())["fingerprint"] == spec.fingerprint

    # without the verdict: one line, exit 2, naming the fingerprint; nothing opened
    rc, err = live(capsys, config)
    assert rc == 2 and len(err) == 1 and spec.fingerprint in err[0]
    assert not (tmp_path / "live" / "live.db").exists()
    with pytest.raises(ConfigError, match=spec.fingerprint):
        check_live_start(config, shadow=False, verdicts=tmp_path / "elsewhere")

    # with it: the check gives the verdict; the CLI gets past it and opens the store
    assert check_live_start(config, shadow=False, verdicts=folder) == verdict
    rc, err = live(capsys, config, "--verdicts", str(folder))
    assert rc == 2 and MISSING_TOKEN in err[-1]  # the later failure, not the gate
    store = Store(url=f"sqlite:///{tmp_path / 'live' / 'live.db'}")
    assert [r["mode"] for r in store.rows("run_info")] == ["live"]
    assert store.rows("audit_log") == []  # no override was needed
    store.engine.dispose()


def test_the_verdicts_folder_can_come_from_the_environment(tmp_path, capsys, monkeypatch) -> None:
    config = live_config(tmp_path)
    folder = tmp_path / "copied-to-the-live-host"
    write_verdict(folder, spec=live_policy_spec(LiveConfig.load(config)),
                  result={"passed": True, "failed_rules": [], "rules": [], "runs": []}, gate={})
    with pytest.raises(ConfigError):
        check_live_start(config, shadow=False)
    monkeypatch.setenv("VEND_GATE_VERDICTS", str(folder))
    assert (check_live_start(config, shadow=False) or {}).get("passed") is True


def test_a_failed_verdict_or_one_for_other_guardrails_does_not_start_it(tmp_path, capsys) -> None:
    config = live_config(tmp_path)
    spec = live_policy_spec(LiveConfig.load(config))
    folder = tmp_path / "verdicts"
    write_verdict(folder, spec=spec, result={"passed": False, "failed_rules": ["no_bankruptcy"], "rules": [],
                                             "runs": []}, gate={})
    rc, err = live(capsys, config, "--verdicts", str(folder))
    assert rc == 2 and len(err) == 1 and spec.fingerprint in err[0] and "no_bankruptcy" in err[0]

    looser = tmp_path / "looser.toml"
    looser.write_text(GUARDRAILS.read_text().replace("price_floor_markup", "# price_floor_markup"))
    write_verdict(folder, spec=spec, result={"passed": True, "failed_rules": [], "rules": [], "runs": []}, gate={})
    assert (check_live_start(config, shadow=False, verdicts=folder) or {}).get("passed") is True
    other = live_config(tmp_path, guardrails=looser)  # the same policy under other rails: another fingerprint
    other_spec = live_policy_spec(LiveConfig.load(other))
    assert other_spec.fingerprint != spec.fingerprint
    rc, err = live(capsys, other, "--verdicts", str(folder))
    assert rc == 2 and len(err) == 1 and other_spec.fingerprint in err[0] and "guardrails" in err[0]

    (folder / f"{other_spec.fingerprint}.json").write_text('{"fingerprint": "forged", "passed": true}')
    with pytest.raises(ConfigError, match=other_spec.fingerprint):
        check_live_start(other, shadow=False, verdicts=folder)


def test_shadow_mode_needs_no_verdict(tmp_path) -> None:
    assert check_live_start(tmp_path / "not-even-read.toml", shadow=True, verdicts=tmp_path / "none") is None


def test_the_override_starts_it_and_writes_the_audit_log(tmp_path, capsys) -> None:
    config = live_config(tmp_path)
    spec = live_policy_spec(LiveConfig.load(config))
    rc, err = live(capsys, config, "--no-gate-verdict", "  hotfix for the jammed slot, gate run pending  ")
    assert rc == 2 and MISSING_TOKEN in err[-1]  # it went on to start (and failed later, at Slack)
    assert any(spec.fingerprint in line for line in err[:-1])  # the warning
    store = Store(url=f"sqlite:///{tmp_path / 'live' / 'live.db'}")
    rows = store.rows("audit_log", tool=OVERRIDE_TOOL)
    assert len(rows) == 1 and rows[0]["verdict"] == OVERRIDE_VERDICT and rows[0]["ok"] is True
    args = json.loads(rows[0]["args_json"])
    assert args["reason"] == "hotfix for the jammed slot, gate run pending"
    assert args["fingerprint"] == spec.fingerprint and args["policy"] == "baseline"
    assert rows[0]["shop"] == "main" and [r["mode"] for r in store.rows("run_info")] == ["live"]
    store.engine.dispose()


def test_the_override_needs_a_reason(tmp_path, capsys) -> None:
    config = live_config(tmp_path)
    for args in (["--no-gate-verdict"], ["--no-gate-verdict", "   "]):
        with pytest.raises(SystemExit) as done:
            main(["live", "--config", str(config), *args])
        assert done.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "live" / "live.db").exists()
