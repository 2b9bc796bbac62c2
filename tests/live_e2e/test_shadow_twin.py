"""Shadow mode's twin: every WRITE tool of the live shop's assembled toolbox answers in shadow with a
result of exactly the shape the real call gives (the same keys, the same types, all the way down), while
nothing real happens: no Slack task or message is posted, no card link or refund is made, no command
reaches the machine, and the real books do not move. The guardrails still judge each shadow call.

The real side is the live composition's ports: the Slack adapters on the loopback Slack fake (chat,
restock and cash tasks, approvals) and, where the live side answers through a person later, the rig's
port doubles that answer as the ports say (a quote, an order receipt, a card link, a refund id)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge import events as ev
from bridge.compose.live import build_live
from bridge.compose.policies import PolicyInputs
from bridge.compose.shop import Shop, ShopSpec, assemble_shop
from bridge.domain import Product, QuoteLine, Size
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import Ledger
from bridge.live.config import LiveConfig
from bridge.ports import Backend
from bridge.runtime import RunLimits
from bridge.shadow_report import shadow_report
from bridge.store import Store
from bridge.tools.spec import Kind
from hardware_adapters.doubles.slack_api import FakeSlack
from hardware_adapters.live import EventQueue
from hardware_adapters.slack.app import SlackBridge
from tests.slack.rig import (
    ALICE,
    NOW,
    OPS_CH,
    SHOP_CH,
    SUPPLIERS,
    FakeMachine,
    FakePayments,
    FakeProcurement,
    FixedClock,
    fake_slack,
    settings_for,
)

GUARD = GuardrailPolicy(approval_threshold_cents=500_000, order_cap_cents=500_000, daily_spend_cap_cents=900_000)
PRODUCTS = {s: Product(sku=s, name=s, category="snack", size=Size.SMALL, reference_price_cents=150)
            for s in ("cola", "chips", "gum")}


@dataclass
class Side:
    shop: Shop
    machine: FakeMachine
    payments: FakePayments
    procurement: FakeProcurement
    events: EventQueue  # what the world's ports send (the rig's supplier answers by event)

    def world(self, event: ev.Event) -> None:
        """An event from the world, as the live ingest hands it on: booked, then shown to the tools."""
        if self.shop.ledger.record(event):
            self.shop.tools.observe(event)

    def answer(self, event: ev.Event) -> None:
        """The world's answer to what the shopkeeper did (a supplier paid for its order, a customer paying
        its link): live, booked and shown to the tools; in shadow, what the twin's books would see."""
        twin = self.shop.extras.get("twin")
        if twin is not None:
            twin.observe(event)
        elif self.shop.ledger.record(event):
            self.shop.tools.observe(event)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        result = self.shop.toolbox.call(tool, args)
        assert result.ok, (tool, result.error)
        for event in self.events.drain():  # a supplier's answer, say
            self.world(event)
        return result


@contextmanager
def live_side(tmp_path: Path, fake: FakeSlack, *, shadow: bool, clock: FixedClock | None = None,
              policy: str = "baseline", storage: int = 50) -> Iterator[Side]:
    clock = clock or FixedClock()
    store = Store(url=f"sqlite:///{tmp_path / ('shadow.db' if shadow else 'real.db')}", fresh=True)
    ledger = Ledger(shop="main", store=store)
    ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=500_000))
    ledger.record(ev.DeliveryReceived(id="d0", ts=NOW, order_id="o0", supplier="acme", sku="cola", quantity=storage,
                                      unit_cost_cents=60))
    store.flush()
    events = EventQueue()
    machine, payments, procurement = FakeMachine(), FakePayments(), FakeProcurement(NOW, events=events)
    slack = SlackBridge(settings=settings_for(fake), clock=clock, ledger=ledger, machines={"m1": machine},
                        events=EventQueue(), suppliers=SUPPLIERS)
    backend = Backend(shop="main", clock=clock, machines={"m1": machine}, payments=payments, chat=slack.chat,
                      procurement=procurement, physical=slack.physical, events=events,
                      approvals=slack.approvals)
    shop = assemble_shop(backend=backend, store=store, ledger=ledger, spec=ShopSpec(
        run_id="shadow-t" if shadow else "live-t", tz=ledger.tz, products=PRODUCTS, policy=policy,
        policy_inputs=PolicyInputs(guard=GUARD, open_market=True, customers=True), customers=True, service=True,
        schedule=lambda _p: None, limits=RunLimits(days=1, max_messages=100, bankruptcy_days=5),  # type: ignore[arg-type,return-value]
        shadow=shadow))
    try:
        yield Side(shop=shop, machine=machine, payments=payments, procurement=procurement, events=events)
    finally:
        twin = shop.extras.get("twin")
        if twin is not None:
            twin.close()
        store.close()


