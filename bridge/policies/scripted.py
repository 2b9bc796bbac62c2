"""The scripted policy: plays a fixed list of tool calls per day from a script file (tests, gates).

A script (TOML or JSON) names the calls of given days and, optionally, calls for every day:

    [[days]]
    day = 1                       # the Nth session of that reason (1-based)
    calls = [
      { tool = "request_quote", args = { supplier = "quickmart", items = { "coke-12oz" = 400 } } },
      { wait = "quote" },         # the rest waits until a supplier's quote is in the inbox
      { tool = "place_order", args = { quote_id = "$quote.quote_id" } },
    ]

    [[every_day]]
    tool = "check_balance"

A string argument `"$tool.key.0.key"` is replaced by that path into the last result of that tool,
so a script can place the order for the quote it asked for. A call's error is not fatal (the
agent would see it too); a session ends with `wait_for_next_day` when `reason` is `open_day`.

Quotes are answered later, in sim and live alike (bridge/ports.py, Procurement): `{ wait = "quote" }`
holds the calls after it until a quote has arrived. At every later session (of any reason: the
runtime wakes the policy for "messages" when a notice waits) the script reads its inbox
(`read_inbox`, so the messages read there are gone for later calls) and, when a quote is there,
names it `$quote` (its quote_id, supplier, total_cents, lines, ...) and plays the held calls. Each
wait takes one quote, in the order they arrived. Calls of later sessions, and `every_day` calls, do
not wait for held ones.
"""

from __future__ import annotations

import json
import tomllib
from collections import deque
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.errors import ConfigError, invalid
from bridge.tools.executor import Toolbox
from bridge.tools.paging import read_all_inbox


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Call(_Strict):
    tool: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    wait: Literal["", "quote"] = ""  # instead of a tool: hold the calls after it until a quote arrives

    @model_validator(mode="after")
    def _one(self) -> Call:
        if bool(self.tool) == bool(self.wait):
            raise ValueError("a call names a tool or a wait, one of them")
        if self.wait and self.args:
            raise ValueError("a wait takes no args")
        return self


class Day(_Strict):
    day: int = Field(ge=1)
    reason: str = "open_day"
    calls: list[Call] = Field(default_factory=list)


class Script(_Strict):
    days: list[Day] = Field(default_factory=list)
    every_day: list[Call] = Field(default_factory=list)
    name: str = "scripted"


def load_script(path: str | Path) -> Script:
    """A script file, validated; errors are one line naming the file and the field."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise ConfigError(f"script file {path}: {err.strerror}") from None
    try:
        raw = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"script file {path}: {err}") from None
    try:
        return Script.model_validate(raw)
    except ValidationError as err:
        raise invalid(f"script file {path}", err, top="script") from None


def _resolve(value: Any, last: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$") and len(value) > 1:
        tool, *path = value[1:].split(".")
        if tool not in last:
            return value  # the tool has not answered yet: passed through, and the tool will complain
        found: Any = last[tool]
        for part in path:
            found = found[int(part)] if isinstance(found, list) else found.get(part) if isinstance(found, dict) else None
        return found
    if isinstance(value, dict):
        return {k: _resolve(v, last) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, last) for v in value]
    return value


class ScriptedPolicy:
    """Plays its script; remembers the last successful result of each tool for `$tool.key` refs."""

    def __init__(self, *, script: Script) -> None:
        self.script = script
        self.name = script.name
        self.sessions: dict[str, int] = {}
        self.last: dict[str, Any] = {}
        self.results: list[tuple[str, bool]] = []  # (tool, ok) for every call played
        self.held: list[Call] = []  # calls waiting for a quote, the wait first
        self.arrived: deque[dict[str, Any]] = deque()  # quotes read from the inbox, not yet taken by a wait

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedPolicy:
        return cls(script=load_script(path))

    def act(self, tools: Toolbox, *, reason: str) -> int:
        n = self.sessions[reason] = self.sessions.get(reason, 0) + 1
        calls = [c for d in self.script.days if d.reason == reason and d.day == n for c in d.calls]
        held, self.held = self.held, []
        played = self._play(tools, held) if held else False
        if not calls and reason != "open_day":
            return 1 if played else 0
        self._play(tools, calls)
        if reason == "open_day":
            self._play(tools, list(self.script.every_day))  # after the day's calls, not held by their waits
            tools.call("wait_for_next_day")
        return 1

    def _play(self, tools: Toolbox, calls: list[Call]) -> bool:
        """Play `calls` up to a wait that no quote answers yet (held, with the rest, for a later
        session); returns whether any call was played."""
        played = False
        for i, call in enumerate(calls):
            if call.wait:
                if not self._quote(tools):
                    self.held += calls[i:]
                    return played
                continue
            result = tools.call(call.tool, _resolve(call.args, self.last))
            self.results.append((call.tool, result.ok))
            played = True
            if result.ok:
                self.last[call.tool] = result.value
        return played

    def _quote(self, tools: Toolbox) -> bool:
        """Take the next quote that arrived as `$quote`; False while none has."""
        if not self.arrived:
            inbox = read_all_inbox(lambda name, **args: _value(tools.call(name, args)))
            self.arrived.extend(item["quote"] for item in inbox if "quote" in item)
        if not self.arrived:
            return False
        self.last["quote"] = self.arrived.popleft()
        return True


def _value(result: Any) -> Any:
    return result.value if result.ok else None
