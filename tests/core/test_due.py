"""One rule for when the shop is told to expect things, and where a refund is paid from (sim and live)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge import events as ev
from bridge.due import expected_delivery, task_due
from bridge.ledger import BANK, CARD_PENDING, Ledger, refund_source
from bridge.store import Store

LA = ZoneInfo("America/Los_Angeles")


def test_a_delivery_is_expected_on_its_local_day_at_the_delivery_hour() -> None:
    morning = datetime(2026, 1, 5, 9, 0, tzinfo=LA)
    assert expected_delivery(morning, 2, delivery_hour=10, tz=LA) == datetime(2026, 1, 7, 10, 0, tzinfo=LA)
    assert expected_delivery(morning, 0, delivery_hour=10, tz=LA) == datetime(2026, 1, 5, 10, 0, tzinfo=LA)
    late = datetime(2026, 1, 5, 22, 0, tzinfo=LA)  # 06:00 UTC the next day: the local day counts
    assert expected_delivery(late.astimezone(UTC), 1, delivery_hour=10, tz=LA) == datetime(2026, 1, 6, 10, tzinfo=LA)
    assert expected_delivery(late, 0, delivery_hour=10, tz=LA) == late + timedelta(hours=2)  # the hour has passed


def test_a_task_is_due_by_the_promise_and_none_without_one() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=LA)
    assert task_due(now, 90) == now + timedelta(minutes=90)
    assert task_due(now, 0) is None


def test_a_refund_comes_from_the_card_takings_that_cover_it_else_the_bank(db_url: str) -> None:
    """The simulated processor's rule, and the books follow what the event says (in any order of arrival)."""
    assert refund_source(500, 500) == CARD_PENDING and refund_source(499, 500) == BANK
    led = Ledger(shop="main", store=Store(url=db_url))
    t = datetime(2026, 1, 5, 12, tzinfo=UTC)
    led.record(ev.RefundIssued(id="r1", ts=t, shop="main", payment_ref="pi_1", amount_cents=300, reason="x",
                               paid_from=CARD_PENDING))  # before the payment it refunds: the same books
    led.record(ev.CapitalIn(id="c", ts=t, shop="main", amount_cents=10_000))
    led.record(ev.PaymentReceived(id="p", ts=t, shop="main", payment_ref="pi_1", amount_cents=900, order_ref="o"))
    assert (led.balance(CARD_PENDING), led.balance(BANK)) == (600, 10_000)
    led.record(ev.RefundIssued(id="r2", ts=t, shop="main", payment_ref="pi_1", amount_cents=300, reason="x"))
    assert (led.balance(CARD_PENDING), led.balance(BANK)) == (600, 9_700)


def test_a_special_order_is_paid_by_a_payment_that_names_its_own_id() -> None:
    """Live, Stripe's payment names its PaymentIntent, not the link: the order reference and amount find it."""
    from types import SimpleNamespace

    from bridge.tools.customers import CustomerTools, SpecialOrder

    tools = CustomerTools(shop=SimpleNamespace(listeners=[]))  # type: ignore[arg-type]
    for link in ("cs_1", "cs_2"):
        tools.orders[link] = SpecialOrder(link_id=link, customer="U1", conversation="D1", sku="rx", quantity=3,
                                          amount_cents=900, discount_percent=0, order_ref="special:rx:3:U1")
    t = datetime(2026, 1, 5, 12, tzinfo=UTC)
    tools.observe(ev.PaymentReceived(id="p", ts=t, shop="main", payment_ref="pi_9", amount_cents=900,
                                     order_ref="special:rx:3:U1"))
    assert [o.status for o in tools.orders.values()] == ["paid", "unpaid"]
    tools.observe(ev.PaymentReceived(id="q", ts=t, shop="main", payment_ref="pi_8", amount_cents=500,
                                     order_ref="special:rx:3:U1"))  # another amount: not this order
    assert [o.status for o in tools.orders.values()] == ["paid", "unpaid"]
