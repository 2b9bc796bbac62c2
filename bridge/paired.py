"""Paired comparison of two players on the same seeds (common random numbers): the mean of the
per-seed differences of their scores, its confidence interval (Student's t), and how many seeds
would tell them apart at the difference observed."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# two-sided 95% quantiles of Student's t by degrees of freedom; 1.96 beyond the table
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
       20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    if df <= 0:
        return math.inf
    known = [k for k in T95 if k <= df]
    return T95[max(known)] if df <= 120 else 1.96


@dataclass(frozen=True, slots=True, kw_only=True)
class Paired:
    seeds: int
    mean_diff: float  # a - b, cents
    sd_diff: float
    ci_low: float
    ci_high: float
    seeds_needed: int | None  # to exclude 0 at the observed difference; None: no difference seen

    @property
    def separated(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_json(self) -> dict[str, object]:
        return {"seeds": self.seeds, "mean_diff_cents": round(self.mean_diff, 1), "sd_diff_cents": round(self.sd_diff, 1),
                "ci95_cents": [round(self.ci_low, 1), round(self.ci_high, 1)], "separated": self.separated,
                "seeds_needed": self.seeds_needed}


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    if len(a) != len(b) or not a:
        raise ValueError("paired scores: the same seeds, at least one")
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = statistics.fmean(d)
    sd = statistics.stdev(d) if n > 1 else 0.0
    half = t95(n - 1) * sd / math.sqrt(n) if n > 1 else math.inf
    if mean == 0:
        needed = None
    elif sd == 0:
        needed = 2
    else:  # the smallest n whose t-interval at this sd excludes 0 at this mean
        needed = next((k for k in range(2, 100_000) if t95(k - 1) * sd / math.sqrt(k) < abs(mean)), None)
    return Paired(seeds=n, mean_diff=mean, sd_diff=sd, ci_low=mean - half, ci_high=mean + half, seeds_needed=needed)
