"""Demand estimation for the heuristic baseline, learned from the shop's own sales only.

Model per product: units/day = a * (price / ref) ** (-e), on weekday-normalised sales. `a` and
`e` are fitted by weighted least squares on log mean sales per tried price level, shrunk toward
a prior (e = 2.0, a = PRIOR_RATE) so that a few noisy days do not swing the price. Days on which
the product sold out are censored (skipped): they say only that demand was at least that high.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

PRIOR_RATE = 1.5  # units/day at the reference price before any sale is seen
PRIOR_ELASTICITY = 2.0
PRIOR_WEIGHT = 2.0  # pseudo-days behind the prior rate
RIDGE = 0.15  # pseudo-variance of log price behind the prior elasticity
OPTIMISM = 1.35  # untried products look this much better than the prior, so they get tried


@dataclass(slots=True)
class ProductStats:
    levels: dict[int, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))
    days: int = 0

    def add(self, price: int, normalised_units: float) -> None:
        lv = self.levels[price]
        lv[0] += normalised_units
        lv[1] += 1
        self.days += 1


class LearnedDemand:
    def __init__(self) -> None:
        self.stats: dict[str, ProductStats] = defaultdict(ProductStats)
        self.weekday_units = [[0.0, 0] for _ in range(7)]

    def weekday_factor(self, d: date) -> float:
        totals = [u / n for u, n in self.weekday_units if n]
        if len(totals) < 7 or min(n for _, n in self.weekday_units) < 2:
            return 1.0
        mean = sum(totals) / 7
        u, n = self.weekday_units[d.weekday()]
        return max(0.2, (u / n) / mean) if mean > 0 else 1.0

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None:
        """sales: sku -> (units, price in force). Censored skus sold out that day."""
        total = sum(u for u, _ in sales.values())
        self.weekday_units[d.weekday()][0] += total
        self.weekday_units[d.weekday()][1] += 1
        f = self.weekday_factor(d)
        for sku, (units, price) in sales.items():
            if sku not in censored and price > 0:
                self.stats[sku].add(price, units / f)

    def tried(self, sku: str) -> int:
        return self.stats[sku].days if sku in self.stats else 0

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        """(a, e): rate at the reference price and elasticity."""
        st = self.stats.get(sku)
        if st is None or st.days == 0:
            return PRIOR_RATE * OPTIMISM, PRIOR_ELASTICITY
        xs, ys, ws = [], [], []
        for price, (total, n) in st.levels.items():
            xs.append(math.log(price / ref))
            ys.append(math.log(max(total / n, 0.05)))
            ws.append(n)
        big_w = sum(ws)
        mx = sum(w * x for w, x in zip(ws, xs, strict=True)) / big_w
        my = sum(w * y for w, y in zip(ws, ys, strict=True)) / big_w
        sxx = sum(w * (x - mx) ** 2 for w, x in zip(ws, xs, strict=True))
        sxy = sum(w * (x - mx) * (y - my) for w, x, y in zip(ws, xs, ys, strict=True))
        slope = (sxy - RIDGE * PRIOR_ELASTICITY) / (sxx + RIDGE)  # ridge toward the prior elasticity
        e = min(4.0, max(1.1, -slope))
        log_a = my + e * mx
        log_a = (big_w * log_a + PRIOR_WEIGHT * math.log(PRIOR_RATE)) / (big_w + PRIOR_WEIGHT)
        return math.exp(log_a), e

    def rate(self, sku: str, ref: int, price: int) -> float:
        a, e = self.fit(sku, ref)
        return float(a * (price / ref) ** (-e))
