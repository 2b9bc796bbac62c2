"""The baseline's assortment score is kept while the estimator's fit object, the unit cost and the days
tried stay the same, and is the one computed afresh whenever any of them changes."""

from __future__ import annotations

from datetime import date

from bridge.policies.baseline import BaselinePolicy, Offer
from bridge.policies.demand import LearnedDemand


def _fresh(policy: BaselinePolicy, sku: str) -> float:
    """The score as computed with no score kept (the best price still cached per days tried)."""
    policy._scores.clear()
    return policy.score(sku)


def test_score_follows_fit_unit_cost_and_days_tried() -> None:
    est = LearnedDemand()
    policy = BaselinePolicy(estimator=est)
    skus = ("a", "b")
    for sku, ref in zip(skus, (200, 250), strict=True):
        policy.refs[sku] = est.refs[sku] = ref
        est.categories[sku] = "snack"
        policy.offers[sku] = Offer(sku=sku, supplier="s", unit_cost=80, lead_days=2)
    first = policy.score("a")
    assert policy.score("a") == first == _fresh(policy, "a")
    # a day's sales of a product of the same category move the category's slope: every fit of it goes
    est.observe_day(date(2025, 3, 3), {"b": (4, 250)}, set())
    assert policy.score("a") == _fresh(policy, "a")
    est.observe_day(date(2025, 3, 4), {"a": (3, 200)}, set())
    moved = policy.score("a")
    assert moved != first and moved == _fresh(policy, "a")
    policy.offers["a"] = Offer(sku="a", supplier="s", unit_cost=60, lead_days=2)
    cheaper = policy.score("a")
    assert cheaper > moved and cheaper == _fresh(policy, "a")
