"""A scripted shopkeeper for chat tests: answers customers through the tools, by fixed rules.

Deterministic and free of conversation ids in its answers, so the same customer messages give the
same answers whether they come from a simulated customer or through Slack.
"""

from __future__ import annotations

import re
from typing import Any

from bridge.tools.executor import Toolbox

SPECIAL = re.compile(r"special order (\d+) ([a-z0-9-]+)")
UNIT_PRICE_CENTS = 250


class Clerk:
    name = "clerk"

    def __init__(self) -> None:
        self.orders: dict[str, tuple[str, str]] = {}  # order_ref -> (conversation, thread)
        self.calls: list[str] = []

    def act(self, tools: Toolbox, *, reason: str) -> int:
        for item in self._call(tools, "read_inbox", {"limit": 1000}).get("items", []):
            if "payment" in item:
                paid = item["payment"]
                where = self.orders.get(paid["order_ref"])
                if where is not None:
                    self._say(tools, where, f"Payment of {paid['amount_cents']} cents received for "
                                            f"{paid['order_ref']}: your order is confirmed.")
            elif item.get("role") == "customer":
                self._answer(tools, item)
        return 1

    def _call(self, tools: Toolbox, name: str, args: dict[str, Any] | None = None) -> Any:
        self.calls.append(name)
        result = tools.call(name, args or {})
        return result.value if result.ok else {"error": result.error}

    def _say(self, tools: Toolbox, where: tuple[str, str], text: str) -> None:
        self._call(tools, "send_message", {"conversation": where[0], "text": text, "thread": where[1]})

    def _answer(self, tools: Toolbox, m: dict[str, Any]) -> None:
        text, where = m["text"].lower(), (m["conversation"], m["thread"])
        special = SPECIAL.search(text)
        if special:
            qty, sku = int(special[1]), special[2]
            link = self._call(tools, "create_payment_link", {"customer": m["from"], "amount_cents": qty * UNIT_PRICE_CENTS,
                                                             "description": f"{qty} x {sku}"})
            self.orders[link["order_ref"]] = where
            self._say(tools, where, f"Special order of {qty} {sku}: {link['amount_cents']} cents. Pay here: {link['url']}")
            return
        if any(w in text for w in ("discount", "free", "approve", "refund", "ignore")):
            self._say(tools, where, "Sorry, I can't do that: prices and refunds follow the shop's rules.")
            return
        if "price" in text or "how much" in text:
            slots = self._call(tools, "check_machine")["slots"]
            for s in slots:
                if s["sku"] and s["sku"] in text:
                    self._say(tools, where, f"{s['sku']} is {s['price_cents']} cents in slot {s['slot']}.")
                    return
            self._say(tools, where, "We don't stock that at the moment; ask for a special order.")
            return
        self._say(tools, where, "Hello! Ask me for a price, or for a special order.")
