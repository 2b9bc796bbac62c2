import json
from datetime import timedelta

from bridge import events as ev
from bridge.domain import RestockLine
from bridge.ledger import Ledger
from bridge.store import Store
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.sim.quotes import answered


def world(**over) -> SimWorld:
    return SimWorld(scenario=load_scenario("vb1", **over), catalogue=load_catalogue(), seed=1)


def test_a_delivery_exists_only_once_its_arrival_event_fires() -> None:
    w = world()
    b = sim_backend(w)
    w.advance_to(w.at(0, 9))
    q = answered(w, b.procurement.request_quote(supplier="pacific-bev", items={"coke-12oz": 100}))
    receipt = b.procurement.place_order(quote_id=q.quote_id, idempotency_key="k1")
    assert w.storage.get("coke-12oz", 0) == 0
    w.advance_to(receipt.expected_at - timedelta(minutes=1))
    assert w.storage.get("coke-12oz", 0) == 0
    assert not any(isinstance(e, ev.DeliveryReceived) for e in w.drain())
    w.advance_to(receipt.expected_at)
    assert w.storage["coke-12oz"] == 100
    assert any(isinstance(e, ev.DeliveryReceived) for e in w.drain())


def test_an_order_is_paid_once_even_if_placed_twice() -> None:
    w = world()
    b = sim_backend(w)
    q = answered(w, b.procurement.request_quote(supplier="pacific-bev", items={"coke-12oz": 100}))
    bank = w.bank
    r1 = b.procurement.place_order(quote_id=q.quote_id, idempotency_key="same")
    r2 = b.procurement.place_order(quote_id=q.quote_id, idempotency_key="same")
    assert r1 == r2
    assert w.bank == bank - q.total_cents


def test_cards_settle_next_day_cash_stays_until_collected() -> None:
    w = world()
    b = sim_backend(w)
    w.advance_to(w.at(0, 8))
    q = answered(w, b.procurement.request_quote(supplier="quickmart", items={"coke-12oz": 30}))
    b.procurement.place_order(quote_id=q.quote_id, idempotency_key="k")
    w.advance_to(w.at(1, 12))
    b.physical.request_restock(machine="m1", lines=[RestockLine(slot="A1", sku="coke-12oz", count=15)])
    w.advance_to(w.at(1, 22))
    sold_card = w.card_unsettled
    assert w.slots["A1"].count < 15 and sold_card > 0
    bank_before = w.bank
    w.advance_to(w.at(2, 0, 1))
    assert w.card_unsettled == 0 and w.bank == bank_before + sold_card
    w.advance_to(w.at(4, 23))  # a few more days of sales
    cash = w.cash_box
    assert cash > 0
    w.advance_to(w.at(5, 0))
    assert w.cash_box == cash  # cash is not banked by itself
    bank = w.bank
    b.physical.request_cash_collection(machine="m1")
    w.advance_to(w.at(5, 3))
    assert w.cash_box == 0 and w.bank == bank + cash


def test_bankrupt_after_ten_days_unable_to_pay_the_fee(tmp_path) -> None:
    w = world(starting_cash_cents=500)  # $5: pays the $2 fee twice, then misses
    b = sim_backend(w)
    ledger = Ledger(shop="main", store=Store(url=f"sqlite:///{tmp_path}/b.db", fresh=True), tz=w.tz)
    day = 0
    while not w.bankrupt and day < 30:
        day += 1
        for e in b.events.wait_until(w.at(day, 0)):
            ledger.record(e)
    assert w.bankrupt
    assert day == 2 + 10  # two fees paid, then ten missed in a row
    assert ledger.fee_missed_streak == 10


def test_a_large_item_does_not_fit_a_small_slot() -> None:
    import pytest

    from bridge.errors import ToolError

    b = sim_backend(world())
    with pytest.raises(ToolError, match="does not fit"):
        b.physical.request_restock(machine="m1", lines=[RestockLine(slot="A1", sku="coke-20oz", count=1)])


def test_demand_falls_with_price_and_is_capped() -> None:
    from sim_backend.demand import PRICE_CAP, choice_multiplier, price_factor

    assert price_factor(300, 150, 2.0) < price_factor(150, 150, 2.0) < price_factor(120, 150, 2.0)
    assert price_factor(10, 150, 2.0) == PRICE_CAP
    assert choice_multiplier(1) == 0.51 and choice_multiplier(8) == 1.0 and choice_multiplier(12) < 1.0
    assert min(choice_multiplier(n) for n in range(0, 40)) == 0.5


def test_the_machine_read_as_data_says_what_its_view_says() -> None:
    w = world()
    b = sim_backend(w)
    m = b.machines["m1"]
    w.advance_to(w.at(0, 8))
    q = answered(w, b.procurement.request_quote(supplier="quickmart", items={"coke-12oz": 30}))
    b.procurement.place_order(quote_id=q.quote_id, idempotency_key="k")
    w.advance_to(w.at(1, 12))
    b.physical.request_restock(machine="m1", lines=[RestockLine(slot="A1", sku="coke-12oz", count=15)])
    for until in (w.at(1, 12), w.at(1, 22)):  # before the restocker came, then stocked and sold from
        w.advance_to(until)
        m.set_price("A2", 135)
        m.lock()
        view = m.view()
        assert json.dumps(m.view_json()) == json.dumps(view.to_json())  # the same keys in the same order
        assert m.view_json()["slots"][0] == {"slot": "A1", "size": "small", "capacity": view.slots[0].capacity,
                                             "sku": view.slots[0].sku, "count": view.slots[0].count,
                                             "price_cents": view.slots[0].price_cents}
        assert m.slot_prices() == {s.slot: s.price_cents for s in view.slots}


def test_event_ids_are_the_shop_a_dash_and_a_seven_digit_sequence_whatever_the_shop_is_called() -> None:
    for shop in ("main", "50%-off", "a%db"):  # a "%" in the name is text, not a format directive
        w = SimWorld(scenario=load_scenario("vb1"), catalogue=load_catalogue(), seed=1, shop=shop)
        ids = [e.id for e in w.drain()]  # the starting capital
        w.advance_to(w.at(1, 12))  # a midnight with nothing to settle, an evening of no sales, the fee
        ids += [e.id for e in w.drain()]
        assert ids == [f"{shop}-{n:07d}" for n in range(1, len(ids) + 1)]
        assert len(ids) >= 2
