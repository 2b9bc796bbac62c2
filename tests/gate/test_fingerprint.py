"""The fingerprint of what the gate judged: the same on any machine and path, different as soon as a
covered input (policy, script, model, prompt, tool schemas, guardrails, code) changes, and the same
whether the gate's config or the live config names the policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.gate import fingerprint as fp
from bridge.gate.config import load_gate
from bridge.gate.fingerprint import code_version, policy_spec, source_hash
from bridge.gate.live_start import live_policy_spec
from bridge.live.config import LiveConfig

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
GUARDRAILS = ROOT / "ops" / "guardrails.toml"


def copy_code(to: Path) -> Path:
    for d in fp.SOURCE_DIRS:
        shutil.copytree(ROOT / d, to / d, ignore=shutil.ignore_patterns("__pycache__"))
    for m in fp.POLICY_MODULES:
        (to / m).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / m, to / m)
    return to


def copies(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    """The same files in two unrelated folders."""
    a, b = tmp_path / "here", tmp_path / "elsewhere" / "deeper"
    for d in (a, b):
        d.mkdir(parents=True)
        for n in names:
            shutil.copy(DATA / n if (DATA / n).exists() else GUARDRAILS, d / n)
    return a, b


def test_the_same_inputs_give_the_same_fingerprint_in_any_folder(tmp_path: Path) -> None:
    a, b = copies(tmp_path, "below_cost.toml", "guardrails.toml")
    code_a, code_b = copy_code(tmp_path / "code_a"), copy_code(tmp_path / "x" / "code_b")
    one = policy_spec(f"scripted:{a / 'below_cost.toml'}", guardrails=a / "guardrails.toml", root=code_a)
    two = policy_spec(f"scripted:{b / 'below_cost.toml'}", guardrails=b / "guardrails.toml", root=code_b)
    assert one.fingerprint == two.fingerprint and one.spec == two.spec
    assert str(tmp_path) not in json.dumps(dict(one.spec))  # no path in what is hashed
    # the copies hash like the running code (nothing outside the covered files counts)
    assert source_hash(code_a) == source_hash(ROOT)
    assert policy_spec("baseline", guardrails=None, root=code_a).fingerprint == \
        policy_spec("baseline", guardrails=None).fingerprint


def test_crlf_line_ends_do_not_change_it(tmp_path: Path) -> None:
    a, b = copies(tmp_path, "below_cost.toml", "guardrails.toml")
    for f in ("below_cost.toml", "guardrails.toml"):
        (b / f).write_bytes((b / f).read_bytes().replace(b"\n", b"\r\n"))
    one = policy_spec(f"scripted:{a / 'below_cost.toml'}", guardrails=a / "guardrails.toml")
    two = policy_spec(f"scripted:{b / 'below_cost.toml'}", guardrails=b / "guardrails.toml")
    assert one.fingerprint == two.fingerprint


def test_each_covered_input_changes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = copies(tmp_path, "below_cost.toml", "guardrails.toml")
    script, guard = a / "below_cost.toml", a / "guardrails.toml"
    base = {
        "baseline": policy_spec("baseline", guardrails=guard),
        "oracle": policy_spec("oracle", guardrails=guard),
        "scripted": policy_spec(f"scripted:{script}", guardrails=guard),
        "llm": policy_spec("llm", guardrails=guard),
        "built-in guardrails": policy_spec("baseline", guardrails=None),
        "another model": policy_spec("llm", guardrails=guard, model="claude-haiku-4-5"),
    }
    assert len({s.fingerprint for s in base.values()}) == len(base)

    script.write_text(script.read_text().replace("price_cents = 10", "price_cents = 11"))
    assert policy_spec(f"scripted:{script}", guardrails=guard).fingerprint != base["scripted"].fingerprint

    guard.write_text(guard.read_text() + "\n# a comment is a change too: the file's bytes are judged\n")
    assert policy_spec("baseline", guardrails=guard).fingerprint != base["baseline"].fingerprint
    shutil.copy(GUARDRAILS, guard)
    assert policy_spec("baseline", guardrails=guard).fingerprint == base["baseline"].fingerprint

    import bridge.llm.prompt

    real_prompt = bridge.llm.prompt.system_prompt
    monkeypatch.setattr(bridge.llm.prompt, "system_prompt", lambda **kw: real_prompt(**kw) + "\nBe terse.")
    assert policy_spec("llm", guardrails=guard).fingerprint != base["llm"].fingerprint
    monkeypatch.setattr(bridge.llm.prompt, "system_prompt", real_prompt)

    real_specs = fp.tool_specs
    monkeypatch.setattr(fp, "tool_specs", lambda: [s for s in real_specs() if s.name != "add_note"])
    changed = policy_spec("llm", guardrails=guard)
    # the prompt lists the tools too; the schemas' own hash moves
    assert changed.spec["llm"]["tools_sha256"] != base["llm"].spec["llm"]["tools_sha256"]
    monkeypatch.setattr(fp, "tool_specs", real_specs)
    assert policy_spec("llm", guardrails=guard).fingerprint == base["llm"].fingerprint


def test_a_change_to_the_agent_code_or_the_version_changes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = copy_code(tmp_path / "code")
    before = policy_spec("baseline", guardrails=None, root=code).fingerprint
    policy = code / "bridge" / "policies" / "baseline.py"
    policy.write_text(policy.read_text() + "\n# a one-line change\n")
    code_version.cache_clear()
    assert policy_spec("baseline", guardrails=None, root=code).fingerprint != before
    for covered in ("scheduler/jobs.py", "sim_backend/oracle.py"):
        h = source_hash(code)
        (code / covered).write_text((code / covered).read_text() + "\n#\n")
        assert source_hash(code) != h
    h = source_hash(code)
    (code / "sim_backend" / "engine.py").write_text("# the simulator is not covered\n")
    (code / "bridge" / "notes.txt").write_text("not source\n")
    assert source_hash(code) == h
    monkeypatch.setattr(fp, "package_version", lambda: "9.9.9")
    code_version.cache_clear()
    assert policy_spec("baseline", guardrails=None, root=code).spec["code"]["version"] == "9.9.9"
    code_version.cache_clear()


def test_the_gate_file_and_the_live_config_name_the_same_fingerprint(tmp_path: Path) -> None:
    """Each file takes its paths from its own folder; the fingerprint sees only the files' bytes."""
    gate_dir, live_dir = copies(tmp_path, "below_cost.toml", "guardrails.toml")
    (gate_dir / "gate.toml").write_text('policy = "scripted:below_cost.toml"\nguardrails = "guardrails.toml"\n'
                                        'model = "claude-haiku-4-5"\n[[scenarios]]\nname = "vb1"\n')
    cfg = load_gate(gate_dir / "gate.toml")
    live = live_dir / "live.toml"
    live.write_text('[policy]\nname = "scripted:below_cost.toml"\nguardrails = "guardrails.toml"\n')
    gated = policy_spec(cfg.policy, guardrails=cfg.enforced_guardrails, model=cfg.model)
    assert live_policy_spec(LiveConfig.load(live)).fingerprint == gated.fingerprint

    (gate_dir / "gate.toml").write_text((gate_dir / "gate.toml").read_text().replace("scripted:below_cost.toml", "llm"))
    cfg = load_gate(gate_dir / "gate.toml")
    gated = policy_spec(cfg.policy, guardrails=cfg.enforced_guardrails, model=cfg.model)
    live.write_text('[policy]\nname = "llm"\nguardrails = "guardrails.toml"\n[llm]\nmodel = "claude-haiku-4-5"\n')
    assert live_policy_spec(LiveConfig.load(live)).fingerprint == gated.fingerprint
    live.write_text('[policy]\nname = "llm"\nguardrails = "guardrails.toml"\n')  # the default model
    assert live_policy_spec(LiveConfig.load(live)).fingerprint != gated.fingerprint
