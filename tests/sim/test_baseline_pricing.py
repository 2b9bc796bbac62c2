"""The baseline's price choice: comparing only the grid prices either side of the constant-elasticity
optimum c * e / (e - 1) picks what comparing every grid price picks."""

from __future__ import annotations

import random

from bridge.policies.baseline import BaselinePolicy, Offer


class _Fixed:
    """An estimator that answers one fit, whatever it is asked."""

    def __init__(self) -> None:
        self.a, self.e = 1.0, 2.0

    def fit(self, sku: str, ref: int) -> tuple[float, float]:
        return self.a, self.e

    def tried(self, sku: str) -> int:
        return 0


def _scan(policy: BaselinePolicy, sku: str, a: float, e: float) -> int:
    best, best_profit = policy.refs[sku], -1.0
    for p, margin, ratio in policy._menu(sku).points:
        profit = margin * a * ratio ** -e
        if profit > best_profit:
            best, best_profit = p, profit
    return best


def test_best_price_is_the_best_of_the_whole_grid() -> None:
    rng = random.Random(11)
    est = _Fixed()
    checked = moved = 0
    for i in range(3_000):
        policy = BaselinePolicy(estimator=est, floor_markup=rng.choice([1.0, 1.2, 1.5]))  # type: ignore[arg-type]
        sku = f"p{i}"
        ref = rng.randrange(50, 600, 5)
        unit = rng.randrange(10, ref + 200)
        policy.refs[sku] = ref
        policy.offers[sku] = Offer(sku=sku, supplier="s", unit_cost=unit, lead_days=2)
        est.a = rng.choice([0.0, rng.uniform(0.01, 20.0)])
        est.e = rng.choice([0.5, 1.0, 1.1, rng.uniform(1.0, 4.0), 4.0])
        got = policy._best_price(sku)
        assert got == _scan(policy, sku, est.a, est.e), (ref, unit, est.a, est.e)
        checked += 1
        moved += got != ref
    assert checked == 3_000 and moved > 1_000  # the optimum is not just the reference price
