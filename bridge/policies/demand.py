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

A fit is kept until a day's sales change what it reads (the product's own sales, or its category's
pooled slope): a product out of the machine is refitted only when its category's slope moves.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

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

N = TypeVar("N", int, float)


def clamp(lo: N, x: N, hi: N) -> N:
    """`min(hi, max(lo, x))`, the very same value (ties and NaN alike), at a fraction of the cost of
    two calls to the builtins: the baseline clamps tens of thousands of times a simulated year."""
    x = x if x > lo else lo
    return x if x < hi else hi


@dataclass(slots=True)
class PriceLevel:
    """A product's sales at one price; `x` and `ratio` are fixed by the price, `y` is the value last
    folded into the product's running sums (so taking it out again costs no logarithm)."""

    ratio: float  # price / reference price
    x: float  # log(ratio)
    norm: float = 0.0  # weekday- and level-normalised units
    days: float = 0.0
    units: float = 0.0
    exposure: float = 0.0  # the sum of the days' weekday factors
    y: float = 0.0  # log of the mean normalised units a day


@dataclass(slots=True)
class ProductStats:
    """Sales per price level, and running weighted sums of (x = log price/ref, y = log mean
    sales at that level) so the regression moments cost O(1) per new day."""

    ref: int = 0
    levels: dict[int, PriceLevel] = field(default_factory=dict)
    days: int = 0
    sums: list[float] = field(default_factory=lambda: [0.0] * 5)  # w, wx, wy, wxx, wxy

    def add(self, price: int, units: float, weekday_factor: float, level: float = 1.0) -> None:
        """A day's units at a price, on a day whose weekday sells `weekday_factor` times the average
        and when the rest of the shop sold `level` times what its fits expected."""
        lv = self.levels.get(price)
        if lv is None:
            ratio = price / self.ref
            lv = self.levels[price] = PriceLevel(ratio=ratio, x=math.log(ratio))
        else:
            self._fold(lv, -lv.days)  # out with its old weight and y
        lv.norm += units / (weekday_factor * level)
        lv.days += 1
        lv.units += units
        lv.exposure += weekday_factor
        mean = lv.norm / lv.days
        lv.y = math.log(0.05 if mean < 0.05 else mean)  # max(mean, 0.05)
        self._fold(lv, lv.days)  # back in with the new ones
        self.days += 1

    def _fold(self, lv: PriceLevel, w: float) -> None:
        """Add a level's point to the sums with weight w (its days; negative takes it out)."""
        x, y = lv.x, lv.y
        wx = w * x
        s = self.sums
        s[0] += w
        s[1] += wx
        s[2] += w * y
        s[3] += wx * x
        s[4] += wx * y


def _two_sums() -> list[float]:
    return [0.0, 0.0]  # a module function, not a lambda: the estimator pickles (bridge/resume.py)