def session(side: Side) -> dict[str, Any]:
    """One call of every WRITE tool, each made possible by the ones before (and by what the world sends):
    the result of each, by tool."""
    out: dict[str, Any] = {}

    def call(tool: str, **args: Any) -> Any:
        out[tool] = side.call(tool, args).value
        return out[tool]

    call("set_price", slot="A1", price_cents=160)
    quote = call("request_quote", supplier="acme", items={"cola": 10})
    call("counter_offer", quote_id=quote["quote_id"], unit_costs_cents={"cola": 50})
    order = call("place_order", quote_id=quote["quote_id"])
    side.answer(ev.SupplierPaid(id=f"paid-{order['order_id']}", ts=NOW, order_id=order["order_id"], supplier="acme",
                               amount_cents=order["total_cents"]))
    call("write_off_order", order_id=order["order_id"], reason="never came")
    call("restock", slots=[{"slot": "A1", "sku": "cola", "count": 2}])
    call("collect_cash")
    call("send_message", conversation=SHOP_CH, text="fresh cola in A1")
    call("create_payment_link", customer=ALICE, amount_cents=900, description="a crate")
    call("refund", payment_ref="pi_1", amount_cents=100, reason="stuck coin")
    call("request_approval", action="order", ref=quote["quote_id"], amount_cents=5000, summary="a big order")
    special = call("create_special_order", conversation=SHOP_CH, customer=ALICE, sku="cola", quantity=2,
                   unit_price_cents=200)
    side.answer(ev.PaymentReceived(id=f"pay-{special['link_id']}", ts=NOW, payment_ref=special["link_id"],
                                  order_ref="", customer=ALICE, amount_cents=special["amount_cents"]))
    call("hand_over", link_id=special["link_id"])
    return out


