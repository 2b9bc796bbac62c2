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

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge.errors import ConfigError, RunStopped
from bridge.guardrails import GuardrailPolicy
from bridge.llm.adapter import LlmContextOverflow, LlmRejected, LlmUnavailable, base_url_from
from bridge.llm.context import (
    EPHEMERAL,
    Conversation,
    count_breakpoints,
    estimate_tokens,
    is_blank_text,
    message_tokens,
    prefix_tokens,
    with_cache_control,
)
from bridge.llm.costs import CostMeter
from bridge.llm.prompt import system_prompt
from bridge.llm.rules import LlmRules
from bridge.llm.server_checks import text_tool_calls, tools_dropped
from bridge.llm.settings import LlmSettings
from bridge.llm.transcript import Transcript
from bridge.llm.watchdog import Books, Watchdog
from bridge.ports import LLM, LlmRequest, LlmUsage
from bridge.tools.executor import Toolbox
from bridge.tools.paging import fit_result

CONTINUE_ON = ("max_tokens", "model_context_window_exceeded")
_INTROS = {
    "open_day": "A new day. Your morning briefing is below. Look at your inbox, the machine, storage, orders and "
                "money as you need; do today's work; call wait_for_next_day when you are done.",
    "messages": "New messages or notices have arrived: read_inbox and deal with them; end your turn when done.",
    "weekly_review": "Weekly review: look at the week's sales, costs and your notes, adjust prices and plans, "
                     "write down what you learned; end your turn when done.",
}