class LearnedDemand:
    def __init__(self) -> None:
        self.stats: dict[str, ProductStats] = defaultdict(ProductStats)
        self.categories: dict[str, str] = {}
        self.refs: dict[str, int] = {}
        self.daily_totals: deque[tuple[date, int]] = deque(maxlen=7)
        self.weekday_ratios = [[0.0, 0] for _ in range(7)]  # weekday -> [sum of day / centred week mean, days]
        self._weekday: dict[int, float] = {}
        # sku -> (sxx, sxy): its centred sums of squares and cross-products, as counted in its category's sums
        self._moments: dict[str, tuple[float, float]] = {}
        self._cat_sums: dict[str, list[float]] = defaultdict(_two_sums)  # category -> [sxx, sxy]
        self._cat_slope: dict[str, float] = {}
        self._fits: dict[str, tuple[float, float]] = {}
        self._priors: dict[str, float] = {}  # sku -> `prior_rate` (its reference price is set once)
        self._fitted: dict[str, set[str]] = defaultdict(set)  # category -> products with a fit in `_fits`
        self._evidence: dict[str, float] = {}
        # the last LEVEL_DAYS days, for the shop's level: per category, the units sold and the units
        # its fits expected, one entry per product and day, oldest first; and each day's entries
        # per category (what leaves with the day)
        self._recent_units: dict[str, list[float]] = defaultdict(list)
        self._recent_expected: dict[str, list[float]] = defaultdict(list)
        self._recent: deque[dict[str, int]] = deque()

    def weekday_factor(self, d: date) -> float:
        """Each weekday's sales against the week around it (a centred 7-day mean), averaged per
        weekday and shrunk toward 1: a shop filling its slots in its first weeks does not pass
        for a weekday pattern."""
        found = self._weekday.get(d.weekday())
        if found is None:
            ratios = [(r + WEEKDAY_PRIOR) / (n + WEEKDAY_PRIOR) for r, n in self.weekday_ratios]
            mean = sum(ratios) / 7
            for wd in range(7):
                ratio = ratios[wd] / mean
                self._weekday[wd] = ratio if ratio > 0.2 else 0.2  # max(0.2, ratio)
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
        categories, refs = self.categories, self.refs
        # (sku, category, units, units its fit expected); a sold-out day saw demand of at least
        # `units`: count it, lifted
        day: list[tuple[str, str, float, float]] = [
            (sku, categories.get(sku, ""), units * CENSORED_UPLIFT if sku in censored else units,
             f * self.rate(sku, refs[sku], price))
            for sku, (units, price) in sales.items() if price > 0 and sku in refs]
        by_cat = self._recent_sums(day)
        seen_all = sum(u for u, _ in by_cat.values())
        expected_all = sum(x for _, x in by_cat.values())
        stats = self.stats
        for sku, cat, seen, _ in day:
            # the rest of the shop's recent sales against what its fits expect: a season, a run of
            # weather or a thin assortment moves every product alike, and left in this product's
            # sales it would pass for the effect of whatever price it had meanwhile
            own_u, own_x = by_cat[cat]
            level = 1.0
            if expected_all - own_x >= LEVEL_MIN_UNITS:
                level = clamp(1 / LEVEL_MAX, (seen_all - own_u) / (expected_all - own_x), LEVEL_MAX)
            st = stats[sku]
            st.ref = refs[sku]
            st.add(sales[sku][1], seen, f, level)
            self._recount(sku, cat)
        self._forget_fits(day)

    def _recent_sums(self, day: list[tuple[str, str, float, float]]) -> dict[str, tuple[float, float]]:
        """Adds a day to the last LEVEL_DAYS days (the oldest leaves); returns category -> (units,
        expected units) over them, categories in the order first seen. Each is summed afresh in day
        order (a running total would round differently); on CPython 3.11 sum() adds floats left to
        right, the same as a loop (3.12 compensates its float sums, as it would the ones below)."""
        units, expected = self._recent_units, self._recent_expected
        if len(self._recent) == LEVEL_DAYS:
            for cat, n in self._recent.popleft().items():
                del units[cat][:n]
                del expected[cat][:n]
        entries: dict[str, int] = {}
        for _, cat, u, x in day:
            units[cat].append(u)
            expected[cat].append(x)
            entries[cat] = entries.get(cat, 0) + 1
        self._recent.append(entries)
        order: dict[str, int] = {}
        for entries in self._recent:
            order.update(entries)  # a category seen before keeps its place
        return {cat: (sum(units[cat], 0.0), sum(expected[cat], 0.0)) for cat in order}

    def _forget_fits(self, day: list[tuple[str, str, float, float]]) -> None:
        """Drop the fits a day's sales changed: those of the products sold, and those of every
        product of a category whose pooled slope moved. A fit reads nothing else that changes (its
        exposure sums the weekday factors of the days it saw, not today's)."""
        fits = self._fits
        for sku, _, _, _ in day:
            fits.pop(sku, None)
        for cat in {cat for _, cat, _, _ in day}:
            before = self._cat_slope.pop(cat, None)
            if self.category_elasticity(cat) != before:
                for sku in self._fitted.pop(cat, ()):
                    fits.pop(sku, None)

    def tried(self, sku: str) -> int:
        st = self.stats.get(sku)  # one lookup (`get` adds no entry to the defaultdict)
        return 0 if st is None else st.days

    def _recount(self, sku: str, cat: str) -> None:
        """Swap a product's old moments for its new ones in its category's running sums."""
        sums = self._cat_sums[cat]
        old = self._moments.get(sku)
        if old is not None:
            sums[0] -= old[0]
            sums[1] -= old[1]
        w, wx, wy, wxx, wxy = self.stats[sku].sums
        mx, my = wx / w, wy / w
        sxx = wxx - w * mx * mx
        sxx, sxy = self._moments[sku] = (sxx if sxx > 0.0 else 0.0, wxy - w * mx * my)
        sums[0] += sxx
        sums[1] += sxy

    def category_elasticity(self, category: str) -> float:
        found = self._cat_slope.get(category)
        if found is None:
            sxx, sxy = self._cat_sums.get(category, (0.0, 0.0))
            slope = (sxy - RIDGE * PRIOR_ELASTICITY) / (sxx + RIDGE)
            found = self._cat_slope[category] = clamp(1.1, -slope, 4.0)
        return found

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        """(a, e): rate at the reference price and elasticity (cached until an observation changes it;
        computed here, not in a helper: thousands of fits a year)."""
        cached = self._fits.get(sku)
        if cached is not None:
            return cached
        self.refs.setdefault(sku, ref)
        cat = self.categories.get(sku)
        if cat is None:
            cat, e_cat = "", PRIOR_ELASTICITY
        else:  # the category's slope as cached (never 0.0: at least 1.1), else computed
            e_cat = self._cat_slope.get(cat) or self.category_elasticity(cat)
        self._fitted[cat].add(sku)
        prior = self._priors.get(sku)
        if prior is None:
            prior = self._priors[sku] = self.prior_rate(sku)
        m = self._moments.get(sku)
        if m is None:
            self._evidence[sku] = PRIOR_WEIGHT * prior
            cached = self._fits[sku] = prior, e_cat
            return cached
        sxx, sxy = m
        slope = (sxy - POOL_WEIGHT * e_cat) / (sxx + POOL_WEIGHT)
        e = clamp(1.1, -slope, 4.0)
        minus_e = -e
        units = exposure = 0.0
        for lv in self.stats[sku].levels.values():
            units += lv.units
            exposure += lv.exposure * lv.ratio ** minus_e
        self._evidence[sku] = PRIOR_WEIGHT * prior + units
        cached = self._fits[sku] = (PRIOR_WEIGHT * prior + units) / (PRIOR_WEIGHT + exposure), e
        return cached

    def evidence(self, sku: str, ref: int) -> float:
        """Units behind the rate estimate (the prior's pseudo-units plus those sold): the rate's
        relative standard error is 1 / sqrt(evidence) (a gamma posterior for a Poisson rate)."""
        if sku not in self._fits:
            self.fit(sku, ref)
        return self._evidence[sku]

    def prior_rate(self, sku: str) -> float:
        """Before any sale: PRIOR_RATE for a product at the typical price PRIOR_REF_CENTS, and
        fewer units for dearer products (a customer spends about the same whatever they buy)."""
        ref = self.refs.get(sku) or PRIOR_REF_CENTS
        return PRIOR_RATE * (PRIOR_REF_CENTS / ref) ** PRIOR_PRICE_EXPONENT

    def rate(self, sku: str, ref: int, price: int) -> float:
        a, e = self._fits.get(sku) or self.fit(sku, ref)
        return a * (price / ref) ** (-e)  # a float: `a` is one
