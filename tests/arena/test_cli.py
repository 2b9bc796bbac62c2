import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def vend(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_vend_arena_runs_a_round_in_parallel_and_writes_table_and_charts(tmp_path: Path) -> None:
    out = vend("arena", "--policies", "baseline,oracle,baseline", "--seeds", "2", "--days", "20", "--workers", "2",
               "--teams", "a,b,a", "--out", str(tmp_path), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    table = result["table"]
    assert table["seeds"] == [0, 1]
    assert [r["policy"] for r in table["participants"]] == ["baseline", "oracle", "baseline"]
    assert all(r["runs"] == 2 and r["mean_units_sold"] > 0 for r in table["participants"])
    assert set(table["teams"]) == {"a", "b"}
    folder = Path(result["out"])
    for name in ("round.json", "net_worth.png", "shared_price.png"):
        assert (folder / name).stat().st_size > 0, name
    runs = json.loads((folder / "round.json").read_text())["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and all(len(r["participants"]) == 3 for r in runs)


def test_vend_arena_errors_are_one_line(tmp_path: Path) -> None:
    out = vend("arena", "--policies", "baseline", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "two participants" in out.stderr
    out = vend("arena", "--policies", "baseline,nonsense", cwd=tmp_path)
    assert out.returncode == 2 and "unknown policy" in out.stderr
