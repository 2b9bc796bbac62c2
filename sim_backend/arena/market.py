"""The shared market of an arena: the location's customers choose between machines.

A multinomial logit per product, with an outside option (docs/arena.md has the derivation):

    x_mp   = min(X_CAP, (P_mp / ref_p) ** (-beta_p) * choice(n_m))      # machine m's pull for p
    beta_p = elasticity_p * (1 + W)                                     # W = 1 / (PRICE_CAP - 1)
    A_mp   = W * x_mp                                                   # outside option: A_0 = 1
    N_p    = base_p * day_factor * temperature_factor(cat_p, C) * PRICE_CAP * LogNormal(-s^2/2, s)
    buyers at m ~ Poisson(N_p * A_mp / (1 + sum_k A_kp))                 # k: machines with p in stock

A customer who finds machine m sold out of p tries once more among the other machines still
holding p and the outside option, with the same logit weights (the spill-over). Alone at a
location, a machine at the reference price with 8-10 products sells base_p (as in vb1), a cut
can at most multiply that by PRICE_CAP, and the price elasticity at the reference is elasticity_p.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sim_backend.catalogue import CatalogueEntry
from sim_backend.demand import NOISE_SIGMA, PRICE_CAP, choice_multiplier, day_factor
from sim_backend.engine import SimWorld
from sim_backend.rng import binomial, poisson
from sim_backend.world import temperature_factor

W = 1.0 / (PRICE_CAP - 1.0)  # one machine's weight at the reference price against the outside option
X_CAP = 50.0  # a near-zero price cannot pull more than this
_EPS = timedelta(microseconds=1)


def pull(price_cents: int, reference_cents: int, elasticity: float, n_distinct: int) -> float:
    """x_mp: how strongly a machine draws the customers who want a product."""
    beta = elasticity * (1.0 + W)
    return float(min(X_CAP, (price_cents / reference_cents) ** (-beta) * choice_multiplier(n_distinct)))


def shares(pulls: Sequence[float]) -> list[float]:
    """Each machine's share of the customers who want the product (the rest take the outside option)."""
    denom = 1.0 + W * sum(pulls)
    return [W * x / denom for x in pulls]


@dataclass(slots=True)
class MarketDay:
    """What happened at the location at one day's sales: units per shop, prices seen per shop."""

    day: int
    units: dict[str, int] = field(default_factory=dict)
    prices: dict[str, dict[str, int]] = field(default_factory=dict)  # shop -> sku -> cheapest price
    spilled: int = 0  # customers who found a machine sold out and bought next door


class SharedMarket:
    """The engine's `Market` for several worlds at one location. The first world to reach a day's
    sales moment brings the others up to it (everything due before then happens first), and the
    day's customers are drawn once for all of them; later callers that day do nothing."""

    def __init__(self, *, catalogue: Mapping[str, CatalogueEntry], rng: random.Random) -> None:
        self.catalogue = catalogue
        self.rng = rng
        self.worlds: list[SimWorld] = []
        self.last_day = -1
        self.history: list[MarketDay] = []

    def join(self, world: SimWorld) -> None:
        self.worlds.append(world)

    def sell(self, world: SimWorld, day: int) -> None:
        if day <= self.last_day:
            return
        self.last_day = day
        moment = world.now
        for w in self.worlds:
            if w is not world and w.now < moment:
                w.advance_to(moment - _EPS)
                w.now = moment
        self.sell_day(day, world)

    def sell_day(self, day: int, weather_of: SimWorld) -> MarketDay:
        weather = weather_of.weather
        assert weather is not None
        rec = MarketDay(day=day)
        open_worlds = [w for w in self.worlds if w.machine_online and not w.machine_locked and not w.bankrupt]
        for w in self.worlds:
            w.units_sold_today = 0
        offers = {w.shop: w.offers() for w in open_worlds}
        n_distinct = {shop: len(o) for shop, o in offers.items()}
        for w in open_worlds:
            rec.prices[w.shop] = {sku: slots[0].price_cents for sku, slots in offers[w.shop].items()}
        dfac = day_factor(weather)
        skus = sorted({sku for o in offers.values() for sku in o})
        for sku in skus:
            entry = self.catalogue[sku]
            sellers = [w for w in open_worlds if sku in offers[w.shop]]
            ref, e = entry.product.reference_price_cents, entry.hidden.elasticity
            pulls = [pull(offers[w.shop][sku][0].price_cents, ref, e, n_distinct[w.shop]) for w in sellers]
            noise = math.exp(self.rng.gauss(-NOISE_SIGMA**2 / 2, NOISE_SIGMA))
            n_p = (entry.hidden.base_daily_sales * dfac * temperature_factor(entry.product.category, weather.celsius)
                   * PRICE_CAP * noise)
            stock = [sum(s.count for s in offers[w.shop][sku]) for w in sellers]
            sold = [0] * len(sellers)
            unmet = [0] * len(sellers)
            for i, share in enumerate(shares(pulls)):
                buyers = poisson(self.rng, n_p * share)
                sold[i] = min(buyers, stock[i])
                unmet[i] = buyers - sold[i]
            for i in range(len(sellers)):  # the spill-over: one more try next door
                if not unmet[i]:
                    continue
                rest = [k for k in range(len(sellers)) if k != i and stock[k] > sold[k]]
                total = 1.0 + W * sum(pulls[k] for k in rest)
                left, mass = unmet[i], 1.0
                for k in rest:  # a multinomial draw, as a chain of binomials
                    p = W * pulls[k] / total
                    go = binomial(self.rng, left, min(1.0, p / mass))
                    mass -= p
                    left -= go
                    extra = min(go, stock[k] - sold[k])
                    sold[k] += extra
                    rec.spilled += extra
                    if not left:
                        break
            for w, n in zip(sellers, sold, strict=True):
                if n:
                    got = w.sell_units(offers[w.shop][sku], n)
                    w.units_sold_today += got
                    rec.units[w.shop] = rec.units.get(w.shop, 0) + got
        self.history.append(rec)
        return rec

