"""The shared market: undercutting wins share; a sold-out machine sends customers next door."""

from datetime import timedelta

import pytest

from sim_backend.arena.market import PRICE_CAP, SharedMarket, W, pull, shares
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.rng import rng_for
from sim_backend.scenario import load_scenario

SKUS = ["coke-12oz", "diet-coke-12oz", "coke-zero-12oz", "pepsi-12oz"]


def test_alone_at_the_reference_price_a_machine_sells_the_base_rate() -> None:
    (s,) = shares([pull(150, 150, 1.6, 8)])
    assert s * PRICE_CAP == pytest.approx(1.0)
    assert shares([100.0])[0] * PRICE_CAP < PRICE_CAP  # a deep cut at most approaches the cap
    a, b = shares([pull(120, 150, 1.6, 8), pull(150, 150, 1.6, 8)])
    assert a > 1.5 * b  # a 20% cut: (0.8)^(-1.6 * (1 + W)) times the pull
    assert a / b == pytest.approx(0.8 ** (-1.6 * (1 + W)))


def _location(seed: int) -> tuple[SharedMarket, SimWorld, SimWorld]:
    scenario = load_scenario("vb1")
    catalogue = load_catalogue()
    market = SharedMarket(catalogue=catalogue, rng=rng_for(seed, "arena-demand"))
    worlds = []
    for shop in ("a", "b"):
        w = SimWorld(scenario=scenario, catalogue=catalogue, seed=seed, shop=shop, market=market)
        w.advance_to(w.start + timedelta(hours=12))  # the day's weather is drawn
        market.join(w)
        worlds.append(w)
    return market, worlds[0], worlds[1]


def _stock(w: SimWorld, price_factor: float, count: int = 15) -> None:
    for slot, sku in zip(["A1", "A2", "A3", "B1"], SKUS, strict=True):
        s = w.slots[slot]
        s.sku, s.count = sku, count
        s.price_cents = round(w.catalogue[sku].product.reference_price_cents * price_factor)


def _sell(days: int, a_price: float, b_price: float, a_count: int = 15, seed: int = 3) -> tuple[int, int]:
    market, a, b = _location(seed)
    sold = {"a": 0, "b": 0}
    for d in range(days):
        _stock(a, a_price, a_count)
        _stock(b, b_price)
        rec = market.sell_day(d, a)
        for shop, n in rec.units.items():
            sold[shop] += n
    return sold["a"], sold["b"]


def test_the_machine_that_undercuts_by_20_percent_takes_the_larger_share() -> None:
    a, b = _sell(250, 0.8, 1.0)
    assert a > 1.4 * b, (a, b)
    same_a, same_b = _sell(250, 1.0, 1.0)
    assert 0.8 < same_a / same_b < 1.25  # identical machines split the customers about evenly
    assert a > same_a and b < same_b  # the cut took customers from next door


def test_a_sold_out_machine_sends_its_customers_next_door() -> None:
    _, b_both = _sell(250, 1.0, 1.0)
    a_none, b_alone = _sell(250, 1.0, 1.0, a_count=0)
    assert a_none == 0
    assert b_alone > 1.2 * b_both, (b_both, b_alone)  # in expectation 1.32x with four products
    # sold out during the day: one can each, the rest of a's customers try b
    a_one, b_spill = _sell(250, 1.0, 1.0, a_count=1)
    assert a_one <= 250 * len(SKUS)
    assert b_spill > b_both