class LlmPolicy:
    name = "llm"

    def __init__(self, *, llm: LLM, settings: LlmSettings, guard: GuardrailPolicy, shop: str, business: str = "",
                 books: Books | None = None, transcript: Transcript | None = None,
                 charge: Callable[[int, str], int] | None = None, max_messages: int | None = None,
                 rules: LlmRules | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.guard = guard
        self.shop = shop
        self.business = business
        self.transcript = transcript or Transcript(None)
        self.charge = charge
        self.rules = rules or LlmRules(cap=max_messages or settings.max_messages,
                                       billing=settings.charge_output_tokens,
                                       output_cents_per_million=settings.output_token_cents_per_million)
        self.max_messages = max_messages or self.rules.cap
        self.convo = Conversation(budget_tokens=settings.context_budget_tokens)
        self.cost = CostMeter(price=settings.price(base_url=base_url_from(settings)))
        self.watchdog = Watchdog(books=books)
        self.stop_reasons: Counter[str] = Counter()
        self.session_ends: Counter[str] = Counter()
        self.messages_used = 0
        self.sessions = 0
        self.api_errors = 0
        self.api_errors_in_a_row = 0
        self.peak_window_tokens = 0
        self.max_tokens = settings.max_tokens  # lowered to fit a small window the server reports
        self.context_window = 0  # the model's window, when the server says it
        self.transport: Counter[str] = Counter()  # retries, timeouts, context overflows, tools dropped, ...
        self.owed_cents = 0
        self.pending: list[dict[str, Any]] = []  # results of the call that ended the last session
        self._system: list[dict[str, Any]] = []
        self._tools: list[dict[str, Any]] = []
        self._fixed = 0
        self._tools_est = 0
        self.prefix_api_tokens = 0  # the system prompt and tools in the API's tokens (count_tokens), 0: unknown
        self.prefix_cached = True  # the fixed prefix is long enough for the model to cache it
        self.max_breakpoints = 0
        self.briefing: Any = None  # bridge.tools.briefing.BriefingTools, attached by the shop assembly

    def attach_briefing(self, briefing: Any) -> None:
        self.briefing = briefing

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
                             max_tokens=self.max_tokens, model=self.settings.model,
                             tool_choice=self.rules.tool_choice())
        self.max_breakpoints = max(self.max_breakpoints, count_breakpoints([self._system, self._tools, window]))
        try:
            reply = self.llm.complete(request)
        except LlmContextOverflow as err:
            self._drain()
            return self._overflowed(str(err))
        except (LlmUnavailable, LlmRejected) as err:
            self._drain()
            self.api_errors += 1
            self.api_errors_in_a_row += 1
            self.transcript.write({"type": "event", "event": "api_error", "detail": str(err)})
            if self.api_errors_in_a_row >= self.settings.max_consecutive_api_errors:
                raise RunStopped("api_errors", f"the LLM API failed {self.api_errors_in_a_row} times in a row; "
                                               f"last: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
            return "api_error"
        self._drain()
        self.api_errors_in_a_row = 0
        self.messages_used += 1
        self.convo.measured(self.cost.add(reply.usage))
        stop = reply.stop_reason
        self.stop_reasons[stop] += 1
        content = [b for b in reply.content if isinstance(b, dict) and not is_blank_text(b)]
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
        written = text_tool_calls(content)
        for name, args in written:  # a call written as text runs nothing: a malformed call, not an idle turn
            self.watchdog.call(name, args, malformed=True)
        if written:
            self.transport["text_tool_calls"] += len(written)
            record["text_tool_calls"] = [name for name, _ in written]
        prompt = reply.usage.input_tokens + reply.usage.cache_creation_input_tokens + reply.usage.cache_read_input_tokens
        sent_est = self._fixed + sum(message_tokens(m) for m in window)  # the request as sent
        if tools_dropped(prompt_tokens=prompt, request_tokens_est=sent_est, tools_tokens_est=self._tools_est):
            self.transport["tools_dropped"] += 1
            self.api_errors += 1
            record["tools_dropped"] = True
            self.transcript.write(record)
            self.transcript.write({"type": "event", "event": "tools_dropped",
                                   "detail": f"the server's prompt was {prompt} tokens, the request without its "
                                             f"tools ~{sent_est - self._tools_est}: the tools were not sent "
                                             "to the model (does its chat template render tools?)"})
            return "tools_dropped"
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
        limit = self.settings.max_result_chars
        shown = fit_result(result.value, limit) if result.ok else result.for_model()[:limit]
        self.transcript.write({"type": "tool_result", "turn": self.messages_used, "tool": name, "input": args,
                               "ok": result.ok, "verdict": result.verdict, "error": result.error,
                               "result": shown if result.ok else ""})
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(block.get("id", "")), "content": shown}
        if not result.ok:
            out["is_error"] = True
        return out

    # --- helpers -------------------------------------------------------------------------------
    def _prepare(self, tools: Toolbox) -> None:
        prompt = system_prompt(shop=self.shop, guard=self.guard, specs=tools.specs.values(), business=self.business,
                               rules=self.rules)
        system = [{"type": "text", "text": prompt}]
        schemas = tools.schemas()
        self._fixed = prefix_tokens(system, schemas)
        self._tools_est = sum(estimate_tokens({"tool": t}) for t in schemas)
        self.prefix_api_tokens = self._count(system, schemas)
        if self.prefix_api_tokens:
            self.convo.calibrate(api_tokens=self.prefix_api_tokens, estimate=self._fixed)
        # a breakpoint on a prefix shorter than the model's minimum caches nothing: the slots are kept for
        # the conversation's (which grows past the minimum)
        size = self.prefix_api_tokens or self._fixed
        self.prefix_cached = size >= self.settings.min_cacheable_tokens()
        self._system = [{**system[0], "cache_control": EPHEMERAL}] if self.prefix_cached else system
        self._tools = with_cache_control(schemas) if self.prefix_cached else schemas
        window = getattr(self.llm, "context_window", None)
        self.context_window = int(window()) if callable(window) else 0
        if self.context_window:  # the server says the model's window: the budget follows it
            self.max_tokens = min(self.max_tokens, max(256, self.context_window // 8))
            fit = int((self.context_window - self.max_tokens) / 1.2)  # the estimate runs 12-15% low
            self.convo.budget_tokens = min(self.convo.budget_tokens, max(fit, 1))
            self.transcript.write({"type": "event", "event": "context_window",
                                   "detail": {"window": self.context_window, "budget": self.convo.budget_tokens,
                                              "max_tokens": self.max_tokens, "fixed_est": self._fixed}})

    def _count(self, system: list[dict[str, Any]], schemas: list[dict[str, Any]]) -> int:
        """The fixed prefix in the API's tokens (count_tokens, with a one-word message), or 0 when the
        client cannot count (a scripted client, a server without the endpoint)."""
        count = getattr(self.llm, "count_tokens", None)
        if count is None:
            return 0
        probe = [{"role": "user", "content": [{"type": "text", "text": "."}]}]
        try:
            return int(count(LlmRequest(system=system, messages=probe, tools=schemas, max_tokens=1,
                                        model=self.settings.model, tool_choice=self.rules.tool_choice())))
        except (LlmUnavailable, LlmRejected, ConfigError) as err:
            self.transcript.write({"type": "event", "event": "count_tokens_failed", "detail": str(err)})
            return 0

    def _drain(self) -> None:
        """The adapter's retries and timeouts since the last request: counted and in the transcript."""
        drain = getattr(self.llm, "drain_events", None)
        for event in drain() if callable(drain) else []:
            self.transport[{"llm_retry": "retries", "llm_timeout": "timeouts"}.get(event.get("event"), "other")] += 1
            self.transcript.write(event)

    def _overflowed(self, detail: str) -> str:
        """The server said the request does not fit the model's window: trim hard and ask again; when
        nothing is left to trim, the session ends as an API error."""
        self.transport["context_overflows"] += 1
        before = (self.convo.start, self.convo.budget_tokens)
        self.convo.shrink(fixed_tokens=self._fixed)
        self.transcript.write({"type": "event", "event": "context_overflow", "detail": detail,
                               "trimmed_to_message": self.convo.start, "budget": self.convo.budget_tokens})
        if (self.convo.start, self.convo.budget_tokens) == before:
            self.api_errors += 1
            self.transcript.write({"type": "event", "event": "api_error", "detail": f"nothing left to trim: {detail}"})
            return "api_error"
        return ""

    def _intro(self, now: datetime, reason: str, notes: list[str]) -> str:
        head = f"It is {now:%A %Y-%m-%d %H:%M %Z}. {_INTROS.get(reason, f'Reason: {reason}.')}"
        text = " ".join([head, *notes])
        if self.briefing is None:
            return text
        if reason == "open_day":
            return text + "\nMorning briefing: " + json.dumps(self.briefing.briefing(), default=str)
        due = self.briefing.due()
        return text + ("\nReminders due: " + json.dumps(due, default=str) if due else "")

    def _bill(self, reason: str) -> list[str]:
        """Vending-Bench 2's option: output tokens billed to the shop's bank at each weekly review."""
        r = self.rules
        if reason != "weekly_review" or not r.billing or self.charge is None:
            return []
        due = self.cost.bill_output(r.output_cents_per_million) + self.owed_cents
        if not due:
            return []
        paid = self.charge(due, "llm_tokens")
        self.owed_cents = due - paid
        self.transcript.write({"type": "event", "event": "llm_tokens_charged", "detail": {"cents": paid}})
        return [f"This week's output tokens cost the shop ${paid / 100:,.2f} (charged to the bank)."]

    def summary_fields(self) -> dict[str, Any]:
        return {"llm_model": self.settings.model, "llm_rules": {
                    "scenario": self.rules.scenario, "score": self.rules.score, "market": self.rules.market,
                    "billing": self.rules.billing, "cap": self.max_messages, "parallel": self.rules.parallel}, "llm_messages": self.messages_used, "llm_sessions": self.sessions,
                "llm_stop_reasons": dict(self.stop_reasons), "llm_session_ends": dict(self.session_ends),
                "llm_api_errors": self.api_errors, "llm_context_trims": self.convo.trims,
                "llm_peak_window_tokens": self.peak_window_tokens, "llm_owed_cents": self.owed_cents,
                "llm_prefix_tokens": self.prefix_api_tokens or self._fixed, "llm_prefix_cached": self.prefix_cached,
                "llm_max_cache_breakpoints": self.max_breakpoints,
                "llm_retries": self.transport["retries"], "llm_timeouts": self.transport["timeouts"],
                "llm_context_overflows": self.transport["context_overflows"],
                "llm_tools_dropped": self.transport["tools_dropped"],
                "llm_text_tool_calls": self.transport["text_tool_calls"],
                "llm_requests": int(getattr(self.llm, "http_requests", self.messages_used + self.api_errors)),
                "llm_context_window": self.context_window, "llm_max_tokens": self.max_tokens,
                **self.cost.fields(), **self.watchdog.fields()}


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def _usage(u: LlmUsage) -> dict[str, int]:
    return {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens, "output_tokens": u.output_tokens}
