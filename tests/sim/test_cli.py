import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
REQUIRED = ("net_worth_cents", "bank_cents", "machine_cash_cents", "inventory_value_cents", "units_sold",
            "days_run", "bankrupt", "seed", "policy")


def vend(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_sim_json_summary_and_run_folder(tmp_path: Path) -> None:
    out = vend("sim", "--days", "40", "--seed", "4", "--json", "--out", str(tmp_path), "--name", "r", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)  # stdout is exactly one JSON object
    assert all(k in summary for k in REQUIRED)
    assert summary["days_run"] == 40 and summary["seed"] == 4 and summary["policy"] == "baseline"
    run = tmp_path / "r"
    for name in ("events.jsonl", "summary.json", "vend.db", "net_worth.png", "money_balance.png",
                 "units_sold.png", "tool_usage.png"):
        assert (run / name).stat().st_size > 0, name
        if name.endswith(".png"):  # drawn by two processes (bridge/compose/charts.py): each file whole
            assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert json.loads((run / "summary.json").read_text())["net_worth_cents"] == summary["net_worth_cents"]
    first = json.loads((run / "events.jsonl").read_text().splitlines()[0])
    assert first["kind"] == "capital_in" and first["ts"].endswith("-08:00")


def test_bad_input_gets_one_clear_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\ndays = "many"\nsuppliers = []\n')
    cases = [
        (["sim", "--days", "-3"], "must be positive"),
        (["sim", "--scenario", "nope"], "unknown scenario"),
        (["sim", "--policy", "psychic", "--days", "2"], "unknown policy"),
        (["sim", "--scenario", str(broken)], "days"),
        (["sim", "--scenario", str(tmp_path / "missing.toml")], "missing.toml"),
        (["sim", "--seed", "x"], "whole number"),
    ]
    for args, words in cases:
        out = vend(*args, "--out", str(tmp_path / "runs"), cwd=tmp_path)
        assert out.returncode == 2, (args, out.stderr)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip() and not ln.startswith("usage:")]
        assert len(lines) == 1 and words in lines[0], (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_bench_policy_prints_the_table_and_the_ratio(tmp_path: Path) -> None:
    out = vend("bench", "policy", "--seeds", "2", "--days", "20", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = {row["policy"]: row for row in json.loads(out.stdout)["table"]}
    assert set(table) == {"baseline", "oracle"}
    assert table["oracle"]["runs"] == 2 and table["oracle"]["mean_net_worth_cents"] > 0
    text = vend("bench", "policy", "--seeds", "2", "--days", "20", "--workers", "1", cwd=tmp_path)
    assert "baseline / oracle mean net worth:" in text.stdout


def test_bench_speed_prints_figures(tmp_path: Path) -> None:
    out = vend("bench", "speed", "--repeat", "1", "--days", "15", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "sim days/s" in out.stdout and "machine calibration" in out.stdout
