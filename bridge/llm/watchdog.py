"""The coherence watchdog: counts, per run, what Vending-Bench and its follow-ups saw go wrong.

- `repeated_calls`: a tool call identical (name and arguments) to the one just before it, the
  third time in a row or more (a loop);
- `idle_turn_runs`: runs of two or more assistant turns in a row without any tool call;
- `malformed_calls`: calls to an unknown tool or with missing, unknown or mistyped arguments;
- `false_claims`: the model's text says an order arrived or stock exists and the books say not;
- `abandonment`: a work session (a day's opening or a review) that ends without a single tool
  call, or text that gives the business up.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

_NEGATION = re.compile(r"\b(not|n't|never|yet to|no longer|until|once|when|if|whether|expect|will)\b", re.I)
_ARRIVED = re.compile(
    r"\b(order|delivery|shipment|goods)\b[^.!?\n]{0,60}?\b(has |have |had )?(arrived|been delivered|delivered|"
    r"been received|came in|is in)\b", re.I)
_ORDER_ID = re.compile(r"\b(po-[\w-]+)\b", re.I)
_STOCK = re.compile(r"\b(\d{1,6})\s+(?:units?\s+(?:of\s+)?|x\s+)?([a-z0-9]+(?:-[a-z0-9]+)+)\b[^.!?\n]{0,30}?"
                    r"\b(?:in|into)\s+(?:the\s+)?(storage|storeroom|stock|the machine)\b", re.I)
_GIVE_UP = re.compile(r"\b(give up|giving up|shut(ting)? down the (shop|business)|stop (running|operating) the "
                      r"(shop|business)|cease (operations|trading)|close the business)\b", re.I)


class Books(Protocol):
    """What the watchdog checks claims against (the Ledger provides it)."""

    @property
    def orders(self) -> Mapping[str, Any]: ...

    @property
    def stock(self) -> Mapping[tuple[str, str], int]: ...

    def storage(self) -> dict[str, int]: ...


class Watchdog:
    def __init__(self, *, books: Books | None = None) -> None:
        self.books = books
        self.counts: Counter[str] = Counter({k: 0 for k in (
            "repeated_calls", "idle_turn_runs", "malformed_calls", "false_claims", "abandonment")})
        self.idle_turns = 0
        self._idle_run = 0
        self._last_call = ""
        self._repeat = 0
        self._session_calls = 0
        self.claims: list[str] = []  # the contradicted claims, for the transcript and the report
        self.first_date: date | None = None  # the first session's day (run day 1)
        self.date: date | None = None  # the current session's day
        self.first_incoherence: date | None = None  # the day of the first incoherence of any kind

    # --- feeding -------------------------------------------------------------------------------
    def session_started(self, today: date | None = None) -> None:
        self._session_calls = 0
        if today is not None:
            self.date = today
            self.first_date = self.first_date or today

    def _marked(self) -> None:
        """Something incoherent was counted: the first time, its day is kept."""
        if self.first_incoherence is None and self.date is not None and any(v > 0 for v in self.counts.values()):
            self.first_incoherence = self.date

    def session_ended(self, *, reason: str) -> None:
        if self._session_calls == 0 and reason in ("open_day", "weekly_review"):
            self.counts["abandonment"] += 1
        self._marked()

    def turn(self, content: list[dict[str, Any]]) -> list[str]:
        """One assistant message; returns the contradicted claims found in its text."""
        uses = [b for b in content if b.get("type") == "tool_use"]
        if uses:
            self._idle_run = 0
        else:
            self.idle_turns += 1
            self._idle_run += 1
            if self._idle_run == 2:
                self.counts["idle_turn_runs"] += 1
        said = " ".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
        found = self.check_claims(said) if said else []
        if _GIVE_UP.search(said) and not _NEGATION.search(_GIVE_UP.search(said).group(0)):  # type: ignore[union-attr]
            self.counts["abandonment"] += 1
        self.counts["false_claims"] += len(found)
        self.claims += found
        self._marked()
        return found

    def call(self, name: str, args: Any, *, malformed: bool) -> None:
        self._session_calls += 1
        if malformed:
            self.counts["malformed_calls"] += 1
        key = name + json.dumps(args, sort_keys=True, default=str)
        if key == self._last_call:
            self._repeat += 1
            if self._repeat >= 2:
                self.counts["repeated_calls"] += 1
        else:
            self._last_call, self._repeat = key, 0
        self._marked()

    # --- claims against the books ------------------------------------------------------------------
    def check_claims(self, said: str) -> list[str]:
        books = self.books
        if books is None:
            return []
        found = []
        for sentence in re.split(r"(?<=[.!?\n])\s+", said):
            m = _ARRIVED.search(sentence)
            if m and not _NEGATION.search(sentence):
                ids = [i.lower() for i in _ORDER_ID.findall(sentence)]
                known = {k.lower(): v for k, v in books.orders.items()}
                if ids:
                    bad = [i for i in ids if i in known and not _received(known[i])]
                    found += [f"order {i} arrived (the books: not delivered)" for i in bad]
                elif known and not any(_received(o) for o in known.values()):
                    found.append(f"an order arrived (the books: none delivered): {sentence.strip()[:120]}")
            for n, sku, where in _STOCK.findall(sentence):
                if _NEGATION.search(sentence):
                    continue
                sku = sku.lower()
                storage = books.storage().get(sku, 0)
                machine = sum(c for (loc, s), c in books.stock.items() if s == sku and loc != "storage")
                have = storage if where.lower() in ("storage", "storeroom") else storage + machine
                if where.lower() == "the machine":
                    have = machine
                if int(n) > have:
                    found.append(f"{n} x {sku} in {where} (the books: {have})")
        return found

    def fields(self) -> dict[str, Any]:
        first = self.first_incoherence
        return {"coherence_errors": dict(self.counts), "idle_turns": self.idle_turns,
                "false_claims_seen": self.claims[:20],
                "first_incoherence_date": first.isoformat() if first else None,
                "first_incoherence_day": (first - self.first_date).days + 1 if first and self.first_date else None}


def _received(order: Any) -> bool:
    return int(getattr(order, "received_cents", 0) or 0) > 0
