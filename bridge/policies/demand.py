"""Demand estimation for the heuristic baseline, learned from the shop's own sales only.

Model per product: units/day = a * (price / ref) ** (-e), on weekday-normalised sales.
- Each product's sales are averaged per price level it was sold at (its own evidence).
- The elasticity is a weighted least-squares slope of log sales on log price, pooled across the
  products of a category (each with its own intercept) and shrunk toward PRIOR_ELASTICITY; a
  product's own slope is then shrunk toward its category's by POOL_WEIGHT.
- `a` is the level implied by the product's own data and that slope, shrunk toward PRIOR_RATE.
- Days on which a product sold out are censored: they say only that demand was at least the
  units sold, so they count lifted by CENSORED_UPLIFT rather than at face value.
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
POOL_WEIGHT = 4.0  # pseudo-variance of log price behind the category's elasticity (products of a category are alike)
CENSORED_UPLIFT = 1.3  # a sold-out day's sales understate its demand
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


@dataclass(frozen=True, slots=True)
class Moments:
    weight: float
    mx: float
    my: float
    sxx: float
    sxy: float


class LearnedDemand:
    def __init__(self) -> None:
        self.stats: dict[str, ProductStats] = defaultdict(ProductStats)
        self.categories: dict[str, str] = {}
        self.refs: dict[str, int] = {}
        self.weekday_units = [[0.0, 0] for _ in range(7)]
        self._moments: dict[str, Moments] = {}
        self._cat_slope: dict[str, float] = {}
        self._fits: dict[str, tuple[float, float]] = {}
        self._members: dict[str, list[str]] = {}

    def weekday_factor(self, d: date) -> float:
        if min(n for _, n in self.weekday_units) < 2:
            return 1.0
        means = [u / n for u, n in self.weekday_units]
        overall = sum(means) / 7
        return max(0.2, means[d.weekday()] / overall) if overall > 0 else 1.0

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None:
        """sales: sku -> (units, price in force). Censored skus sold out that day."""
        total = sum(u for u, _ in sales.values())
        self.weekday_units[d.weekday()][0] += total
        self.weekday_units[d.weekday()][1] += 1
        f = self.weekday_factor(d)
        for sku, (units, price) in sales.items():
            if price > 0:
                # a sold-out day saw demand of at least `units`: count it, lifted
                seen = units * CENSORED_UPLIFT if sku in censored else units
                self.stats[sku].add(price, seen / f)
                self._moments.pop(sku, None)
                self._cat_slope.pop(self.categories.get(sku, ""), None)
        self._fits.clear()

    def tried(self, sku: str) -> int:
        return self.stats[sku].days if sku in self.stats else 0

    def _product_moments(self, sku: str) -> Moments | None:
        found = self._moments.get(sku)
        if found is not None:
            return found
        st = self.stats.get(sku)
        ref = self.refs.get(sku)
        if st is None or not st.days or not ref:
            return None
        xs, ys, ws = [], [], []
        for price, (total, n) in st.levels.items():
            xs.append(math.log(price / ref))
            ys.append(math.log(max(total / n, 0.05)))
            ws.append(n)
        w = sum(ws)
        mx = sum(a * b for a, b in zip(ws, xs, strict=True)) / w
        my = sum(a * b for a, b in zip(ws, ys, strict=True)) / w
        sxx = sum(a * (x - mx) ** 2 for a, x in zip(ws, xs, strict=True))
        sxy = sum(a * (x - mx) * (y - my) for a, x, y in zip(ws, xs, ys, strict=True))
        m = self._moments[sku] = Moments(weight=w, mx=mx, my=my, sxx=sxx, sxy=sxy)
        return m

    def category_elasticity(self, category: str) -> float:
        found = self._cat_slope.get(category)
        if found is None:
            sxx = sxy = 0.0
            if not self._members:
                for sku, cat in self.categories.items():
                    self._members.setdefault(cat, []).append(sku)
            for sku in self._members.get(category, ()):
                if sku in self.stats:
                    m = self._product_moments(sku)
                    if m is not None:
                        sxx += m.sxx
                        sxy += m.sxy
            slope = (sxy - RIDGE * PRIOR_ELASTICITY) / (sxx + RIDGE)
            found = self._cat_slope[category] = min(4.0, max(1.1, -slope))
        return found

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        """(a, e): rate at the reference price and elasticity (cached until the next observation)."""
        self.refs.setdefault(sku, ref)
        cached = self._fits.get(sku)
        if cached is None:
            cached = self._fits[sku] = self._fit(sku)
        return cached

    def _fit(self, sku: str) -> tuple[float, float]:
        e_cat = self.category_elasticity(self.categories.get(sku, "")) if sku in self.categories else PRIOR_ELASTICITY
        m = self._product_moments(sku)
        if m is None:
            return PRIOR_RATE * OPTIMISM, e_cat
        slope = (m.sxy - POOL_WEIGHT * e_cat) / (m.sxx + POOL_WEIGHT)
        e = min(4.0, max(1.1, -slope))
        log_a = m.my + e * m.mx
        log_a = (m.weight * log_a + PRIOR_WEIGHT * math.log(PRIOR_RATE)) / (m.weight + PRIOR_WEIGHT)
        return math.exp(log_a), e

    def rate(self, sku: str, ref: int, price: int) -> float:
        a, e = self.fit(sku, ref)
        return float(a * (price / ref) ** (-e))
