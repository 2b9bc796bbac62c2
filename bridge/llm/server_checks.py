"""What a real server or a small model gets wrong that the API's shape does not show:

- `text_tool_calls`: a tool call written as text (a JSON object naming a tool, bare, in a code fence
  or in <tool_call> tags) instead of a `tool_use` block. Nothing runs; the policy counts it as a
  malformed call rather than as an idle turn.
- `tools_dropped`: the server's reported prompt size against the request's. A server whose chat
  template cannot render tools drops them in silence; its prompt is then about the size of the
  request without the tools."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|tool_call|tool_code)?\s*(.*?)```", re.S)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_ARG_KEYS = ("arguments", "input", "parameters", "args")


def _objects(text: str) -> list[Any]:
    chunks = [m.group(1) for m in _FENCE.finditer(text)] + [m.group(1) for m in _TAGGED.finditer(text)]
    if not chunks:
        chunks = [text]
    found: list[Any] = []
    decoder = json.JSONDecoder()
    for chunk in chunks:
        i = 0
        while (start := _next_open(chunk, i)) >= 0:
            try:
                obj, end = decoder.raw_decode(chunk, start)
            except ValueError:
                i = start + 1
                continue
            found.extend(obj if isinstance(obj, list) else [obj])
            i = end
    return found


def _next_open(s: str, i: int) -> int:
    a, b = s.find("{", i), s.find("[", i)
    return min(x for x in (a, b) if x >= 0) if a >= 0 or b >= 0 else -1


def text_tool_calls(content: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(name, arguments) of each tool call written as text in the reply's text blocks."""
    calls: list[tuple[str, Any]] = []
    for block in content:
        if block.get("type") != "text" or "{" not in str(block.get("text", "")):
            continue
        for obj in _objects(str(block["text"])):
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("function"), dict):  # OpenAI-style {"function": {"name", "arguments"}}
                obj = obj["function"]
            name = obj.get("name") or obj.get("tool") or obj.get("tool_name")
            if isinstance(name, str) and name and (any(k in obj for k in _ARG_KEYS) or obj.get("type") == "tool_use"):
                args: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
                calls.append((name, args))
    return calls


def tools_dropped(*, prompt_tokens: int, request_tokens_est: int, tools_tokens_est: int) -> bool:
    """True when tools were sent but the server's prompt is smaller than the request without them plus
    half the tools (the estimate runs low, not high, against real tokenizers, so a prompt that held
    the tools is larger than that)."""
    if tools_tokens_est <= 0 or prompt_tokens <= 0:
        return False
    return prompt_tokens < (request_tokens_est - tools_tokens_est) + tools_tokens_est // 2