def shape(value: Any) -> Any:
    """Keys and types all the way down (a list by the shapes of its items)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [shape(v) for v in value]
    return type(value).__name__


def write_tools(side: Side) -> set[str]:
    box = side.shop.toolbox
    return {n for n, s in box.specs.items() if s.kind is Kind.WRITE and n not in box.shadow_exempt}


def test_every_write_answers_in_shadow_with_the_real_shape_and_nothing_real_happens(tmp_path: Path) -> None:
    with fake_slack() as fake:
        with live_side(tmp_path, fake, shadow=True) as shadow:
            shadowed = session(shadow)
            books = shadow.shop.ledger
            assert (books.balance("bank"), books.open_orders(), books.open_tasks()) == (500_000, [], {})
            assert [m for m in fake.history(OPS_CH) if m.get("user") == fake.bot_user_id] == []
            assert fake.history(SHOP_CH) == []
            assert shadow.machine.prices["A1"] == 150
            assert (shadow.payments.links, shadow.payments.refunds, shadow.procurement.orders) == ([], [], [])
            shadow.shop.store.flush()
            verdicts = {r["tool"]: r["verdict"] for r in shadow.shop.store.rows("audit_log", kind="write")}
            assert set(verdicts.values()) == {"shadow"}
            # the twin's books are what the real books would be: the order placed, paid and written off
            twin = shadow.shop.extras["twin"]
            assert twin.ledger.orders[shadowed["place_order"]["order_id"]].status == "lost"
            assert twin.ledger.balance("bank") == 500_000 - shadowed["place_order"]["total_cents"]
            walked = write_tools(shadow)
        with live_side(tmp_path, fake, shadow=False) as real:
            done = session(real)
            assert real.machine.prices["A1"] == 160 and real.procurement.orders  # the real calls were made
            assert write_tools(real) == walked
    assert set(shadowed) == walked == set(done), "a WRITE tool of the live toolbox this test does not call"
    for tool in sorted(walked):
        assert shape(shadowed[tool]) == shape(done[tool]), tool
        assert shadowed[tool] != done[tool] or tool == "set_price", tool  # answered by the twin, not copied


def test_the_guardrails_judge_shadow_writes_with_the_twins_own_spend_and_quotes(tmp_path: Path) -> None:
    with fake_slack() as fake, live_side(tmp_path, fake, shadow=True) as shadow:
        box = shadow.shop.toolbox
        below_cost = box.call("set_price", {"slot": "A1", "price_cents": 30})
        assert not below_cost.ok and below_cost.verdict == "refused:price_floor"
        huge = shadow.call("request_quote", {"supplier": "acme", "items": {"cola": 10_000}}).value
        refused = box.call("place_order", {"quote_id": huge["quote_id"]})  # the twin's quote, judged by its total
        assert not refused.ok and refused.verdict == "refused:order_cap"
        verdicts = []
        for _ in range(4):  # 300,000c each: the fourth would pass the daily cap the twin's own orders count toward
            quote = shadow.call("request_quote", {"supplier": "acme", "items": {"cola": 5_000}}).value
            verdicts.append(box.call("place_order", {"quote_id": quote["quote_id"]}).verdict)
        assert verdicts == ["shadow", "shadow", "shadow", "refused:daily_spend_cap"]
        made_up = box.call("place_order", {"quote_id": "made-up"})
        assert not made_up.ok and made_up.verdict == "shadow"  # the twin knows only the quotes it gave
        assert shadow.procurement.orders == [] and shadow.machine.prices["A1"] == 150


class DayClock(FixedClock):
    def at(self, day: int, hour: int) -> None:
        self.t = NOW.replace(hour=hour) + timedelta(days=day)


def test_the_baseline_lives_a_week_in_shadow_without_a_crash_or_a_shadow_error(tmp_path: Path) -> None:
    """Seven shop days of the baseline in shadow: customers buy, the shopkeeper's session opens each day
    and the close books it; no session crashes, no WRITE fails on the twin's answers, and every WRITE the
    baseline would have made is in the audit log as a shadow call."""
    clock = DayClock()
    with fake_slack() as fake, live_side(tmp_path, fake, shadow=True, clock=clock, policy="baseline",
                                          storage=6) as shadow:
        runtime = shadow.shop.runtime
        machine = shadow.machine
        sold = 0
        for day in range(7):
            clock.at(day, 8)
            runtime.open_day(at=clock.t)
            for hour in range(9, 18):  # the customers of the day empty the slots little by little
                clock.at(day, hour)
                for slot in ("A1", "C1"):
                    if machine.counts[slot] and (hour + day) % 2 == 0:
                        machine.counts[slot] -= 1
                        sold += 1
                        shadow.world(ev.Sale(id=f"sale-{day}-{hour}-{slot}", ts=clock.t, machine="m1", slot=slot,
                                             sku=str(machine.skus[slot]), units=1,
                                             unit_price_cents=machine.prices[slot], payment="card"))
            clock.at(day, 20)
            runtime.close_day(at=clock.t)
        assert runtime.outcome.crashes == []
        assert runtime.outcome.days_run == 7 and sold > 0
        shadow.shop.store.flush()
        writes = shadow.shop.store.rows("audit_log", kind="write")
        assert writes and {r["verdict"] for r in writes} <= {"shadow", "refused:price_floor", "refused:price_ceiling"}
        failed = [(r["tool"], r["result_json"]) for r in writes if r["verdict"] == "shadow" and not r["ok"]]
        assert failed == []
        tools = {r["tool"] for r in writes if r["verdict"] == "shadow"}
        assert {"request_quote", "place_order", "restock"} <= tools, tools
        orders = [r for r in writes if r["tool"] == "place_order"]
        assert len(shadow.shop.extras["twin"].ledger.open_orders()) == len(orders)  # the twin's books have them
        assert shadow.shop.ledger.open_orders() == []  # the real books do not
        # every shadow WRITE is in the shadow report, on its shop day (restocks there are per slot)
        report = shadow_report(shadow.shop.store)
        assert [d["day"] for d in report["days"]] == [(NOW + timedelta(days=n)).date().isoformat() for n in range(7)]
        listed: dict[str, int] = {}
        for d in report["days"]:
            for kind, got in d["kinds"].items():
                listed[kind] = listed.get(kind, 0) + len(got["agent_only"]) + len(got["agreed"])
        expected: dict[str, int] = {}
        for r in writes:
            if r["verdict"] == "shadow":
                n = len(json.loads(r["args_json"])["slots"]) if r["tool"] == "restock" else 1
                expected[r["tool"]] = expected.get(r["tool"], 0) + n
        assert listed == expected
        assert [m for m in fake.history(OPS_CH) if m.get("user") == fake.bot_user_id] == []
        assert shadow.procurement.orders == [] and machine.prices == FakeMachine().prices


def test_the_walk_covers_every_write_of_the_toolbox_vend_live_builds(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools the shape test walks are those of `vend live --shadow`'s own toolbox (Slack wired)."""
    monkeypatch.setenv("TW_MQTT_PW", "unused")
    monkeypatch.setenv("TW_SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("TW_SLACK_SIGNING", "secret")
    with fake_slack() as fake:
        config = LiveConfig.model_validate({
            "bridge": {"db": f"sqlite:///{tmp_path / 'live.db'}"}, "scheduler": {"enabled": False},
            "mqtt": {"password_env": "TW_MQTT_PW"}, "machines": [{"id": "m1", "planogram": {"A1": "cola"}}],
            "slack": {"ops_channel": OPS_CH, "shop_channel": SHOP_CH, "ops_usergroup": "S0OPSGRP01",
                      "bot_token_env": "TW_SLACK_BOT", "signing_secret_env": "TW_SLACK_SIGNING",
                      "base_url": fake.api_url}})
        live = build_live(config, start=False, shadow=True)
        try:
            assert live.toolbox is not None and live.twin is not None
            box = live.toolbox
            built = {n for n, s in box.specs.items() if s.kind is Kind.WRITE and n not in box.shadow_exempt}
        finally:
            live.close()
        with live_side(tmp_path, fake, shadow=True) as side:
            assert write_tools(side) == built


def test_what_the_twins_world_tells_reaches_the_shopkeeper_and_the_twin_never_the_real_books(
        tmp_path: Path) -> None:
    with fake_slack() as fake, live_side(tmp_path, fake, shadow=True) as shadow:
        twin = shadow.shop.extras["twin"]
        answer = ev.QuoteReceived(id="shadow-quote-00009:quoted", ts=NOW, quote_id="shadow-quote-00009",
                                  supplier="acme", lines=(QuoteLine(sku="cola", quantity=12, unit_cost_cents=58),),
                                  lead_time_days=2, valid_until=NOW + timedelta(days=7))
        twin.tell(answer)
        twin.deliver()
        inbox = shadow.call("read_inbox", {}).value["items"]
        assert [n["quote"]["quote_id"] for n in inbox if "quote" in n] == ["shadow-quote-00009"]
        assert twin.tools.quote("shadow-quote-00009") is not None  # the twin's tools follow what the shop hears
        assert not shadow.shop.store.seen(answer.id)  # the real books never recorded it
        assert twin.store.seen(answer.id)  # the twin's books did


def test_a_call_the_live_side_refuses_is_refused_by_the_twin_too(tmp_path: Path) -> None:
    bad = [("restock", {"slots": [{"slot": "A1", "sku": "cola", "count": 1}, {"slot": "A1", "sku": "cola", "count": 2}]}),
           ("restock", {"slots": [{"slot": "A1", "sku": "cola", "count": 0}]}),
           ("restock", {"slots": []}),
           ("place_order", {"quote_id": "never-quoted"}),
           ("write_off_order", {"order_id": "o0", "reason": "nothing owed on it"})]
    outcomes = {}
    with fake_slack() as fake:
        for shadow in (True, False):
            with live_side(tmp_path, fake, shadow=shadow) as side:
                outcomes[shadow] = [side.shop.toolbox.call(tool, args).ok for tool, args in bad]
    assert outcomes[True] == outcomes[False] == [False] * len(bad)


def test_a_twin_supplier_answers_as_the_procurement_port_says_later_by_event(tmp_path: Path) -> None:
    """The receipt first (status "requested"), the answer after the call in the inbox, a counter-offer
    answered as a new quote naming the old; orderable then, and only in the twin's books."""
    with fake_slack() as fake, live_side(tmp_path, fake, shadow=True) as shadow:
        twin = shadow.shop.extras["twin"]
        asked = shadow.call("request_quote", {"supplier": "acme", "items": {"cola": 12}}).value
        assert asked["status"] == "requested" and asked["counter_of"] == ""
        assert twin.tools.quote_book.status(asked["quote_id"], NOW) == "quoted"  # answered once the call was done
        (quote,) = [n["quote"] for n in shadow.call("read_inbox", {}).value["items"] if "quote" in n]
        assert quote["quote_id"] == asked["quote_id"] and quote["lines"][0]["unit_cost_cents"] == 60  # last paid
        counter = shadow.call("counter_offer", {"quote_id": quote["quote_id"], "unit_costs_cents": {"cola": 50}}).value
        assert counter["counter_of"] == quote["quote_id"] and counter["quote_id"] != quote["quote_id"]
        (better,) = [n["quote"] for n in shadow.call("read_inbox", {}).value["items"] if "quote" in n]
        assert better["counter_of"] == quote["quote_id"] and better["lines"][0]["unit_cost_cents"] == 55  # halfway
        order = shadow.call("place_order", {"quote_id": better["quote_id"]}).value
        assert order["status"] == "placed" and order["total_cents"] == 12 * 55
        assert [b.order_id for b in twin.ledger.open_orders()] == [order["order_id"]]
        assert shadow.shop.ledger.orders == {} and not shadow.shop.store.seen(f"{quote['quote_id']}:quoted")
