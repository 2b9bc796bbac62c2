from datetime import UTC, datetime, timedelta

import pytest

from bridge import events as ev
from bridge.domain import Payment
from bridge.ledger import BANK, CARD_PENDING, COGS, INVENTORY, MACHINE_CASH, PREPAID, STORAGE, Ledger
from bridge.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db_url: str):
    """Every test here runs on SQLite and on a real PostgreSQL (the `db_url` fixture)."""
    store = Store(url=db_url)
    return Ledger(shop="main", store=store)


def book_basics(led: Ledger) -> None:
    led.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=50_000))
    led.record(ev.SupplierPaid(id="pay", ts=T0, order_id="po1", supplier="s", amount_cents=1_000))
    led.record(ev.DeliveryReceived(id="d1", ts=T0, order_id="po1", supplier="s", sku="cola", quantity=10,
                                   unit_cost_cents=50))
    led.record(ev.DeliveryReceived(id="d2", ts=T0, order_id="po1", supplier="s", sku="cola", quantity=10,
                                   unit_cost_cents=50))
    led.record(ev.Restocked(id="r1", ts=T0, machine="m1", slot="A1", sku="cola", count=8))


def test_double_entry_balances_and_fifo_cost(ledger: Ledger) -> None:
    book_basics(ledger)
    ledger.record(ev.Sale(id="s1", ts=T0, machine="m1", slot="A1", sku="cola", units=3, unit_price_cents=150,
                          payment=Payment.CARD))
    ledger.record(ev.Sale(id="s2", ts=T0, machine="m1", slot="A1", sku="cola", units=2, unit_price_cents=150,
                          payment=Payment.CASH))
    assert sum(ledger.balances.values()) == 0  # every line debits and credits the same amount
    assert ledger.balance(BANK) == 49_000
    assert ledger.balance(CARD_PENDING) == 450
    assert ledger.balance(MACHINE_CASH) == 300
    assert ledger.balance(COGS) == 5 * 50
    assert ledger.balance(INVENTORY) == 15 * 50
    assert ledger.balance(PREPAID) == 0
    assert ledger.units_at(STORAGE, "cola") == 12
    assert ledger.units_at("m1:A1", "cola") == 3
    ledger.store.flush()
    rows = ledger.store.rows("ledger_line")
    debits = sum(r["amount_cents"] for r in rows if r["debit"] == BANK)
    credits = sum(r["amount_cents"] for r in rows if r["credit"] == BANK)
    assert debits - credits == ledger.balance(BANK)
    assert all(r["ts"].tzinfo is not None for r in rows)


def test_an_event_recorded_twice_changes_nothing(ledger: Ledger) -> None:
    book_basics(ledger)
    sale = ev.Sale(id="s1", ts=T0, machine="m1", slot="A1", sku="cola", units=3, unit_price_cents=150,
                   payment=Payment.CARD)
    assert ledger.record(sale) is True
    before = dict(ledger.balances)
    assert ledger.record(sale) is False
    assert ledger.balances == before
    ledger.store.flush()
    # and across a restart: a new store on the same file refuses the id too
    again = Ledger(shop="main", store=Store(url=ledger.store.url))
    assert again.record(sale) is False


def test_a_write_off_books_the_missing_goods_as_a_loss(ledger: Ledger) -> None:
    from bridge.domain import OrderReceipt

    ledger.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=10_000))
    ledger.open_order(OrderReceipt(order_id="po9", supplier="scam", total_cents=2_000, expected_at=T0), T0)
    ledger.record(ev.SupplierPaid(id="pay9", ts=T0, order_id="po9", supplier="scam", amount_cents=2_000))
    assert [o.order_id for o in ledger.open_orders()] == ["po9"]
    ledger.record(ev.OrderWrittenOff(id="w9", ts=T0 + timedelta(days=9), order_id="po9", supplier="scam",
                                     amount_cents=2_000, reason="never delivered"))
    assert ledger.balance(PREPAID) == 0
    assert ledger.balance("losses") == 2_000
    assert ledger.open_orders() == []
    assert ledger.orders["po9"].status == "lost"


def test_the_store_refuses_naive_times(db_url: str) -> None:
    store = Store(url=db_url)
    store.append("processed_event", {"event_id": "x", "shop": "main", "kind": "k",
                                     "ts": datetime(2026, 1, 1)})  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        store.flush()
    assert store.scalar("select count(*) from processed_event") == 0


def test_a_live_store_forgets_old_ids_but_still_refuses_them(tmp_path, monkeypatch) -> None:
    from bridge.store import store as store_module

    monkeypatch.setattr(store_module, "SEEN_CAP", 10)
    store = Store(url=f"sqlite:///{tmp_path / 'live.db'}")
    led = Ledger(shop="main", store=store)
    led.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=1_000))
    for i in range(30):
        led.record(ev.FeeCharged(id=f"fee{i}", ts=T0, amount_cents=1, reason="test"))
        store.flush()
    assert len(store._seen) <= 10  # bounded
    bank = led.balance(BANK)
    assert led.record(ev.FeeCharged(id="fee0", ts=T0, amount_cents=1, reason="test")) is False  # asked of the db
    assert led.balance(BANK) == bank == 1_000 - 30
