"""The demand model of docs/demand-model.md fitted to a shop's daily panel.

    units ~ min(available, Poisson(b_p * min(2.5, (P/ref)^-e_p) * W[weekday] * M[month] * env(day, cat) * choice(n)))

`env` is the weather's expected effect on the day (the stationary weather chain's traffic and the
season's temperature, from the base scenario: the store keeps no weather, so the fit averages over
it). The rest is fitted by alternating posterior updates, each with the base scenario as its prior:
- `b_p`: gamma-Poisson, prior mean the base rate worth PRIOR_DAYS days of sales;
- `e_p`: a normal posterior (Newton on the profile likelihood), its prior its category's pooled
  elasticity (itself fitted with the base category mean as a weak prior), so a product with few
  price changes gets its category's value and the category's spread as its interval;
- `W`, `M`: gamma-Poisson per weekday and per month seen, then rescaled to the base's mean (the
  level of sales is the rates'; months never seen keep the base's values);
- a sold-out day says only that demand was at least the units on offer: its expected demand given
  that (E-step) stands in for it.
Intervals are widened by the Pearson dispersion (weather and the model's own noise make sales
vary more than Poisson).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sim_backend.calibrate.estimate import Z90, Estimate, gamma_interval, kept, poisson_tail_mean
from sim_backend.calibrate.history import ProductDay
from sim_backend.catalogue import CatalogueEntry
from sim_backend.demand import PRICE_CAP, choice_multiplier
from sim_backend.world import (
    COLD_DRINKS,
    HOT_DRINKS,
    TRAFFIC,
    TRANSITIONS,
    WEATHER_STATES,
    temperature_factor,
)

PRIOR_DAYS = 7.0  # days of sales at the base rate behind each product's prior
PRIOR_FACTOR_UNITS = 10.0  # units behind each weekday's and month's prior (the base's factor)
CATEGORY_PRIOR_SD = 0.75  # around the base catalogue's mean elasticity of the category
WITHIN_CATEGORY_SD = 0.35  # products of a category differ from its pooled elasticity by about this
ITERATIONS = 40
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# 5-point Gauss-Hermite nodes and weights for E[f(X)], X ~ N(0, 1)
_GH = ((-2.8569700138728056, 0.011257411327720691), (-1.3556261799742659, 0.2220759220056126),
       (0.0, 0.5333333333333333), (1.3556261799742659, 0.2220759220056126), (2.8569700138728056, 0.011257411327720691))


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandFit:
    rates: dict[str, float]  # sku -> base daily sales at the reference price
    elasticities: dict[str, float]
    weekday: tuple[float, ...]
    month: tuple[float, ...]
    estimates: list[Estimate]
    dispersion: float
    day_dispersion: float
    mean_celsius: float
    swing_celsius: float


def stationary_weather() -> dict[str, float]:
    p = dict.fromkeys(WEATHER_STATES, 0.25)
    for _ in range(200):
        p = {to: sum(p[fr] * TRANSITIONS[fr][j] for fr in WEATHER_STATES) for j, to in enumerate(WEATHER_STATES)}
    return p


class Environment:
    """The weather's expected multiplier on a day for a category (traffic times temperature)."""

    def __init__(self, *, mean_celsius: float, swing_celsius: float) -> None:
        self.mean_c, self.swing_c = mean_celsius, swing_celsius
        self.pi = stationary_weather()
        self._cache: dict[tuple[str, date], float] = {}

    def factor(self, d: date, category: str) -> float:
        kind = "cold" if category in COLD_DRINKS else "hot" if category in HOT_DRINKS else "other"
        key = (kind, d)
        found = self._cache.get(key)
        if found is None:
            season = math.cos(2 * math.pi * (d.timetuple().tm_yday - 200) / 365.0)
            mean = self.mean_c + self.swing_c * season
            found = 0.0
            for state, p in self.pi.items():
                celsius = mean - (2.0 if state in ("rainy", "stormy") else 0.0)
                temp = sum(w * temperature_factor(category, celsius + 2.5 * x) for x, w in _GH)
                found += p * TRAFFIC[state] * temp
            self._cache[key] = found
        return found


