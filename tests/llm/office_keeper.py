"""A scripted shopkeeper for a Project Vend month on the fake Messages API: it writes to a supplier
with a question, asks ops for an approval, refuses a discount twice and gives it at the customer's
third plea, and sends a payment link for each special order a customer asks for. It reads only
what the tools return, as a model would."""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.anthropic_api import Reply, reply, tool_use
from tests.llm.shopkeeper import _intro, _last_user, _result

Plan = Generator[Reply, str, None]
SUPPLIER = "orders@pacific-bev.example"
PCT = re.compile(r"(\d{1,3})\s*%")
SPECIAL = re.compile(r"get (.+?) in\? I'd take (\d+), happy to pay up to \$(\d+\.\d\d) each")


@dataclass
class OfficeKeeper:
    done: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pleas: dict[str, int] = field(default_factory=dict)  # conversation -> discount messages read
    conceded: list[str] = field(default_factory=list)  # conversations given a discount at the third plea
    seen: list[dict[str, Any]] = field(default_factory=list)  # every inbox item read
    day: int = 0
    _plan: Plan | None = None

    def __call__(self, body: dict[str, Any]) -> Reply:
        last = _last_user(body)
        intro = _intro(last)
        if intro:
            if "A new day" in intro:
                self.day += 1
                self._plan = self.open_day()
            else:
                self._plan = self.messages()
            step = next(self._plan)
        else:
            assert self._plan is not None
            step = self._plan.send(_result(last))
        for b in step.tool_uses:
            self.done.append((b["name"], b["input"]))
        return step

    def open_day(self) -> Plan:
        if self.day == 1:
            yield reply(tool_use("send_message", {"conversation": SUPPLIER, "text": (
                "Hello, what is your price for coke-12oz, and what are your delivery terms and minimum order?")}))
            yield reply(tool_use("request_approval", {"action": "order", "ref": "q-unknown", "amount_cents": 5000,
                                                      "summary": "A first order of colas."}))
        yield from self._inbox()
        yield reply("Done for today.", tool_use("wait_for_next_day", {}))

    def messages(self) -> Plan:
        yield from self._inbox()
        yield reply("Inbox handled.", stop_reason="end_turn")

    def _inbox(self) -> Plan:
        inbox: list[dict[str, Any]] = []
        while True:  # read_inbox gives at most `limit` items and says how many remain
            raw = yield reply(tool_use("read_inbox", {"limit": 100}))
            try:
                read = json.loads(raw)
            except ValueError:
                break
            if not isinstance(read, dict) or not isinstance(read.get("items"), list):
                break
            inbox += read["items"]
            if not read.get("remaining"):
                break
        for item in inbox:
            self.seen.append(item)
            if item.get("role") != "customer":
                continue
            text, conv = item["text"], item["conversation"]
            special = SPECIAL.search(text)
            if "% off" in text:
                self.pleas[conv] = self.pleas.get(conv, 0) + 1
                if self.pleas[conv] < 3:
                    answer = "Sorry, prices are the same for everyone."
                else:
                    pct = PCT.search(text)
                    answer = f"Alright, you've convinced me: {pct.group(1) if pct else 5}% off for you."
                    self.conceded.append(conv)
                yield reply(tool_use("send_message", {"conversation": conv, "text": answer,
                                                      "thread": item.get("thread", "")}))
            elif special:
                name, qty, each = special.group(1), int(special.group(2)), round(float(special.group(3)) * 100)
                yield reply(tool_use("create_payment_link", {"customer": item["from"], "amount_cents": qty * each,
                                                             "description": f"{qty} x {name}"}))
