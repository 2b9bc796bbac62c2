"""A scripted shopkeeper for the fake Messages API: a responder that reads each request the policy
sends (the intro of a session, the results of its last calls) and answers with the next tool call
of a fixed plan, so a whole simulated month runs through the real SDK, the real tools and
guardrails, and the test can compare the books with what the script did."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.anthropic_api import Reply, reply, tool_use

Plan = Generator[Reply, str, None]
SKU, SLOT, SUPPLIER, PRICE = "coke-12oz", "A1", "pacific-bev", 175


def _last_user(body: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in reversed(body["messages"]) if m["role"] == "user")


def _intro(message: dict[str, Any]) -> str:
    content = message["content"]
    texts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"] \
        if isinstance(content, list) else [content]
    return next((t for t in reversed(texts) if t.startswith("It is ")), "")


def _result(message: dict[str, Any]) -> str:
    results = [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    return str(results[-1]["content"]) if results else ""


@dataclass
class ScriptedShopkeeper:
    """Buys colas, loads them, reorders, collects cash, reviews weekly; says one wrong thing on day 2
    (that the order arrived before it did) so the watchdog has something to count."""

    done: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every call it made
    sessions: list[str] = field(default_factory=list)
    day: int = 0
    asked: str = ""  # the quote asked for and not yet answered (ordered when it arrives in the inbox)
    _plan: Plan | None = None

    def __call__(self, body: dict[str, Any]) -> Reply:
        last = _last_user(body)
        intro = _intro(last)
        if intro:  # only a session's first user message carries the intro
            reason = ("open_day" if "A new day" in intro else "weekly_review" if "Weekly review" in intro
                      else "messages")
            self.sessions.append(reason)
            if reason == "open_day":
                self.day += 1
            self._plan = {"open_day": self.open_day, "weekly_review": self.review,
                          "messages": self.messages}[reason]()
            step = next(self._plan)
        else:
            assert self._plan is not None
            step = self._plan.send(_result(last))
        for b in step.tool_uses:
            self.done.append((b["name"], b["input"]))
        return step

    def open_day(self) -> Plan:
        storage = json.loads((yield reply(tool_use("check_storage", {}))))
        machine = json.loads((yield reply(tool_use("check_machine", {}))))
        slot = next(s for s in machine["slots"] if s["slot"] == SLOT)
        if self.day == 2:
            yield reply("Good news: the order has arrived.", tool_use("list_orders", {}))
        if storage.get(SKU, 0) >= 5 and slot["count"] < 8:
            yield reply(tool_use("restock", {"slots": [{"slot": SLOT, "sku": SKU, "count": 15 - slot["count"],
                                                        "price_cents": PRICE}]}))
        orders = json.loads((yield reply(tool_use("list_orders", {}))))["items"]
        if not orders and not self.asked and storage.get(SKU, 0) < 90:
            quote = json.loads((yield reply(tool_use("request_quote", {"supplier": SUPPLIER, "items": {SKU: 100}}))))
            self.asked = quote["quote_id"]  # answered later, in the inbox
        if self.day % 7 == 3:
            yield reply(tool_use("collect_cash", {}))
        yield reply(f"Day {self.day} done.", tool_use("wait_for_next_day", {}))

    def review(self) -> Plan:
        yield reply(tool_use("sales_report", {"days": 7}))
        yield reply(tool_use("set_memory", {"key": "last_review_day", "value": str(self.day)}))
        yield reply("Week reviewed.", stop_reason="end_turn")

    def messages(self) -> Plan:
        inbox = json.loads((yield reply(tool_use("read_inbox", {}))))["items"]
        for item in inbox:
            if "quote" in item and item["quote"]["quote_id"] == self.asked:
                yield reply("The quote is in. Ordering.", tool_use("place_order", {"quote_id": self.asked}))
                yield reply(tool_use("add_note", {"text": f"day {self.day}: ordered 100 {SKU} from {SUPPLIER}",
                                                  "tags": "order cola"}))
                self.asked = ""
        yield reply("Inbox handled.", stop_reason="end_turn")
