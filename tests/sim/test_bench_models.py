"""`vend bench models`: two players on the same seeds, the paired difference of their scores with a
95% confidence interval and the seeds needed to tell them apart (policies as the degenerate case)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bridge.paired import paired, t95
from tests.sim.test_cli import vend


def test_paired_difference_interval_and_seeds_needed() -> None:
    p = paired([110, 120, 130, 140], [100, 100, 100, 100])  # differences 10, 20, 30, 40
    assert p.mean_diff == 25 and math.isclose(p.sd_diff, 12.9099, rel_tol=1e-4)
    half = 3.182 * p.sd_diff / 2
    assert math.isclose(p.ci_low, 25 - half) and math.isclose(p.ci_high, 25 + half) and p.separated
    assert p.seeds_needed == 4  # t(3) * sd / sqrt(4) = 20.5 < 25; t(2) * sd / sqrt(3) = 32.1 is not
    same = paired([5, 7, 9], [5, 7, 9])
    assert same.mean_diff == 0 and not same.separated and same.seeds_needed is None
    noisy = paired([10, -10, 12, -8], [0, 0, 0, 0])
    assert not noisy.separated and noisy.seeds_needed is not None and noisy.seeds_needed > 4
    with pytest.raises(ValueError):
        paired([1, 2], [1])
    assert t95(1) == 12.706 and t95(22) == 2.086 and t95(1000) == 1.96


def test_bench_models_runs_both_on_the_same_seeds_and_reports_the_paired_difference(tmp_path: Path) -> None:
    out = vend("bench", "models", "--models", "baseline,oracle", "--seeds", "3", "--scenario", "vb1", "--days", "20",
               "--workers", "1", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    base, oracle = r["players"]
    assert r["seeds"] == 3 and len(base["scores_cents"]) == len(oracle["scores_cents"]) == 3
    diffs = [a - b for a, b in zip(base["scores_cents"], oracle["scores_cents"], strict=True)]
    assert math.isclose(r["paired"]["mean_diff_cents"], sum(diffs) / 3, abs_tol=0.1)
    low, high = r["paired"]["ci95_cents"]
    assert low <= r["paired"]["mean_diff_cents"] <= high
    text = vend("bench", "models", "--models", "baseline,oracle", "--seeds", "2", "--scenario", "vb1", "--days", "10",
                "--workers", "1", cwd=tmp_path)
    assert text.returncode == 0 and "95% CI" in text.stdout


def test_bench_models_needs_two_different_players(tmp_path: Path) -> None:
    for models in ("baseline", "oracle,oracle"):
        out = vend("bench", "models", "--models", models, "--seeds", "2", cwd=tmp_path)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
