"""The demand model (formula and constants written out in docs/demand-model.md).

    expected_p = base_p * min(PRICE_CAP, (price_p / ref_p) ** (-elasticity_p))
                 * WEEKDAY[dow] * MONTH[month] * TRAFFIC[weather] * temperature_factor(cat_p, celsius)
                 * choice(n_distinct)
    units_p    = min(stock_p, Poisson(expected_p * LogNormal(0, NOISE_SIGMA)))
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from sim_backend.rng import poisson
from sim_backend.world import MONTH, TRAFFIC, WEEKDAY, Weather, temperature_factor

NOISE_SIGMA = 0.20
PRICE_CAP = 2.5  # the most a price cut can multiply a product's demand
CHOICE_OPTIMUM = 8  # distinct products on offer at which the choice multiplier peaks
CHOICE_SHORT_PENALTY = 0.07  # per product short of the optimum
CHOICE_CROWD_PENALTY = 0.03  # per product beyond 10
CHOICE_FLOOR = 0.5  # the penalty is capped at halving demand


def choice_multiplier(n_distinct: int) -> float:
    short = max(0, CHOICE_OPTIMUM - n_distinct) * CHOICE_SHORT_PENALTY
    crowd = max(0, n_distinct - 10) * CHOICE_CROWD_PENALTY
    return max(CHOICE_FLOOR, 1.0 - short - crowd)


def price_factor(price_cents: int, reference_cents: int, elasticity: float) -> float:
    """Constant elasticity around the reference price; a cut can at most multiply demand by
    PRICE_CAP (an office has only so many people passing the machine)."""
    return float(min(PRICE_CAP, (price_cents / reference_cents) ** (-elasticity)))


def day_factor(weather: Weather, weekday: Sequence[float] = WEEKDAY, month: Sequence[float] = MONTH) -> float:
    d = weather.day
    return weekday[d.weekday()] * month[d.month - 1] * TRAFFIC[weather.state]


def expected_units(*, base: float, price_cents: int, reference_cents: int, elasticity: float, category: str,
                   weather: Weather, n_distinct: int) -> float:
    return day_demand(weather, n_distinct)(base, price_cents, reference_cents, elasticity, category)


def day_demand(weather: Weather, n_distinct: int, weekday: Sequence[float] = WEEKDAY,
               month: Sequence[float] = MONTH) -> Callable[[float, int, int, float, str], float]:
    """`expected_units` for one day's products: the day's factors are worked out once, and the
    temperature factor once per category. `weekday` and `month`: the scenario's calendar factors."""
    day, celsius, choice = day_factor(weather, weekday, month), weather.celsius, choice_multiplier(n_distinct)
    by_category: dict[str, float] = {}  # category -> temperature_factor today

    def expected(base: float, price_cents: int, reference_cents: int, elasticity: float, category: str) -> float:
        temperature = by_category.get(category)
        if temperature is None:
            temperature = by_category[category] = temperature_factor(category, celsius)
        return base * price_factor(price_cents, reference_cents, elasticity) * day * temperature * choice

    return expected


def draw_units(rng: random.Random, expected: float, stock: int) -> int:
    noisy = expected * math.exp(rng.gauss(-NOISE_SIGMA**2 / 2, NOISE_SIGMA))
    return min(stock, poisson(rng, noisy))
