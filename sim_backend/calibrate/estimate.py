"""One calibrated parameter: its estimate, a 90% interval, the base scenario's value, and how it was
found ("fitted" from the shop's own data, "pooled" from its category's, "base" when the data could
not identify it and the base scenario's value is kept). Plus the few distributions the intervals use,
written out (no scipy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z90 = 1.6448536269514722  # the standard normal's 95th percentile: a two-sided 90% interval


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    name: str  # e.g. "base_daily_sales[coke-12oz]", "weekday_factors[Mon]"
    value: float
    low: float
    high: float
    base: float
    method: str  # "fitted", "pooled" or "base"
    evidence: str = ""  # what it rests on: "412 units over 80 days"

    @property
    def identified(self) -> bool:
        return self.method != "base"

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "low": self.low, "high": self.high, "base": self.base,
                "method": self.method, "evidence": self.evidence}


def kept(name: str, base: float, why: str) -> Estimate:
    """A parameter the data could not identify: the base scenario's value, with no interval of its own."""
    return Estimate(name=name, value=base, low=base, high=base, base=base, method="base", evidence=why)


def gamma_interval(mean: float, shape: float) -> tuple[float, float]:
    """90% interval of a gamma distribution with this mean and shape (Wilson-Hilferty: within a few
    percent for a shape above 1, and conservative below)."""
    if mean <= 0:
        return 0.0, 0.0
    shape = max(shape, 1e-6)
    c = 1 / (9 * shape)
    lo = mean * max(0.0, 1 - c - Z90 * math.sqrt(c)) ** 3
    hi = mean * (1 - c + Z90 * math.sqrt(c)) ** 3
    return lo, hi


def beta_interval(successes: float, failures: float) -> tuple[float, float, float]:
    """Posterior mean and 90% interval (normal approximation, clamped to [0, 1]) of a share."""
    n = successes + failures
    mean = successes / n
    sd = math.sqrt(mean * (1 - mean) / (n + 1))
    return mean, max(0.0, mean - Z90 * sd), min(1.0, mean + Z90 * sd)


def median_interval(values: list[float]) -> tuple[float, float, float]:
    """The median and a distribution-free ~90% interval from the order statistics (binomial)."""
    xs = sorted(values)
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    half = Z90 * math.sqrt(n) / 2
    lo = xs[max(0, math.floor(n / 2 - half) - 1)]
    hi = xs[min(n - 1, math.ceil(n / 2 + half))]
    return med, lo, hi


def poisson_tail_mean(mu: float, s: int) -> float:
    """E[Y | Y >= s] for Y ~ Poisson(mu): what a sold-out day's demand was, on average, given it
    was at least the units the product had."""
    if s <= 0:
        return mu
    if mu <= 0:
        return float(s)
    pmf = math.exp(-mu)
    below = 0.0  # P(Y <= s - 2)
    for k in range(s - 1):
        below += pmf
        pmf *= mu / (k + 1)
    at_least_prev = 1.0 - below  # P(Y >= s - 1)
    at_least = at_least_prev - pmf  # P(Y >= s)
    if at_least < 1e-9:
        return s + 0.5
    return max(float(s), mu * at_least_prev / at_least)
