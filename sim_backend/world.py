"""Calendar and weather: seasonal temperature, a daily weather Markov chain, and the multipliers
the demand model applies for weekday, month and weather (constants in docs/demand-model.md)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

WEEKDAY = (1.00, 1.05, 1.05, 1.00, 0.90, 0.35, 0.30)  # Monday .. Sunday (an office)
MONTH = (0.95, 1.00, 1.00, 1.00, 1.00, 1.00, 0.90, 0.85, 1.00, 1.00, 0.95, 0.80)  # Jan .. Dec
WEATHER_STATES = ("sunny", "cloudy", "rainy", "stormy")
TRAFFIC = {"sunny": 1.00, "cloudy": 0.97, "rainy": 0.88, "stormy": 0.70}
TRANSITIONS = {
    "sunny": (0.65, 0.25, 0.08, 0.02),
    "cloudy": (0.35, 0.40, 0.20, 0.05),
    "rainy": (0.20, 0.35, 0.35, 0.10),
    "stormy": (0.15, 0.35, 0.35, 0.15),
}
COLD_DRINKS = frozenset({"soda", "water", "juice", "energy", "novelty"})
HOT_DRINKS = frozenset({"coffee"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Weather:
    day: date
    state: str
    celsius: float


class WeatherModel:
    """Seeded daily weather; `bad_weather_days` forces storms (an accident)."""

    def __init__(self, *, rng: random.Random, mean_c: float = 14.0, swing_c: float = 9.0) -> None:
        self.rng = rng
        self.mean_c = mean_c
        self.swing_c = swing_c
        self.state = "sunny"
        self.forced: set[date] = set()

    def next_day(self, day: date) -> Weather:
        probs = TRANSITIONS[self.state]
        r = self.rng.random()
        acc = 0.0
        for name, p in zip(WEATHER_STATES, probs, strict=True):
            acc += p
            if r < acc:
                self.state = name
                break
        if day in self.forced:
            self.state = "stormy"
        season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365.0)
        celsius = self.mean_c + self.swing_c * season + self.rng.gauss(0, 2.5)
        if self.state in ("rainy", "stormy"):
            celsius -= 2.0
        return Weather(day=day, state=self.state, celsius=round(celsius, 1))


def temperature_factor(category: str, celsius: float) -> float:
    if category in COLD_DRINKS:
        return min(1.3, max(0.8, 1 + 0.015 * (celsius - 18)))
    if category in HOT_DRINKS:
        return min(1.25, max(0.8, 1 - 0.012 * (celsius - 18)))
    return 1.0
