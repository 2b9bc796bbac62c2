"""Demand estimation for the heuristic baseline, learned from the shop's own sales only.

Model per product: units/day = a * weekday factor * (price / ref) ** (-e).
- Weekday factors: each day's shop-wide sales against the centred week around it, averaged per
  weekday and shrunk toward a flat week (so the shop filling its slots in its first weeks does
  not pass for a weekday pattern).
- Each product's sales are averaged per price level it was sold at (its own evidence), each day's
  divided by the shop's level then: the other products' sales over the last LEVEL_DAYS days
  against what their fits expected, leaving the product's own category out (its products share
  one elasticity, so their common misfit would feed back into it), within 1/LEVEL_MAX..LEVEL_MAX.
  Seasons, weather and a thin assortment move all products alike; left in, they would pass for
  the effect of whatever price a product had meanwhile (a trial at the usual price in winter
  against a lower price in summer).
- The elasticity is a weighted least-squares slope of log sales on log price, pooled across the
  products of a category (each with its own intercept) and shrunk toward PRIOR_ELASTICITY; a
  product's own slope is then shrunk toward its category's by POOL_WEIGHT.
- `a` is a gamma-Poisson posterior mean: (prior units + units sold) / (prior days + exposure),
  exposure summing each day's weekday factor times its price factor under that slope; the prior
  is PRIOR_WEIGHT days at PRIOR_RATE. Its relative standard error is 1 / sqrt(prior units +
  units sold) (`evidence`), which the baseline's exploration uses.
- Days on which a product sold out are censored: they say only that demand was at least the
  units sold, so they count lifted by CENSORED_UPLIFT rather than at face value.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date

from bridge.frozen import fast_init

PRIOR_RATE = 1.5  # units/day at the reference price before any sale is seen, for a $2 product
PRIOR_REF_CENTS = 200
PRIOR_PRICE_EXPONENT = 1.0  # unit sales across products fall with their usual price (constant spend)
PRIOR_ELASTICITY = 2.0
PRIOR_WEIGHT = 2.0  # pseudo-days behind the prior rate
RIDGE = 0.15  # pseudo-variance of log price behind the prior elasticity
POOL_WEIGHT = 4.0  # pseudo-variance of log price behind the category's elasticity (products of a category are alike)
WEEKDAY_PRIOR = 1.0  # pseudo-weeks of a flat week behind the weekday factors
MIN_WEEK_MEAN = 3.0  # units a day: a quieter week says little about weekdays
CENSORED_UPLIFT = 1.3  # a sold-out day's sales understate its demand
LEVEL_DAYS = 14  # days behind the shop's recent level (its sales against what its fits expect)
LEVEL_MIN_UNITS = 20.0  # expected units behind a level worth using
LEVEL_MAX = 1.33  # a level further from 1 than seasons and weather move it (an outage, a glut) counts only this far


@dataclass(slots=True)
class ProductStats:
    """Sales per price level, and running weighted sums of (x = log price/ref, y = log mean
    sales at that level) so the regression moments cost O(1) per new day."""

    ref: int = 0
    # price -> [weekday- and level-normalised units, days, units, exposure (sum of the days' weekday factors)]
    levels: dict[int, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0]))
    days: int = 0
    sums: list[float] = field(default_factory=lambda: [0.0] * 5)  # w, wx, wy, wxx, wxy

    def add(self, price: int, units: float, weekday_factor: float, level: float = 1.0) -> None:
        """A day's units at a price, on a day whose weekday sells `weekday_factor` times the average
        and when the rest of the shop sold `level` times what its fits expected."""
        lv = self.levels[price]
        if lv[1]:
            self._fold(price, lv, -1.0)
        lv[0] += units / (weekday_factor * level)
        lv[1] += 1
        lv[2] += units
        lv[3] += weekday_factor
        self._fold(price, lv, 1.0)
        self.days += 1

    def _fold(self, price: int, lv: list[float], sign: float) -> None:
        w = lv[1] * sign
        x = math.log(price / self.ref)
        y = math.log(max(lv[0] / lv[1], 0.05))
        s = self.sums
        s[0] += w
        s[1] += w * x
        s[2] += w * y
        s[3] += w * x * x
        s[4] += w * x * y


@fast_init
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
        self.daily_totals: deque[tuple[date, int]] = deque(maxlen=7)
        self.weekday_ratios = [[0.0, 0] for _ in range(7)]  # weekday -> [sum of day / centred week mean, days]
        self._weekday: dict[int, float] = {}
        self._moments: dict[str, Moments] = {}
        self._cat_slope: dict[str, float] = {}
        self._fits: dict[str, tuple[float, float]] = {}
        self._evidence: dict[str, float] = {}
        self._cat_sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # category -> [sxx, sxy]
        self._counted: dict[str, Moments] = {}  # the moments each product adds to its category's sums
        # the last LEVEL_DAYS days: sku -> (units, units its fit expected), for the shop's level
        self._recent: deque[dict[str, tuple[float, float]]] = deque(maxlen=LEVEL_DAYS)

    def weekday_factor(self, d: date) -> float:
        """Each weekday's sales against the week around it (a centred 7-day mean), averaged per
        weekday and shrunk toward 1: a shop filling its slots in its first weeks does not pass
        for a weekday pattern."""
        found = self._weekday.get(d.weekday())
        if found is None:
            ratios = [(r + WEEKDAY_PRIOR) / (n + WEEKDAY_PRIOR) for r, n in self.weekday_ratios]
            mean = sum(ratios) / 7
            for wd in range(7):
                self._weekday[wd] = max(0.2, ratios[wd] / mean)
            found = self._weekday[d.weekday()]
        return found

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None:
        """sales: sku -> (units, price in force). Censored skus sold out that day."""
        self.daily_totals.append((d, sum(u for u, _ in sales.values())))
        if len(self.daily_totals) == 7:
            week = self.daily_totals
            middle, total = week[3]
            mean = sum(t for _, t in week) / 7
            if mean >= MIN_WEEK_MEAN and (week[-1][0] - week[0][0]).days == 6:
                self.weekday_ratios[middle.weekday()][0] += total / mean
                self.weekday_ratios[middle.weekday()][1] += 1
                self._weekday.clear()
        f = self.weekday_factor(d)
        day: dict[str, tuple[float, float]] = {}
        for sku, (units, price) in sales.items():
            if price > 0 and sku in self.refs:
                # a sold-out day saw demand of at least `units`: count it, lifted
                day[sku] = (units * CENSORED_UPLIFT if sku in censored else units,
                            f * self.rate(sku, self.refs[sku], price))
        self._recent.append(day)
        by_cat: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # category -> [units, expected]
        for dd in self._recent:
            for sku, (u, x) in dd.items():
                c = by_cat[self.categories.get(sku, "")]
                c[0] += u
                c[1] += x
        seen_all = sum(u for u, _ in by_cat.values())
        expected_all = sum(x for _, x in by_cat.values())
        for sku, (seen, _) in day.items():
            # the rest of the shop's recent sales against what its fits expect: a season, a run of
            # weather or a thin assortment moves every product alike, and left in this product's
            # sales it would pass for the effect of whatever price it had meanwhile
            own_u, own_x = by_cat[self.categories.get(sku, "")]
            level = 1.0
            if expected_all - own_x >= LEVEL_MIN_UNITS:
                level = min(LEVEL_MAX, max(1 / LEVEL_MAX, (seen_all - own_u) / (expected_all - own_x)))
            st = self.stats[sku]
            st.ref = self.refs[sku]
            st.add(sales[sku][1], seen, f, level)
            self._moments.pop(sku, None)
            self._recount(sku)
        self._fits.clear()

    def tried(self, sku: str) -> int:
        return self.stats[sku].days if sku in self.stats else 0

    def _product_moments(self, sku: str) -> Moments | None:
        found = self._moments.get(sku)
        if found is not None:
            return found
        st = self.stats.get(sku)
        if st is None or not st.days:
            return None
        w, wx, wy, wxx, wxy = st.sums
        mx, my = wx / w, wy / w
        m = self._moments[sku] = Moments(weight=w, mx=mx, my=my, sxx=max(0.0, wxx - w * mx * mx),
                                         sxy=wxy - w * mx * my)
        return m

    def _recount(self, sku: str) -> None:
        """Swap a product's old moments for its new ones in its category's running sums."""
        cat = self.categories.get(sku, "")
        sums = self._cat_sums[cat]
        old = self._counted.pop(sku, None)
        if old is not None:
            sums[0] -= old.sxx
            sums[1] -= old.sxy
        new = self._product_moments(sku)
        if new is not None:
            sums[0] += new.sxx
            sums[1] += new.sxy
            self._counted[sku] = new
        self._cat_slope.pop(cat, None)

    def category_elasticity(self, category: str) -> float:
        found = self._cat_slope.get(category)
        if found is None:
            sxx, sxy = self._cat_sums.get(category, (0.0, 0.0))
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
        prior = self.prior_rate(sku)
        m = self._product_moments(sku)
        if m is None:
            self._evidence[sku] = PRIOR_WEIGHT * prior
            return prior, e_cat
        slope = (m.sxy - POOL_WEIGHT * e_cat) / (m.sxx + POOL_WEIGHT)
        e = min(4.0, max(1.1, -slope))
        st = self.stats[sku]
        units = exposure = 0.0
        for price, (_, _, u, f) in st.levels.items():
            units += u
            exposure += f * (price / st.ref) ** -e
        self._evidence[sku] = PRIOR_WEIGHT * prior + units
        return (PRIOR_WEIGHT * prior + units) / (PRIOR_WEIGHT + exposure), e

    def evidence(self, sku: str, ref: int) -> float:
        """Units behind the rate estimate (the prior's pseudo-units plus those sold): the rate's
        relative standard error is 1 / sqrt(evidence) (a gamma posterior for a Poisson rate)."""
        self.fit(sku, ref)
        return self._evidence[sku]

    def prior_rate(self, sku: str) -> float:
        """Before any sale: PRIOR_RATE for a product at the typical price PRIOR_REF_CENTS, and
        fewer units for dearer products (a customer spends about the same whatever they buy)."""
        ref = self.refs.get(sku) or PRIOR_REF_CENTS
        return PRIOR_RATE * (PRIOR_REF_CENTS / ref) ** PRIOR_PRICE_EXPONENT

    def rate(self, sku: str, ref: int, price: int) -> float:
        a, e = self.fit(sku, ref)
        return float(a * (price / ref) ** (-e))
