"""Common random numbers: demand is drawn per day and product from its own seed, so a shop's other
choices (another product's price) never shift a product's draws; the paired comparison of two
policies on the same seeds compares like with like."""

from __future__ import annotations

from datetime import timedelta

from bridge import events as ev
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario


def _snickers_sold(coke_price: int, seed: int = 4) -> list[int]:
    world = SimWorld(scenario=load_scenario("vb1", days=20), catalogue=load_catalogue(None), seed=seed)
    for slot, sku, price in (("A1", "coke-12oz", coke_price), ("A2", "snickers-1.86oz", 150)):
        s = world.slots[slot]
        s.sku, s.count, s.price_cents, s.capacity = sku, 10_000, price, 10_000
    sold = []
    for day in range(14):
        world.advance_to(world.at(day, 23))
        sold.append(sum(e.units for e in world.drain() if isinstance(e, ev.Sale) and e.sku == "snickers-1.86oz"))
    return sold


def test_another_products_price_does_not_shift_a_products_demand_draws() -> None:
    cheap, dear = _snickers_sold(90), _snickers_sold(400)
    assert sum(cheap) > 0 and cheap == dear


def test_the_seed_still_matters() -> None:
    assert _snickers_sold(150, seed=4) != _snickers_sold(150, seed=5)


def test_the_draws_of_a_day_do_not_depend_on_the_days_before() -> None:
    a = SimWorld(scenario=load_scenario("vb1", days=20), catalogue=load_catalogue(None), seed=2)
    b = SimWorld(scenario=load_scenario("vb1", days=20), catalogue=load_catalogue(None), seed=2)
    a._demand_rng(1, "pepsi-12oz").random()
    a.advance_to(a.now + timedelta(days=3))
    assert a._demand_rng(5, "coke-12oz").random() == b._demand_rng(5, "coke-12oz").random()
