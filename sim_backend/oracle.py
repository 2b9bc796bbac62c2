"""The oracle (simulator only): the baseline's strategy with the simulator's hidden demand
parameters in place of what it would have to learn. It is the upper reference other policies
are scored against: it knows each product's base rate and elasticity and the mean of the
weekday, month and weather multipliers, so it stocks the most profitable assortment from day one
and prices at the profit-maximising price, with nothing spent on exploration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bridge.policies.baseline import BaselinePolicy
from bridge.policies.trust import SupplierTrust
from sim_backend.catalogue import CatalogueEntry
from sim_backend.demand import PRICE_CAP, choice_multiplier, price_factor
from sim_backend.world import MONTH, TRAFFIC, WEEKDAY

MEAN_DAY = (sum(WEEKDAY) / 7) * (sum(MONTH) / 12) * (0.55 * TRAFFIC["sunny"] + 0.3 * TRAFFIC["cloudy"]
                                                     + 0.12 * TRAFFIC["rainy"] + 0.03 * TRAFFIC["stormy"])


class TrueDemand:
    def __init__(self, catalogue: Mapping[str, CatalogueEntry], *, distinct: int = 12) -> None:
        self.catalogue = catalogue
        self.factor = MEAN_DAY * choice_multiplier(distinct)

    def rate(self, sku: str, ref: int, price: int) -> float:
        h = self.catalogue[sku].hidden
        return float(h.base_daily_sales * price_factor(price, ref, h.elasticity) * self.factor)

    def tried(self, sku: str) -> int:
        return 1_000

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        h = self.catalogue[sku].hidden
        return h.base_daily_sales * self.factor, h.elasticity

    def observe_day(self, d: date, sales: dict[str, tuple[int, int]], censored: set[str]) -> None:
        return None


class OraclePolicy(BaselinePolicy):
    name = "oracle"
    explore = False

    def __init__(self, *, catalogue: Mapping[str, CatalogueEntry], floor_markup: float = 1.0,
                 ceiling_cents: int = 2_000, ceiling_markup: float = 6.0,
                 honest: frozenset[str] | None = None, trust: SupplierTrust | None = None) -> None:
        super().__init__(estimator=TrueDemand(catalogue), floor_markup=floor_markup, ceiling_cents=ceiling_cents,
                         ceiling_markup=ceiling_markup, trust=trust)
        self.catalogue = catalogue
        self.honest = honest  # the suppliers that ship what they are paid for (None: all)

    def _survey(self, call: Any, today: date) -> None:
        """Never asks, so never pays, a supplier the simulator knows to be a scammer or a bait-and-switch
        outfit: the oracle is the upper reference, and an upper reference is not fooled."""
        if self.honest is not None:
            self.suppliers = {sid: s for sid, s in self.suppliers.items() if sid in self.honest}
        super()._survey(call, today)

    def _best_price(self, sku: str) -> int:
        """The exact optimum of (p - c) * p^-e, c * e / (e - 1), where the demand cap does not
        bind, within the guardrails."""
        cost = self.offers[sku].unit_cost
        e = self.catalogue[sku].hidden.elasticity
        ref = self.refs[sku]
        menu = self._menu(sku)
        ideal = cost * e / (e - 1) if e > 1 else float(menu.ceiling)
        ideal = max(ideal, ref * PRICE_CAP ** (-1 / e))  # below this a cut sells no more
        return int(min(menu.ceiling, max(menu.floor, round(ideal / 5) * 5)))
