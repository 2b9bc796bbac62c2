"""The LLM shopkeeper: a Messages API tool loop over the shared tool layer, under its guardrails.

Each `act` is a work session (a day's opening, new messages, the weekly review): a user message
says when and why, then the model calls tools until it calls `wait_for_next_day` or ends its turn.
Every stop reason is handled: `tool_use` runs the calls; `end_turn` / `stop_sequence` end the
session; `pause_turn` asks again to let the model continue; `max_tokens` and
`model_context_window_exceeded` keep what is whole (an unfinished last tool call is dropped), say
so, and continue (the latter after trimming the context hard); `refusal` ends the session and the
refused turn is not kept. The model sees the system prompt, tools and a token-budgeted window of
the history (bridge.llm.context); the run stops at the message cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge.errors import RunStopped
from bridge.guardrails import GuardrailPolicy
from bridge.llm.adapter import LlmRejected, LlmUnavailable
from bridge.llm.context import EPHEMERAL, Conversation, prefix_tokens, with_cache_control
from bridge.llm.costs import CostMeter
from bridge.llm.prompt import system_prompt
from bridge.llm.settings import LlmSettings
from bridge.llm.transcript import Transcript
from bridge.llm.watchdog import Books, Watchdog
from bridge.ports import LLM, LlmRequest, LlmUsage
from bridge.tools.executor import Toolbox

CONTINUE_ON = ("max_tokens", "model_context_window_exceeded")
_INTROS = {
    "open_day": "A new day. Look at your inbox, the machine, storage, orders and money; do today's work; "
                "call wait_for_next_day when you are done.",
    "messages": "New messages or notices have arrived: read_inbox and deal with them; end your turn when done.",
    "weekly_review": "Weekly review: look at the week's sales, costs and your notes, adjust prices and plans, "
                     "write down what you learned; end your turn when done.",
}


class LlmPolicy:
    name = "llm"

    def __init__(self, *, llm: LLM, settings: LlmSettings, guard: GuardrailPolicy, shop: str, business: str = "",
                 books: Books | None = None, transcript: Transcript | None = None,
                 charge: Callable[[int, str], int] | None = None, max_messages: int | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.guard = guard
        self.shop = shop
        self.business = business
        self.transcript = transcript or Transcript(None)
        self.charge = charge
        self.max_messages = max_messages or settings.max_messages
        self.convo = Conversation(budget_tokens=settings.context_budget_tokens)
        self.cost = CostMeter(price=settings.price())
        self.watchdog = Watchdog(books=books)
        self.stop_reasons: Counter[str] = Counter()
        self.session_ends: Counter[str] = Counter()
        self.messages_used = 0
        self.sessions = 0
        self.api_errors = 0
        self.api_errors_in_a_row = 0
        self.peak_window_tokens = 0
        self.owed_cents = 0
        self.pending: list[dict[str, Any]] = []  # results of the call that ended the last session
        self._system: list[dict[str, Any]] = []
        self._tools: list[dict[str, Any]] = []
        self._fixed = 0

    # --- the session ---------------------------------------------------------------------------
    def act(self, tools: Toolbox, *, reason: str) -> int:
        if self.messages_used >= self.max_messages:
            return 0
        if not self._system:
            self._prepare(tools)
        self.sessions += 1
        now = tools.clock.now()
        notes = self._bill(reason)
        self.transcript.write({"type": "session", "session": self.sessions, "reason": reason, "ts": now})
        self.watchdog.session_started(now.date())
        self.convo.add("user", [*self.pending, _text(self._intro(now, reason, notes))])
        self.pending = []
        used, ended = 0, ""
        while not ended:
            if self.messages_used >= self.max_messages:
                ended = "message_cap"
            elif used >= self.settings.max_turns_per_session:
                ended = "turn_cap"
            else:
                ended = self._turn(tools)
                used += 1 if ended != "api_error" else 0
        self.session_ends[ended] += 1
        self.watchdog.session_ended(reason=reason)
        self.transcript.write({"type": "event", "event": "session_end", "detail": ended, "ts": tools.clock.now()})
        return used

    def _turn(self, tools: Toolbox) -> str:
        """One request and what follows from it; returns why the session ends, or "" to go on."""
        window = self.convo.window(fixed_tokens=self._fixed)
        window_tokens = self.convo.window_tokens(fixed_tokens=self._fixed)
        self.peak_window_tokens = max(self.peak_window_tokens, window_tokens)
        request = LlmRequest(system=self._system, messages=window, tools=self._tools,
                             max_tokens=self.settings.max_tokens, model=self.settings.model)
        try:
            reply = self.llm.complete(request)
        except (LlmUnavailable, LlmRejected) as err:
            self.api_errors += 1
            self.api_errors_in_a_row += 1
            self.transcript.write({"type": "event", "event": "api_error", "detail": str(err)})
            if self.api_errors_in_a_row >= self.settings.max_consecutive_api_errors:
                raise RunStopped("api_errors", f"the LLM API failed {self.api_errors_in_a_row} times in a row; "
                                               f"last: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
            return "api_error"
        self.api_errors_in_a_row = 0
        self.messages_used += 1
        self.cost.add(reply.usage)
        stop = reply.stop_reason
        self.stop_reasons[stop] += 1
        content = [b for b in reply.content if isinstance(b, dict)]
        record: dict[str, Any] = {"type": "turn", "turn": self.messages_used, "stop_reason": stop,
                                  "usage": _usage(reply.usage), "window_tokens": window_tokens,
                                  "messages_in_window": len(window), "content": content}
        if stop == "refusal":
            self.transcript.write(record)
            return "refusal"  # the refused turn is not kept: the next session starts clean
        notes = []
        if stop in CONTINUE_ON and content and content[-1].get("type") == "tool_use":
            dropped = content.pop()
            notes.append(f"Your reply was cut off ({stop}); the unfinished call to {dropped.get('name')} was "
                         "dropped. Use shorter replies, one step at a time.")
        elif stop in CONTINUE_ON:
            notes.append(f"Your reply was cut off ({stop}). Continue, briefly.")
        if stop == "model_context_window_exceeded":
            self.convo.shrink(fixed_tokens=self._fixed)
        if not content:
            content = [_text("(no reply)")]
        record["false_claims"] = self.watchdog.turn(content)
        self.transcript.write(record)
        self.convo.add("assistant", content)
        uses = [b for b in content if b.get("type") == "tool_use"]
        results = [self._call(tools, b, reply.usage if i == 0 else None) for i, b in enumerate(uses)]
        if tools.turn_ended:
            self.pending = results
            return "wait_for_next_day"
        if uses or notes:
            self.convo.add("user", [*results, *(_text(n) for n in notes)])
            return ""
        if stop == "pause_turn":
            return ""  # ask again: the model continues its own turn
        return stop  # end_turn, stop_sequence

    def _call(self, tools: Toolbox, block: dict[str, Any], usage: LlmUsage | None) -> dict[str, Any]:
        name = str(block.get("name", ""))
        raw = block.get("input")
        args = raw if isinstance(raw, dict) else {"input": raw}
        spec = tools.specs.get(name)
        malformed = spec is None or bool(Toolbox._validate(spec, args))
        self.watchdog.call(name, args, malformed=malformed)
        tin = (usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens) if usage else 0
        result = tools.call(name, args, input_tokens=tin, output_tokens=usage.output_tokens if usage else 0)
        shown = result.for_model()
        limit = self.settings.max_result_chars
        if len(shown) > limit:
            shown = shown[:limit] + f" …[{len(shown) - limit} more characters cut]"
        self.transcript.write({"type": "tool_result", "turn": self.messages_used, "tool": name, "input": args,
                               "ok": result.ok, "verdict": result.verdict, "error": result.error,
                               "result": shown if result.ok else ""})
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(block.get("id", "")), "content": shown}
        if not result.ok:
            out["is_error"] = True
        return out

    # --- helpers -------------------------------------------------------------------------------
    def _prepare(self, tools: Toolbox) -> None:
        prompt = system_prompt(shop=self.shop, guard=self.guard, specs=tools.specs.values(), business=self.business)
        self._system = [{"type": "text", "text": prompt, "cache_control": EPHEMERAL}]
        self._tools = with_cache_control(tools.schemas())
        self._fixed = prefix_tokens(self._system, self._tools)

    def _intro(self, now: datetime, reason: str, notes: list[str]) -> str:
        head = f"It is {now:%A %Y-%m-%d %H:%M %Z}. {_INTROS.get(reason, f'Reason: {reason}.')}"
        return " ".join([head, *notes])

    def _bill(self, reason: str) -> list[str]:
        """Vending-Bench 2's option: output tokens billed to the shop's bank at each weekly review."""
        s = self.settings
        if reason != "weekly_review" or not s.charge_output_tokens or self.charge is None:
            return []
        due = self.cost.bill_output(s.output_token_cents_per_million) + self.owed_cents
        if not due:
            return []
        paid = self.charge(due, "llm_tokens")
        self.owed_cents = due - paid
        self.transcript.write({"type": "event", "event": "llm_tokens_charged", "detail": {"cents": paid}})
        return [f"This week's output tokens cost the shop ${paid / 100:,.2f} (charged to the bank)."]

    def summary_fields(self) -> dict[str, Any]:
        return {"llm_model": self.settings.model, "llm_messages": self.messages_used, "llm_sessions": self.sessions,
                "llm_stop_reasons": dict(self.stop_reasons), "llm_session_ends": dict(self.session_ends),
                "llm_api_errors": self.api_errors, "llm_context_trims": self.convo.trims,
                "llm_peak_window_tokens_est": self.peak_window_tokens, "llm_owed_cents": self.owed_cents,
                **self.cost.fields(), **self.watchdog.fields()}


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def _usage(u: LlmUsage) -> dict[str, int]:
    return {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens, "output_tokens": u.output_tokens}