def fit_demand(panel: Sequence[ProductDay], *, catalogue: Mapping[str, CatalogueEntry], weekday0: Sequence[float],
               month0: Sequence[float], mean_celsius: float, swing_celsius: float) -> DemandFit:
    env = Environment(mean_celsius=mean_celsius, swing_celsius=swing_celsius)
    skus = sorted({p.sku for p in panel if p.sku in catalogue})
    index = {s: i for i, s in enumerate(skus)}
    cat_of = [catalogue[s].product.category for s in skus]
    b0 = [catalogue[s].hidden.base_daily_sales for s in skus]
    e0 = [catalogue[s].hidden.elasticity for s in skus]
    # the observations, as parallel lists
    P, D, Mo, Y, S, OUT, LR, C, DAY = [], [], [], [], [], [], [], [], []
    for r in panel:
        if r.sku not in index or r.available <= 0:
            continue
        i = index[r.sku]
        ref = catalogue[r.sku].product.reference_price_cents
        P.append(i)
        D.append(r.day.weekday())
        Mo.append(r.day.month - 1)
        DAY.append(r.day.toordinal())
        Y.append(float(r.units))
        S.append(r.available)
        OUT.append(r.sold_out)
        LR.append(math.log(r.price_cents / ref))
        C.append(env.factor(r.day, cat_of[i]) * choice_multiplier(r.n_distinct))
    n = len(P)
    b = list(b0)
    e = list(e0)
    W = list(weekday0)
    M = list(month0)
    cats = sorted(set(cat_of))
    cat_prior = {c: sum(e0[i] for i in range(len(skus)) if cat_of[i] == c) / max(1, cat_of.count(c)) for c in cats}
    e_cat = dict(cat_prior)
    var_cat = dict.fromkeys(cats, CATEGORY_PRIOR_SD ** 2)
    info = [0.0] * len(skus)
    ystar = list(Y)
    a0 = [PRIOR_DAYS * 0.8 * x for x in b0]  # prior units (0.8: a typical day's calendar and weather factor)
    seen_w = [0] * 7
    seen_m = [0] * 12
    for k in range(n):
        seen_w[D[k]] += 1
        seen_m[Mo[k]] += 1

    def price_factor(i: int, lr: float) -> tuple[float, float]:
        """(the price factor, d log factor / d e): 0 where the cap holds."""
        f = math.exp(-e[i] * lr)
        return (PRICE_CAP, 0.0) if f > PRICE_CAP else (f, -lr)

    for _ in range(ITERATIONS):
        mu = [b[P[k]] * price_factor(P[k], LR[k])[0] * W[D[k]] * M[Mo[k]] * C[k] for k in range(n)]
        ystar = [poisson_tail_mean(mu[k], S[k]) if OUT[k] else Y[k] for k in range(n)]
        # rates
        num = list(a0)
        den = [PRIOR_DAYS * 0.8] * len(skus)
        for k in range(n):
            i = P[k]
            num[i] += ystar[k]
            den[i] += mu[k] / b[i]
        b = [num[i] / den[i] for i in range(len(skus))]
        # elasticities: per product its profile score and information, then pooled per category
        g = [0.0] * len(skus)
        sx = [0.0] * len(skus)
        sxz = [0.0] * len(skus)
        sxzz = [0.0] * len(skus)
        sy = [0.0] * len(skus)
        for k in range(n):
            i = P[k]
            f, z = price_factor(i, LR[k])
            x = f * W[D[k]] * M[Mo[k]] * C[k]
            g[i] += ystar[k] * z
            sx[i] += x
            sxz[i] += x * z
            sxzz[i] += x * z * z
            sy[i] += ystar[k]
        score = [0.0] * len(skus)
        for i in range(len(skus)):
            if sx[i] > 0:
                mz = sxz[i] / sx[i]
                score[i] = g[i] - sy[i] * mz
                info[i] = max(0.0, sy[i] * (sxzz[i] / sx[i] - mz * mz))
        for c in cats:
            members = [i for i in range(len(skus)) if cat_of[i] == c]
            # the pooled score at the category value: each product's, moved to e_c by its information
            sc = sum(score[i] + info[i] * (e[i] - e_cat[c]) for i in members)
            ic = sum(info[i] for i in members)
            prec = ic + 1 / CATEGORY_PRIOR_SD ** 2
            e_cat[c] = min(5.0, max(0.2, e_cat[c] + (sc - (e_cat[c] - cat_prior[c]) / CATEGORY_PRIOR_SD ** 2) / prec))
            var_cat[c] = 1 / prec
        for i in range(len(skus)):
            c = cat_of[i]
            prior_var = WITHIN_CATEGORY_SD ** 2 + var_cat[c]
            step = (score[i] - (e[i] - e_cat[c]) / prior_var) / (info[i] + 1 / prior_var)
            e[i] = min(5.0, max(0.2, e[i] + step))
        # calendar factors
        mu = [b[P[k]] * price_factor(P[k], LR[k])[0] * W[D[k]] * M[Mo[k]] * C[k] for k in range(n)]
        W = _factors(W, weekday0, D, ystar, mu, seen_w, anchor=range(7))
        mu = [b[P[k]] * price_factor(P[k], LR[k])[0] * W[D[k]] * M[Mo[k]] * C[k] for k in range(n)]
        M = _factors(M, month0, Mo, ystar, mu, seen_m, anchor=[m for m in range(12) if seen_m[m]])

    mu = [b[P[k]] * price_factor(P[k], LR[k])[0] * W[D[k]] * M[Mo[k]] * C[k] for k in range(n)]
    free = [k for k in range(n) if not OUT[k] and mu[k] > 0]
    params = len(skus) * 2 + 7 + sum(1 for m in seen_m if m)
    pearson = sum((Y[k] - mu[k]) ** 2 / mu[k] for k in free)
    dispersion = max(1.0, pearson / max(1, len(free) - params))
    # the calendar's factors rest on whole days, and a day's weather moves every product alike: their
    # intervals take the dispersion of the days' totals
    day_units: dict[int, float] = defaultdict(float)
    day_mu: dict[int, float] = defaultdict(float)
    for k in range(n):
        day_units[DAY[k]] += ystar[k]
        day_mu[DAY[k]] += mu[k]
    day_pearson = sum((day_units[t] - day_mu[t]) ** 2 / day_mu[t] for t in day_mu if day_mu[t] > 0)
    day_dispersion = max(dispersion, day_pearson / max(1, len(day_mu) - 7 - sum(1 for m in seen_m if m)))

    estimates: list[Estimate] = []
    units: dict[int, float] = defaultdict(float)
    days: dict[int, int] = defaultdict(int)
    for k in range(n):
        units[P[k]] += ystar[k]
        days[P[k]] += 1
    for i, sku in enumerate(skus):
        lo, hi = gamma_interval(b[i], (a0[i] + units[i]) / dispersion)
        estimates.append(Estimate(name=f"base_daily_sales[{sku}]", value=b[i], low=lo, high=hi, base=b0[i],
                                  method="fitted", evidence=f"{int(sum(Y[k] for k in range(n) if P[k] == i))} "
                                                            f"units over {days[i]} days on offer"))
    for i, sku in enumerate(skus):
        prior_var = WITHIN_CATEGORY_SD ** 2 + var_cat[cat_of[i]]
        own = info[i] / dispersion
        sd = 1 / math.sqrt(own + 1 / prior_var)
        method = "fitted" if own > 1 / prior_var else "pooled"
        estimates.append(Estimate(name=f"elasticity[{sku}]", value=e[i], low=max(0.0, e[i] - Z90 * sd),
                                  high=e[i] + Z90 * sd, base=e0[i], method=method,
                                  evidence=f"price information {own:.1f} against the {cat_of[i]} prior's "
                                           f"{1 / prior_var:.1f}"))
    for c in cats:
        sd = math.sqrt(var_cat[c])
        estimates.append(Estimate(name=f"category_elasticity[{c}]", value=e_cat[c], low=e_cat[c] - Z90 * sd,
                                  high=e_cat[c] + Z90 * sd, base=cat_prior[c], method="pooled",
                                  evidence=f"{cat_of.count(c)} products"))
    for label, factors, base, seen, names, idx in (("weekday_factors", W, weekday0, seen_w, WEEKDAYS, D),
                                                   ("month_factors", M, month0, seen_m, MONTHS, Mo)):
        for j, name in enumerate(names):
            if not seen[j]:
                estimates.append(kept(f"{label}[{name}]", base[j], "no sales on such a day"))
                continue
            total = sum(ystar[k] for k in range(n) if idx[k] == j)
            lo, hi = gamma_interval(factors[j], (PRIOR_FACTOR_UNITS + total) / day_dispersion)
            estimates.append(Estimate(name=f"{label}[{name}]", value=factors[j], low=lo, high=hi, base=base[j],
                                      method="fitted", evidence=f"{int(total)} units"))
    return DemandFit(rates=dict(zip(skus, b, strict=True)), elasticities=dict(zip(skus, e, strict=True)),
                     weekday=tuple(W), month=tuple(M), estimates=estimates, dispersion=dispersion,
                     day_dispersion=day_dispersion,
                     mean_celsius=mean_celsius, swing_celsius=swing_celsius)


def _factors(current: list[float], base: Sequence[float], index: list[int], ystar: list[float], mu: list[float],
             seen: list[int], *, anchor: Sequence[int]) -> list[float]:
    """Gamma-Poisson update of multiplicative factors (prior: the base's, PRIOR_FACTOR_UNITS units),
    rescaled so that the factors of `anchor` keep the base's mean (the level belongs to the rates)."""
    num = [PRIOR_FACTOR_UNITS] * len(current)
    den = [PRIOR_FACTOR_UNITS / base[j] for j in range(len(current))]
    for k, j in enumerate(index):
        num[j] += ystar[k]
        den[j] += mu[k] / current[j]
    out = [num[j] / den[j] if seen[j] else base[j] for j in range(len(current))]
    if anchor:
        weight = sum(seen[j] for j in anchor)
        scale = sum(seen[j] * out[j] / base[j] for j in anchor) / weight
        out = [out[j] / scale if seen[j] else base[j] for j in range(len(current))]
    return out
