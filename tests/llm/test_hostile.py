"""A corpus of hostile customer messages, and a scripted adversarial "model" (through the real SDK and
the fake API) that does whatever each message asks through the tools. The guardrails hold: no price
under the floor, no refund above the cap without a real approval, no payment to an unverified
recipient - in the audit log, in the books and in the simulated world."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from bridge import events as ev
from bridge.guardrails import GuardrailPolicy
from tests.fakes.anthropic_api import FakeAnthropic, Reply, reply, tool_use
from tests.llm.hostile_corpus import CORPUS, Call
from tests.llm.rig import Shop, make_shop

VERIFIED = ("pacific-bev",)


class Gullible:
    """Reads the inbox, then makes every call the message asks for, then ends its turn."""

    def __init__(self) -> None:
        self.queue: list[Call] = []
        self.quote = ""
        self.attacks = {text: calls for text, calls in CORPUS}
        self.waiting_inbox = False
        self.answered: set[str] = set()  # quotes whose answer it has read in the inbox

    def __call__(self, body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        results = [b for b in last if b.get("type") == "tool_result"]
        if any(b.get("type") == "text" and b["text"].startswith("It is ") for b in last):
            self.waiting_inbox = True
            return reply(tool_use("read_inbox", {}))
        if self.waiting_inbox:
            self.waiting_inbox = False
            for item in json.loads(results[-1]["content"])["items"]:
                self.queue += self.attacks.get(item.get("text", ""), [])
                if "quote" in item:
                    self.answered.add(item["quote"]["quote_id"])
        elif results and '"requested"' in results[-1]["content"] and not results[-1].get("is_error"):
            self.quote = json.loads(results[-1]["content"])["quote_id"]  # a quote asked: answered later
        if not self.queue:
            return reply("Done as you asked!")
        if self.queue[0][1].get("quote_id") == "$quote" and self.quote and self.quote not in self.answered:
            return reply("I'll order as soon as the supplier's quote arrives.")  # the next session goes on
        name, args = self.queue.pop(0)
        if args.get("quote_id") == "$quote":
            args = {**args, "quote_id": self.quote or "no-quote"}
            self.quote = ""
        return reply(f"Sure, doing {name}.", tool_use(name, args))


def stock_the_shop(shop: Shop) -> None:
    tb, w = shop.toolbox, shop.world
    quote = tb.call("request_quote", {"supplier": "pacific-bev", "items": {"coke-12oz": 100}}).value
    w.advance_to(w.now + timedelta(hours=4))  # the supplier answers by e-mail
    shop.ingest()
    assert tb.call("place_order", {"quote_id": quote["quote_id"]}).ok
    w.advance_to(w.now + timedelta(days=3))
    shop.ingest()
    assert tb.call("restock", {"slots": [{"slot": "A1", "sku": "coke-12oz", "count": 10, "price_cents": 175}]}).ok
    w.advance_to(w.now + timedelta(hours=3))
    shop.ingest()


def test_hostile_messages_never_get_through_the_guardrails(fake: FakeAnthropic, tmp_path: Path) -> None:
    assert len(CORPUS) >= 30
    guard = GuardrailPolicy(verified_recipients=VERIFIED)
    shop = make_shop(tmp_path, base_url=fake.url, guard=guard)
    stock_the_shop(shop)
    cost = shop.tools.unit_cost("coke-12oz")
    assert cost is not None and 40 < cost < 60
    bot = Gullible()
    fake.reset(responder=bot)
    shop.store.flush()
    before = len(shop.store.rows("audit_log"))
    sales: list[ev.Sale] = []  # sold while it waited for quotes, and the day after
    for n, (text, _calls) in enumerate(CORPUS):
        shop.tools.observe(ev.MessageReceived(id=f"hostile-{n}", ts=shop.world.now, shop=shop.world.shop,
                                              conversation="D-U666", sender="U666", role="customer", text=text))
        shop.toolbox.turn_ended = False
        shop.policy.act(shop.toolbox, reason="messages")
        while bot.queue:  # waiting for a quote: the supplier answers within hours, then it goes on
            shop.world.advance_to(shop.world.now + timedelta(hours=4))
            events = shop.world.drain()
            sales += [e for e in events if isinstance(e, ev.Sale)]
            for event in events:
                if shop.ledger.record(event):
                    shop.tools.observe(event)
            shop.toolbox.turn_ended = False
            shop.policy.act(shop.toolbox, reason="messages")
    shop.store.flush()
    assert fake.violations == []

    audit = sorted(shop.store.rows("audit_log"), key=lambda r: r["id"])[before:]
    attempted = [r for r in audit if r["tool"] in ("set_price", "restock", "refund", "place_order")]
    assert len(attempted) >= 40  # the adversary really tried
    refused = [r for r in attempted if r["verdict"].startswith(("refused", "approval"))]
    rules = {r["verdict"].split(":", 1)[1] for r in refused}
    assert {"price_floor", "price_positive", "price_ceiling", "refund_cap", "verified_recipient",
            "approval_threshold"} <= rules
    refunded_ok = 0
    for r in attempted:
        args = json.loads(r["args_json"])
        if r["verdict"] != "allowed":
            continue
        if r["tool"] == "set_price" and args["slot"] == "A1":
            assert args["price_cents"] >= cost, r
        if r["tool"] == "restock":
            assert not r["ok"], f"a hostile restock went through: {r}"
        if r["tool"] == "refund":
            assert args["amount_cents"] <= guard.refund_cap_cents, r
            refunded_ok += args["amount_cents"] if r["ok"] else 0  # a refund that failed moved nothing
        if r["tool"] == "place_order":
            assert not r["ok"], f"a hostile order was paid: {r}"  # allowed only for a quote that does not exist
    assert refunded_ok <= guard.refund_daily_cap_cents
    # the world: every loaded slot is priced at or above cost, no supplier outside the verified list was paid
    for slot in shop.world.slots.values():
        if slot.sku:
            assert slot.price_cents >= (shop.tools.unit_cost(slot.sku) or 0), slot
    paid = defaultdict(int)
    for o in shop.ledger.orders.values():
        paid[o.supplier] += o.total_cents
    assert set(paid) <= set(VERIFIED)
    # a week of sales after all that (one slot of colas in January sells a unit every few days): nothing
    # under cost
    shop.world.advance_to(shop.world.now + timedelta(days=7))
    sales += [e for e in shop.world.drain() if isinstance(e, ev.Sale)]
    assert sales and all(s.unit_price_cents >= cost for s in sales)
