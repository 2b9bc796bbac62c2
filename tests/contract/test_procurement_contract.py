"""One contract for the Procurement port, run through the shop's tools over the simulator's
SimProcurement and the live SlackProcurement (ops on the loopback Slack fake, every click and modal a
signed request): a quote request returns its id, the supplier's answer arrives later in the inbox,
and an order goes placed -> paid -> delivered (told in the inbox as a finished task), with the money
booked at the same step. What a
policy sees has the same shape and the same states on both sides; only who answers differs.

Each harness gives the shop's Toolbox and ledger plus what the outside world does: the supplier
answers (sim: the supplier engine, after its e-mail delay; live: an ops member enters the answer),
the supplier is paid (sim: it charged at once; live: ops confirm "Bought"), the goods arrive (sim:
on their date; live: ops confirm what came).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from bridge import events as ev
from bridge.guardrails import GuardrailPolicy, Guardrails
from bridge.ledger import BANK, INVENTORY, PREPAID, Ledger
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.slack.rig import NOW, OLGA, Rig, make_rig

RECEIPT_KEYS = {"quote_id", "supplier", "status", "counter_of", "expected_by"}
QUOTE_KEYS = {"quote_id", "supplier", "status", "counter_of", "lead_time_days", "valid_until", "total_cents",
              "text", "lines"}
ORDER_KEYS = {"order_id", "quote_id", "supplier", "status", "total_cents", "expected"}
BOOK_KEYS = {"order_id", "supplier", "status", "total_cents", "received_cents", "expected", "placed"}


class Harness(Protocol):
    toolbox: Toolbox
    ledger: Ledger
    supplier: str
    items: dict[str, int]

    def answer(self, quote_id: str) -> None:
        """The supplier answers the quote (it reaches the shop's books and tools)."""
        ...

    def pay(self, order_id: str, amount_cents: int) -> None:
        """The supplier is paid for the order."""
        ...

    def deliver(self, order_id: str, expected: str) -> None:
        """Everything ordered arrives."""
        ...


class SimHarness:
    supplier = "quickmart"
    items = {"coke-12oz": 30, "lays-classic-1oz": 20}

    def __init__(self, tmp_path: Path) -> None:
        scenario = load_scenario("vb1", days=30)
        catalogue = load_catalogue(None)
        self.world = SimWorld(scenario=scenario, catalogue=catalogue, seed=4)
        backend = sim_backend(self.world)
        self.store = Store(url=f"sqlite:///{tmp_path / 'sim.db'}", fresh=True)
        self.ledger = Ledger(shop=self.world.shop, store=self.store, tz=scenario.tz)
        self.tools = ShopTools(backend=backend, ledger=self.ledger, tz=scenario.tz,
                               products={k: v.product for k, v in catalogue.items()})
        self.toolbox = Toolbox(tools=self.tools, guardrails=Guardrails(GuardrailPolicy()), clock=backend.clock,
                               store=self.store, shop=self.world.shop, run_id="contract", after_call=self.ingest)
        self.world.advance_to(self.world.at(0, 9))
        self.ingest()

    def ingest(self) -> None:
        for event in self.world.drain():
            if self.ledger.record(event):
                self.tools.observe(event)

    def _until(self, when: str) -> None:
        self.world.advance_to(datetime.fromisoformat(when))
        self.ingest()

    def answer(self, quote_id: str) -> None:
        receipt = self.tools.quote_book.asked[quote_id]
        self._until(receipt.expected_by.isoformat())

    def pay(self, order_id: str, amount_cents: int) -> None:
        return None  # the supplier charged the bank when the order was placed

    def deliver(self, order_id: str, expected: str) -> None:
        self._until(expected)


class LiveHarness:
    supplier = "acme"
    items = {"cola": 100, "chips": 50}
    costs = {"cola": "0.70", "chips": "1.10"}

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.toolbox = rig.toolbox
        self.ledger = rig.ledger
        rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=100_000))

    def _posted(self, value: str) -> dict[str, Any]:
        """The ops-channel message whose button carries `value` (a quote or a purchase task)."""
        for m in reversed(self.rig.ops_messages()):
            for b in m.get("blocks", []):
                if b["type"] == "actions" and b["elements"][0].get("value") == value:
                    return m
        raise AssertionError(f"no ops message for {value}")

    def answer(self, quote_id: str) -> None:
        rig = self.rig
        rig.click(OLGA, "quote_enter", quote_id, message_ts=self._posted(quote_id)["ts"])
        values = {f"cost:{sku}": {"cost": {"type": "number_input", "value": cost}} for sku, cost in self.costs.items()}
        values["lead"] = {"days": {"type": "number_input", "value": "2"}}
        values["note"] = {"note": {"type": "plain_text_input", "value": ""}}
        assert rig.submit(OLGA, rig.last_modal(), values).status == 200
        rig.ingest()

    def pay(self, order_id: str, amount_cents: int) -> None:
        rig = self.rig
        rig.click(OLGA, "purchase_paid", order_id, message_ts=self._posted(order_id)["ts"])
        amount = {"amount": {"amount": {"type": "number_input", "value": f"{amount_cents / 100:.2f}"}}}
        assert rig.submit(OLGA, rig.last_modal(), amount).status == 200
        rig.ingest()

    def deliver(self, order_id: str, expected: str) -> None:
        rig = self.rig
        rig.click(OLGA, "purchase_delivered", order_id, message_ts=self._posted(order_id)["ts"])
        counts = {f"sku:{sku}": {"count": {"type": "number_input", "value": str(n)}} for sku, n in self.items.items()}
        assert rig.submit(OLGA, rig.last_modal(), counts).status == 200
        rig.ingest()


