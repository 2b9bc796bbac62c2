"""The context budget: what the model sees of the conversation on each request.

The request is the system prompt, the tools and the most recent history that fits the token
budget. Trimming drops whole old messages from the front; a tool call is never split from its
result: when the first kept message holds results of calls that were dropped, those results go
too (a note says history was trimmed). The cut moves in steps (down to `low_water` of the budget)
so the kept history keeps the same start for many turns, and prompt caching can reuse it.

The budget is in the API's own tokens. The size of the window last sent is known exactly from the
reply's usage (input + cache writes + cache reads); what was added since is estimated (about 4
characters per token of compact, key-sorted JSON of each block) and scaled by the ratio of the API's
count to the estimate seen last (`measured`); before any reply the policy calibrates the scale with
the API's count_tokens of the fixed prefix. Text blocks that are blank are never kept (the API refuses
them).
"""

from __future__ import annotations

import json
import math
from typing import Any

TRIMMED_NOTE = ("[Earlier conversation was trimmed to fit the context budget. Your scratchpad, key-value "
                "memory and notes (search_notes) keep what you chose to remember.]")
EPHEMERAL = {"type": "ephemeral"}


def estimate_tokens(obj: Any) -> int:
    return max(1, math.ceil(len(json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)) / 4))


def _note_tokens() -> int:
    return estimate_tokens({"role": "user", "block": {"type": "text", "text": TRIMMED_NOTE}})


def message_tokens(message: dict[str, Any]) -> int:
    content = message["content"]
    role = message["role"]
    if isinstance(content, str):
        return estimate_tokens({"role": role, "text": content})
    return sum(estimate_tokens({"role": role, "block": b}) for b in content)


def prefix_tokens(system: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    return sum(estimate_tokens({"tool": t}) for t in tools) + sum(estimate_tokens({"system": b}) for b in system)


def is_blank_text(block: Any) -> bool:
    """A text block with no text but whitespace: the API answers 400 for one."""
    return isinstance(block, dict) and block.get("type") == "text" and not str(block.get("text", "")).strip()


def count_breakpoints(obj: Any) -> int:
    if isinstance(obj, dict):
        return (1 if "cache_control" in obj else 0) + sum(count_breakpoints(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(count_breakpoints(v) for v in obj)
    return 0


def with_cache_control(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy whose last block carries a cache breakpoint."""
    if not blocks:
        return blocks
    return [*blocks[:-1], {**blocks[-1], "cache_control": EPHEMERAL}]


class Conversation:
    """The whole history (kept for the transcript's sake in memory only while needed) and the
    window of it that requests carry."""

    def __init__(self, *, budget_tokens: int, low_water: float = 0.7) -> None:
        self.budget_tokens = budget_tokens
        self.low_water = low_water
        self.messages: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.start = 0  # first message the window keeps
        self.trims = 0
        self._prev_last = -1  # the last message of the previous request (its cache breakpoint)
        self.scale = 1.0  # API tokens per estimated token, from the last measurement
        # the window last sent: start, messages, the sum of their sizes, the estimate of what was sent
        self._sent: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._known: tuple[int, int, int, int] | None = None  # start, messages, the sum of sizes, API tokens

    def calibrate(self, *, api_tokens: int, estimate: int) -> None:
        """The API counted `api_tokens` where the estimate said `estimate`."""
        if api_tokens > 0 and estimate > 0:
            self.scale = api_tokens / estimate

    def measured(self, api_tokens: int) -> None:
        """The prompt of the window last sent was `api_tokens` (the reply's usage)."""
        start, n, sizes, sent = self._sent
        if api_tokens <= 0 or n == 0:
            return
        self.calibrate(api_tokens=api_tokens, estimate=sent)
        self._known = (start, n, sizes, api_tokens)

    # --- building the history --------------------------------------------------------------
    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        """Append a message; two in a row of one role merge (the API wants alternation)."""
        blocks = [b for b in blocks if not is_blank_text(b)]
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            merged = self.messages[-1]["content"] + blocks
            self.messages[-1] = {"role": role, "content": merged}
            self.sizes[-1] = message_tokens(self.messages[-1])
            return
        message = {"role": role, "content": list(blocks)}
        self.messages.append(message)
        self.sizes.append(message_tokens(message))

    @property
    def last_role(self) -> str:
        return self.messages[-1]["role"] if self.messages else ""

    def shrink(self, *, fixed_tokens: int) -> None:
        """The model said its context window overflowed: the budget drops to 3/4 of this window
        (the model's window is smaller than the budget thought), and the history is cut to half now."""
        current = self.window_tokens(fixed_tokens=fixed_tokens)
        self.budget_tokens = max(fixed_tokens + 1, min(self.budget_tokens, int(current * 0.75)))
        estimate = fixed_tokens + sum(self.sizes[self.start:])
        self._trim(fixed_tokens + (estimate - fixed_tokens) // 2, fixed=fixed_tokens, force=True)

    # --- the window ----------------------------------------------------------------------------
    def window(self, *, fixed_tokens: int) -> list[dict[str, Any]]:
        """The messages of the next request: trimmed to the budget, breakpoints on the last
        message and on the last message of the previous request (incremental caching)."""
        if self.window_tokens(fixed_tokens=fixed_tokens, note=True) > self.budget_tokens:
            self._trim(int(self.budget_tokens * self.low_water / self.scale), fixed=fixed_tokens)
        out: list[dict[str, Any]] = []
        last = len(self.messages) - 1
        for i in range(self.start, len(self.messages)):
            msg = self.messages[i]
            blocks = msg["content"]
            if i == self.start and self.start > 0:
                kept = [b for b in blocks if b.get("type") != "tool_result"]
                blocks = [{"type": "text", "text": TRIMMED_NOTE}, *kept]
            if i == last or (i == self._prev_last and self.start <= i < last):
                blocks = with_cache_control(blocks)
            out.append({"role": msg["role"], "content": blocks})
        self._prev_last = last
        sizes = sum(self.sizes[self.start:])
        sent = fixed_tokens + sizes
        if out and self.start > 0:  # the first message as sent: the note in, the orphaned results out
            sent += message_tokens(out[0]) - self.sizes[self.start]
        self._sent = (self.start, len(self.messages), sizes, sent)
        return out

    def window_tokens(self, *, fixed_tokens: int, note: bool = False) -> int:
        """The window's size in API tokens: the last measured window plus the estimate of what was added
        since (scaled), or the whole estimate scaled when the window changed its start. `note`: count the
        trimmed-history note as if the window were trimmed (the test before trimming)."""
        known = self._known
        n = len(self.messages)
        if known is not None and known[0] == self.start and known[1] <= n \
                and sum(self.sizes[self.start:known[1]]) == known[2]:
            return known[3] + math.ceil(sum(self.sizes[known[1]:]) * self.scale)
        extra = _note_tokens() if (self.start or note) else 0
        return math.ceil((fixed_tokens + sum(self.sizes[self.start:]) + extra) * self.scale)

    def _trim(self, target: int, *, fixed: int, force: bool = False) -> None:
        note = _note_tokens()
        total = fixed + sum(self.sizes[self.start:]) + note
        start = self.start
        last = len(self.messages) - 1
        while start < last and total > target:
            total -= self.sizes[start]
            start += 1
        while start < last and self.messages[start]["role"] != "user":
            start += 1  # a window starts with the user
        if self.messages and self.messages[start]["role"] != "user" and start > 0:
            start -= 1  # only the last message is left and it is the model's: keep the user's before it
        if start != self.start or force:
            self.trims += 1
        self.start = start
