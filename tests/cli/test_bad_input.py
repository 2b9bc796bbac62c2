"""Bad input to every command: exit 2, exactly one line on stderr, no traceback, no run folder left
behind. The commands come from the parser itself, so a new command without rows here fails.

Each row runs `vend` in a fresh working folder holding `afile` (a plain file, so a folder under it
cannot be made: an unwritable --out even for root) and `empty/` (a folder without a run)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bridge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOWN_PG = "postgresql+psycopg://vend:secret@127.0.0.1:1/vend"  # nothing listens on port 1

# command -> rows of arguments after the command; {cwd} is the row's working folder
TABLE: dict[str, list[list[str]]] = {
    "sim": [
        ["--db", "notaurl"],
        ["--db", "sqlite:///{cwd}/missing/vend.db"],
        ["--db", DOWN_PG],
        ["--out", "{cwd}/afile/runs"],
        ["--days", "0"],
        ["--seed", "-1"],
        ["--policy", "foo"],
        ["--policy", "scripted:{cwd}/nope.toml"],
        ["--policy", "llm"],  # no ANTHROPIC_API_KEY
        ["--scenario", "nope"],
        ["--scenario", "{cwd}/afile"],
        ["--guardrails", "{cwd}/nope.toml"],
        ["--llm-retries", "x"],
        ["--llm-timeout", "0"],
        ["--llm-max-tokens", "3"],
    ],
    "serve-model": [["--n-ctx", "1"], ["--port", "-1"], ["--threads", "x"]],
    "local-model": [["--n-ctx", "1"], ["--days", "0"], ["--llm-timeout", "-5"]],
    "hil": [
        ["--scenario", "nope"],
        ["--policy", "foo"],
        ["--policy", "oracle"],  # the oracle reads the simulator's truth: sim only
        ["--days", "0"],
        ["--out", "{cwd}/afile/runs"],
        ["--broker", "nohost"],
    ],
    "demo": [
        ["--speed", "0"],
        ["--speed", "fast"],
        ["--speed", "1e9"],
        ["--scenario", "nope"],
        ["--duration", "0"],
        ["--duration", "x"],
        ["--out", "{cwd}/afile/runs"],
        ["--policy", "oracle"],
        ["--days", "0"],
    ],
    "calibrate": [
        ["--db", "notaurl", "--out", "{cwd}/twin.toml"],
        ["--db", "sqlite:///{cwd}/missing.db", "--out", "{cwd}/twin.toml"],
        ["--db", "sqlite:///{cwd}/afile", "--out", "{cwd}/twin.toml"],
        ["--db", DOWN_PG, "--out", "{cwd}/twin.toml"],
        ["--db", "sqlite:///{cwd}/missing.db", "--check", "--holdout-weeks", "0"],
    ],
    "transcript": [["{cwd}/nope"], ["{cwd}/empty"], ["{cwd}/afile"], ["x", "--width", "0"]],
    "bench speed": [["--repeat", "0"], ["--days", "x"]],
    "bench policy": [["--policies", "baseline,foo"], ["--policies", ","], ["--scenario", "nope"],
                     ["--backend", "nope"], ["--seeds", "0"]],
    "bench models": [["--models", "baseline"], ["--models", "oracle,oracle"], ["--models", "baseline,oracle", "--seeds", "0"],
                     ["--models", "baseline,oracle", "--scenario", "nope"], ["--models", "claude-sonnet-4-6,baseline"]],
    "bench ingest": [["--seconds", "0"], ["--rate", "0"], ["--latency-seconds", "-1"], ["--machines", "x"]],
    "arena": [["--policies", "baseline,foo"], ["--policies", "baseline"], ["--policies", "baseline,scripted:nope"],
              ["--policies", "baseline,oracle", "--out", "{cwd}/afile/x"], ["--policies", "baseline,oracle",
                                                                               "--teams", "red"],
              ["--policies", "baseline,oracle", "--scenario", "nope"], ["--policies", "llm,baseline"],
              ["--policies", "baseline,oracle", "--model", "claude-sonnet-4-6"]],
    "db upgrade": [["--db", "notaurl"], [], ["--db", DOWN_PG]],
    "db current": [["--db", "notaurl"], ["--db", DOWN_PG]],
    "gate": [["--config", str(ROOT / "ops" / "gate.toml"), "--policy", "foo"], ["--config", "{cwd}/nope.toml"],
             ["--config", str(ROOT / "ops" / "gate.toml"), "--out", "{cwd}/afile/gate"],
             ["--config", "{cwd}/afile"], ["--config", str(ROOT / "ops" / "gate.toml"), "--backend", "nope"],
             ["--config", str(ROOT / "ops" / "gate.toml"), "--store", "notaurl"]],
    "emulate-machine": [["--machine", "a/b", "--count", "1"], ["--machine", "m1", "--rate", "0", "--count", "1"],
                        ["--machine", "m1", "--count", "1"],  # no password
                        ["--machine", "m1", "--password", "x"],  # neither --count nor --duration
                        ["--machine", "m1", "--broker", "nohost", "--count", "1"]],
    "live": [["--config", "{cwd}/nope.toml"], ["--config", "{cwd}/afile"], ["--config", "{cwd}/empty"], []],
    "status": [["--db", "notaurl"], ["--db", "sqlite:///{cwd}/missing.db"], ["--db", DOWN_PG]],
    "shadow-report": [["--db", "sqlite:///{cwd}/missing.db"], ["--db", "notaurl"], ["--db", DOWN_PG],
                      ["--db", "sqlite:///{cwd}/missing.db", "--since", "yesterday"]],
    "chat": [
        ["--scenario", "nope"],
        ["--scenario", "vb1"],  # a customer in a scenario without customers: nobody would answer
        ["--policy", "oracle"],  # the oracle reads the simulator's truth: not the live shop's
        ["--policy", "foo"],
        ["--as", "boss"],
        ["--seed", "-1"],
        ["--policy", "llm"],  # no ANTHROPIC_API_KEY
        ["--policy", "llm", "--llm-max-tokens", "100000"],
        ["--policy", "llm", "--model", "gpt-9"],
        ["--out", "{cwd}/afile/runs"],
    ],
    "runs": [["--out", "{cwd}/nope"], ["--out", "{cwd}/afile"]],
    "compare": [["nope1", "nope2"], ["{cwd}/empty", "{cwd}/empty"], ["{cwd}/afile", "x"],
                ["a", "b", "--out", "{cwd}/empty"]],
    "reconcile": [["--date", "nope"], ["--date", "2026-01-01"],  # no --db
                  ["--date", "2026-01-01", "--db", "sqlite:///{cwd}/x.db"],  # no STRIPE_API_KEY
                  ["--date", "2026-01-01", "--db", "sqlite:///{cwd}/x.db", "--tz", "Mars/Base"]],
}


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every command the parser knows ("bench policy" for a command with subcommands of its own)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{prefix}{name} ") or [f"{prefix}{name}"]
    return found


def test_every_command_has_rows() -> None:
    missing = sorted(set(commands(build_parser())) - set(TABLE))
    assert missing == [], f"add bad-input rows for {missing}"
    assert sorted(set(TABLE) - set(commands(build_parser()))) == []


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "STRIPE_API_KEY", "VEND_DB_URL",
                        "VEND_DEVICE_PASSWORD", "VEND_GATE_VERDICTS")}
    env["COLUMNS"] = "200"
    return env


def _one(row: tuple[str, list[str]], base: Path, n: int) -> tuple[str, list[str], int, str, list[str]]:
    command, args = row
    cwd = base / f"row{n}"
    cwd.mkdir()
    (cwd / "afile").write_text("not a folder, not a TOML file: [[[\n")
    (cwd / "empty").mkdir()
    argv = [*command.split(), *(a.replace("{cwd}", str(cwd)) for a in args)]
    done = subprocess.run([sys.executable, "-m", "bridge.cli", *argv], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    left = sorted(p.name for p in cwd.iterdir() if p.name not in ("afile", "empty"))
    left += [f"empty/{p.name}" for p in (cwd / "empty").iterdir()]
    return command, argv, done.returncode, done.stderr, left


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rows = [(c, args) for c, table in TABLE.items() for args in table]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda nr: _one(nr[1], tmp_path, nr[0]), enumerate(rows)))
    wrong = []
    for _command, argv, rc, err, left in results:
        lines = err.splitlines()
        if rc != 2 or len(lines) != 1 or "Traceback" in err or left:
            wrong.append(f"vend {' '.join(argv)}: exit {rc}, {len(lines)} stderr lines, left {left}: "
                         f"{err.strip()[-300:]}")
    table = "\n".join(f"vend {' '.join(argv)}\n    {err.strip()}" for _, argv, _, err, _ in results)
    (tmp_path / "bad_inputs.txt").write_text(table + "\n")
    assert wrong == [], "\n".join(wrong)


def test_a_transcript_read_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    from bridge.llm.transcript import Transcript

    t = Transcript(tmp_path / "transcript.jsonl")
    for i in range(20_000):
        t.write({"type": "event", "event": "note", "detail": f"line {i}"})
    t.close()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "transcript", str(tmp_path)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""
