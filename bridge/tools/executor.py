"""The Toolbox: runs a tool call through validation, guardrails, the tool, simulated time and audit."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bridge.errors import ApprovalRequired, GuardrailRefusal, ToolError
from bridge.frozen import fast_init
from bridge.ports import Clock
from bridge.store import Store
from bridge.tools.spec import Kind, ToolSpec, collect_specs

MAX_AUDIT_RESULT = 2000
AUDIT_COLUMNS = ("shop", "run_id", "seq", "ts", "tool", "kind", "args_json", "ok", "result_json", "verdict",
                 "idempotency_key", "input_tokens", "output_tokens")


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    ok: bool
    value: Any = None
    error: str = ""
    verdict: str = "n/a"

    def for_model(self) -> str:
        return json.dumps(self.value, default=str) if self.ok else f"ERROR: {self.error}"


def _json(value: Any) -> str:
    """Audit JSON: orjson is several times faster than json and the audit log sees every call. Keys that
    are not strings (dates, numbers) need OPT_NON_STR_KEYS, which slows every dump down (by half for a
    machine's slots), so only a value orjson refuses without it is dumped again with it: string keys are
    written alike either way."""
    try:
        return orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class Toolbox:
    """One policy's hands. Every WRITE passes its guardrail before it runs, READ or WRITE every call
    is audited, and each costs the simulated time its declaration gives."""

    def __init__(self, *, tools: object | Sequence[object], guardrails: object, clock: Clock, store: Store,
                 shop: str, run_id: str, context: object | None = None,
                 after_call: Callable[[], None] | None = None, shadow: bool = False,
                 shadow_exempt: Collection[str] = (), twin: Sequence[object] = ()) -> None:
        """`tools`: one tool group or several (each a class with @tool methods; names must not
        clash). `context`: what the guardrails ask (GuardContext); default the first group.
        `shadow`: every WRITE call passes its guardrail as ever, then is answered by the tool of the same
        name in `twin` (the same tool groups over twin ports and a twin of the books, bridge/twin: a result
        of the real shape that touches nothing real) and audited with verdict "shadow"; `shadow_exempt`
        ones touch nothing outside the shopkeeper (its own memory) and run for real."""
        groups = list(tools) if isinstance(tools, list | tuple) else [tools]
        self.specs: dict[str, ToolSpec] = {}
        self._bound: dict[str, Callable[..., Any]] = {}
        for group in groups:
            for name, spec in collect_specs(group).items():
                if name in self.specs:
                    raise TypeError(f"two tool groups define {name!r}")
                self.specs[name] = spec
                self._bound[name] = getattr(group, name)
        self._guards: dict[str, Any] = {s.guard: getattr(guardrails, s.guard) for s in self.specs.values() if s.guard}
        # what a call needs of its tool, looked up once per call: (spec, bound method, kind as text,
        # guard or None for a READ, ends the turn, minutes)
        self._entries: dict[str, tuple[ToolSpec, Callable[..., Any], str, Any, bool, float]] = {
            name: (spec, self._bound[name], str(spec.kind),
                   self._guards[spec.guard or ""] if spec.kind is Kind.WRITE else None, spec.ends_turn, spec.minutes)
            for name, spec in self.specs.items()}
        self.shadow = shadow
        self.shadow_exempt = frozenset(shadow_exempt)
        self._shadowed: frozenset[str] = frozenset()
        if shadow:
            self._answer_from_twin(twin)
        self._context = context if context is not None else groups[0]
        self.clock = clock
        self.store = store
        self._audit = store.buffer("audit_log", AUDIT_COLUMNS)
        self.shop = shop
        self.run_id = run_id
        self.after_call = after_call
        self.seq = 0
        self.counts: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.errors = 0
        self.turn_ended = False

    def _answer_from_twin(self, twin: Sequence[object]) -> None:
        """Shadow mode: each WRITE's entry runs the twin's tool of the same name instead."""
        bound = {name: getattr(group, name) for group in twin for name in collect_specs(group)}
        shadowed = [n for n, s in self.specs.items() if s.kind is Kind.WRITE and n not in self.shadow_exempt]
        missing = [n for n in shadowed if n not in bound]
        if missing:
            raise TypeError(f"shadow mode needs a twin for every WRITE tool; none for {', '.join(missing)}")
        for name in shadowed:
            spec, _fn, kind, guard, ends_turn, minutes = self._entries[name]
            self._entries[name] = (spec, bound[name], kind, guard, ends_turn, minutes)
        self._shadowed = frozenset(shadowed)

    def schemas(self) -> list[dict[str, Any]]:
        return [s.to_anthropic() for s in self.specs.values()]

    def call(self, name: str, args: dict[str, Any] | None = None, *, input_tokens: int = 0,
             output_tokens: int = 0) -> ToolResult:
        args = args or {}
        entry = self._entries.get(name)
        if entry is None:
            return self._done(name, "n/a", args, ToolResult(ok=False, error=f"unknown tool {name!r}"), 0, 0, "")
        spec, fn, kind, guard, ends_turn, minutes = entry
        if args or spec.required:  # a call without arguments to a tool that needs none is valid
            problem = self._validate(spec, args)
            if problem:
                return self._done(name, kind, args, ToolResult(ok=False, error=problem), input_tokens,
                                  output_tokens, "")
        self.seq += 1
        if guard is None:  # READ
            idem, verdict = "", "n/a"
        else:
            idem = f"{self.run_id}:{self.seq}"
            try:
                guard(self._context, args)
            except ApprovalRequired as refusal:
                self.refusals[refusal.rule] += 1
                return self._done(name, kind, args, ToolResult(ok=False, error=str(refusal),
                                  verdict=f"approval:{refusal.rule}"), input_tokens, output_tokens, idem)
            except GuardrailRefusal as refusal:
                self.refusals[refusal.rule] += 1
                return self._done(name, kind, args, ToolResult(ok=False, error=str(refusal),
                                  verdict=f"refused:{refusal.rule}"), input_tokens, output_tokens, idem)
            verdict = "shadow" if name in self._shadowed else "allowed"
        try:
            result = ToolResult(ok=True, value=fn(**args), verdict=verdict)
        except ToolError as err:
            result = ToolResult(ok=False, error=str(err), verdict=verdict)
        if ends_turn:
            self.turn_ended = True
        else:
            self.clock.spend(minutes)
        if self.after_call is not None:
            self.after_call()
        return self._done(name, kind, args, result, input_tokens, output_tokens, idem)

    @staticmethod
    def _validate(spec: ToolSpec, args: dict[str, Any]) -> str:
        """"" when the arguments fit the tool; else what is wrong with them. One pass over the arguments
        finds whether anything is (the calls of a year are nearly all right); only then are they checked
        again to name the problem: a missing argument first, then an unknown one, then the first wrong one
        in the signature's order."""
        checks, required = spec.checks, spec.required
        found = 0
        for arg, value in args.items():
            check = checks.get(arg)
            if check is None or not check(value):
                return Toolbox._problem(spec, args)
            if arg in required:
                found += 1
        return "" if found == len(required) else Toolbox._problem(spec, args)

    @staticmethod
    def _problem(spec: ToolSpec, args: dict[str, Any]) -> str:
        keys = args.keys()
        if not spec.required <= keys:
            return f"missing argument(s): {', '.join(sorted(spec.required - keys))}"
        if not keys <= spec.params:
            return f"unknown argument(s): {', '.join(sorted(keys - spec.params))}"
        for name, check in spec.checks.items():
            if name in args and not check(args[name]):
                return f"argument {name!r} has the wrong type or value"
        return ""

    def _done(self, name: str, kind: str, args: dict[str, Any], result: ToolResult, tin: int, tout: int,
              idem: str) -> ToolResult:
        self.counts[name] += 1
        ok = result.ok
        if ok:
            payload = _json(result.value)
        else:
            self.errors += 1
            payload = _json({"error": result.error})
        self._audit.append((self.shop, self.run_id, self.seq, self.clock.now(), name, kind,
                            _json(args) if args else "{}", ok,
                            payload if len(payload) <= MAX_AUDIT_RESULT else payload[:MAX_AUDIT_RESULT],
                            result.verdict, idem, tin, tout))
        return result