@pytest.fixture(params=["sim", "live"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sim":
        sim = SimHarness(tmp_path)
        try:
            yield sim
        finally:
            sim.store.engine.dispose()
        return
    with make_rig(tmp_path, live_procurement=True) as rig:
        yield LiveHarness(rig)
        assert rig.fake.violations == []


def test_a_quote_is_answered_later_then_ordered_paid_and_delivered(harness: Harness) -> None:
    tb, led = harness.toolbox, harness.ledger

    def call(name: str, **args: Any) -> Any:
        result = tb.call(name, args)
        assert result.ok, (name, result.error)
        return result.value["items"] if isinstance(result.value, dict) and "items" in result.value else result.value

    asked = call("request_quote", supplier=harness.supplier, items=harness.items)
    assert set(asked) == RECEIPT_KEYS and asked["status"] == "requested" and asked["supplier"] == harness.supplier
    qid = asked["quote_id"]
    assert [q["quote_id"] for q in call("list_quotes", status="requested")] == [qid]
    early = tb.call("place_order", {"quote_id": qid})
    assert not early.ok and led.orders == {}  # not orderable before the supplier has answered
    assert [n for n in call("read_inbox") if "quote" in n] == []

    harness.answer(qid)
    quotes = [n["quote"] for n in call("read_inbox") if "quote" in n]
    assert len(quotes) == 1 and set(quotes[0]) == QUOTE_KEYS
    quote = quotes[0]
    assert quote["quote_id"] == qid and quote["status"] == "quoted" and quote["supplier"] == harness.supplier
    assert {ln["sku"]: ln["quantity"] for ln in quote["lines"]} == harness.items
    assert quote["total_cents"] == sum(ln["quantity"] * ln["unit_cost_cents"] for ln in quote["lines"]) > 0
    assert call("list_quotes", status="open") == [quote] and call("list_quotes", status="requested") == []

    bank = led.balance(BANK)
    order = call("place_order", quote_id=qid)
    assert set(order) == ORDER_KEYS and order["status"] == "placed" and order["quote_id"] == qid
    oid, total = order["order_id"], order["total_cents"]
    assert total == quote["total_cents"]
    assert [q["status"] for q in call("list_quotes", status="all")] == ["ordered"]

    harness.pay(oid, total)
    books = call("list_orders", status="open")
    assert [set(b) for b in books] == [BOOK_KEYS]
    assert [(b["order_id"], b["status"], b["received_cents"]) for b in books] == [(oid, "paid", 0)]
    assert led.balance(BANK) == bank - total and led.balance(PREPAID) == total and led.storage() == {}

    harness.deliver(oid, order["expected"])
    done = [n["task"] for n in call("read_inbox") if "task" in n]
    assert [(t["task_id"], t["ok"]) for t in done] == [(oid, True)]  # the inbox says the order came whole
    assert call("list_orders", status="open") == []
    books = call("list_orders", status="all")
    assert [(b["order_id"], b["status"], b["received_cents"]) for b in books] == [(oid, "delivered", total)]
    assert led.storage() == harness.items
    assert led.balance(PREPAID) == 0 and led.balance(INVENTORY) == total  # (sim: days of fees left the bank)


def test_a_counter_offer_is_answered_later_as_a_new_quote(harness: Harness) -> None:
    tb = harness.toolbox
    qid = tb.call("request_quote", {"supplier": harness.supplier, "items": harness.items}).value["quote_id"]
    harness.answer(qid)
    first = next(n["quote"] for n in tb.call("read_inbox").value["items"] if "quote" in n)
    offer = {ln["sku"]: max(1, ln["unit_cost_cents"] // 2) for ln in first["lines"]}
    asked = tb.call("counter_offer", {"quote_id": qid, "unit_costs_cents": offer})
    assert asked.ok and set(asked.value) == RECEIPT_KEYS
    assert asked.value["status"] == "requested" and asked.value["counter_of"] == qid and asked.value["quote_id"] != qid
    harness.answer(asked.value["quote_id"])
    answer = next(n["quote"] for n in tb.call("read_inbox").value["items"] if "quote" in n)
    assert set(answer) == QUOTE_KEYS and answer["quote_id"] == asked.value["quote_id"] and answer["counter_of"] == qid
    assert {ln["sku"]: ln["quantity"] for ln in answer["lines"]} == harness.items
