"""At every day's close the simulator's hidden truth and the ledger agree on money and units."""

import pytest

from bridge.ledger import PREPAID
from sim_backend.scoring import books_disagree


@pytest.mark.parametrize("policy", ["baseline", "oracle"])
def test_truth_and_ledger_agree_at_every_close_of_a_year(make_sim, policy) -> None:
    sim = make_sim(seed=3, policy=policy)
    closes: list[str] = []
    problems: list[tuple[str, list[str]]] = []

    def check(record) -> None:
        closes.append(record.day)
        found = books_disagree(sim.world, sim.ledger)
        if found:
            problems.append((record.day, found))

    sim.runtime.on_day = check
    outcome = sim.run()
    assert outcome.days_run == 365 and len(closes) == 365
    assert problems == []
    assert sim.ledger.anomalies == []
    assert sum(sim.ledger.balances.values()) == 0
    # what was paid and not yet delivered is exactly what the open orders still owe
    assert sim.ledger.balance(PREPAID) == sum(o.prepaid_left for o in sim.ledger.open_orders())
    # and the books on disk say what the books in memory say
    rows = sim.store.rows("day_close")
    assert len(rows) == 365
    assert rows[-1]["net_worth_cents"] == sim.ledger.net_worth_cents


def test_the_books_reload_from_the_store_after_a_restart(make_sim) -> None:
    from bridge.ledger import Ledger
    from bridge.store import Store

    sim = make_sim(seed=9, days=80)
    sim.run()
    before = sim.ledger
    again = Ledger.load(shop=before.shop, store=Store(url=sim.store.url), tz=before.tz)
    assert {k: v for k, v in again.balances.items() if v} == {k: v for k, v in before.balances.items() if v}
    assert again.storage() == before.storage()
    assert {k: v for k, v in again.stock.items() if v} == {k: v for k, v in before.stock.items() if v}
    assert {s: [(lot.qty_remaining, lot.unit_cost_cents) for lot in lots] for s, lots in again.lots.items() if lots} == \
        {s: [(lot.qty_remaining, lot.unit_cost_cents) for lot in lots] for s, lots in before.lots.items() if lots}
    assert {o: (b.status, b.prepaid_left) for o, b in again.orders.items()} == \
        {o: (str(b.status), b.prepaid_left) for o, b in before.orders.items()}
    assert again.units_sold_total == before.units_sold_total
    assert again.daily == before.daily
    assert again.open_tasks().keys() == before.open_tasks().keys()


def test_daily_caps_and_orders_survive_a_restart(make_sim, tmp_path) -> None:
    from bridge.ledger import Ledger
    from bridge.store import Store
    from bridge.tools.shop import ShopTools

    sim = make_sim(seed=2, days=1, db_url=f"sqlite:///{tmp_path / 'shop.db'}")
    sim.run()
    spent = sim.tools.spent_today_cents()
    assert spent > 0  # the baseline buys its first stock on day one
    ledger = Ledger.load(shop=sim.ledger.shop, store=Store(url=sim.store.url), tz=sim.ledger.tz)
    again = ShopTools(backend=sim.tools.backend, ledger=ledger, products=sim.tools.products, tz=sim.tools.tz)
    assert again.spent_today_cents() == spent
    # placing an order already on the books again changes nothing
    book = next(iter(ledger.orders.values()))
    before = (book.status, book.prepaid_left, book.received_cents)
    from bridge.domain import OrderReceipt

    ledger.open_order(OrderReceipt(order_id=book.order_id, supplier=book.supplier, total_cents=book.total_cents,
                                   expected_at=book.expected_at or sim.world.now), sim.world.now)
    assert (book.status, book.prepaid_left, book.received_cents) == before
