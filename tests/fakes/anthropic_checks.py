"""Request checks and token estimates for the fake Anthropic Messages API.

`check_request` lists every way a request breaks the rules the real API enforces (messages that
the real API answers with a 400 or 401); the fake answers the first one and records them all.
`segments` cuts a request into the units prompt caching works on (tools, then system, then
message blocks), each with its estimated tokens (about 4 characters per token of compact JSON)
and whether it carries a `cache_control` breakpoint.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BREAKPOINTS = 4
# the fields POST /v1/messages/count_tokens takes (it refuses others, max_tokens among them)
COUNT_TOKENS_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "mcp_servers",
        "context_management",
        "output_config",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule: `rule` is a stable code for assertions, `message` reads like the real API's."""

    rule: str
    message: str
    status: int = 400
    error_type: str = "invalid_request_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    tokens: int
    breakpoint: bool
    ttl: str | None
    key: str  # canonical JSON of the content, without cache_control markers


def estimate_tokens(obj: Any) -> int:
    """About 4 characters per token of compact, key-sorted JSON; at least 1."""
    return max(1, math.ceil(len(_canonical(obj)) / 4))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _strip_cc(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_cc(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_strip_cc(v) for v in obj]
    return obj


def _blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


def segments(body: Mapping[str, Any]) -> list[Segment]:
    """The cacheable units of a request, in the order the real API caches them."""
    units: list[tuple[Any, Any]] = []  # (content, cache_control or None)
    for tool in body.get("tools") or []:
        units.append(({"tool": tool}, _cc(tool)))
    system = body.get("system")
    if isinstance(system, str):
        units.append(({"system": system}, None))
    for block in _blocks(system):
        units.append(({"system": block}, _cc(block)))
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            units.append(({"role": msg.get("role"), "text": content}, None))
        for block in _blocks(content):
            units.append(({"role": msg.get("role"), "block": block}, _cc(block)))
    out = []
    for content, cc in units:
        key = _canonical(_strip_cc(content))
        ttl = str(cc.get("ttl", "5m")) if isinstance(cc, dict) else None
        tokens = max(1, math.ceil(len(key) / 4))  # estimate_tokens, on the JSON already made
        out.append(Segment(tokens=tokens, breakpoint=cc is not None, ttl=ttl, key=key))
    return out


def _cc(block: Any) -> Any:
    return block.get("cache_control") if isinstance(block, dict) else None


def _count_breakpoints(obj: Any) -> int:
    if isinstance(obj, dict):
        own = 1 if obj.get("cache_control") is not None else 0
        return own + sum(_count_breakpoints(v) for k, v in obj.items() if k != "cache_control")
    if isinstance(obj, list):
        return sum(_count_breakpoints(v) for v in obj)
    return 0


def check_headers(headers: Mapping[str, str]) -> list[Violation]:
    """Credentials and API version. The SDK (2.x) sends the API key as `Authorization: Bearer`;
    older clients and curl use `x-api-key`; the real API takes either."""
    found = []
    bearer = headers.get("authorization", "")
    if not headers.get("x-api-key") and not (bearer.startswith("Bearer ") and bearer[7:].strip()):
        found.append(
            Violation(
                rule="header_auth",
                message="x-api-key header (or Authorization: Bearer) is required",
                status=401,
                error_type="authentication_error",
            )
        )
    if not headers.get("anthropic-version"):
        found.append(
            Violation(rule="header_anthropic_version", message="anthropic-version: header is required")
        )
    return found


def check_request(body: Any, *, count_tokens: bool = False) -> list[Violation]:
    """Every rule `body` breaks; `count_tokens` requests need no `max_tokens`."""
    if not isinstance(body, dict):
        return [Violation(rule="body", message="request body must be a JSON object")]
    found: list[Violation] = []
    if count_tokens:
        extra = sorted(set(body) - COUNT_TOKENS_FIELDS)
        if extra:
            found.append(Violation(rule="extra_field", message=f"{extra[0]}: Extra inputs are not permitted"))
    if not isinstance(body.get("model"), str) or not body["model"]:
        found.append(Violation(rule="required_field", message="model: Field required"))
    if not count_tokens:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            found.append(
                Violation(rule="required_field", message="max_tokens: Field required (a positive integer)")
            )
        if "stream" in body and not isinstance(body["stream"], bool):
            found.append(Violation(rule="stream", message="stream: Input should be a valid boolean"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        found.append(
            Violation(rule="required_field", message="messages: Field required (at least one message)")
        )
        messages = []
    found += _check_system(body.get("system"))
    found += _check_messages(messages, has_tools=bool(body.get("tools")))
    found += _check_tools(body.get("tools"), body.get("tool_choice"))
    n = _count_breakpoints({k: body.get(k) for k in ("tools", "system", "messages")})
    if n > MAX_BREAKPOINTS:
        found.append(
            Violation(
                rule="cache_control_limit",
                message=f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {n}.",
            )
        )
    return found


def _check_system(system: Any) -> list[Violation]:
    if system is None or isinstance(system, str):
        return []
    if isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in system
    ):
        if any(not b["text"].strip() for b in system):
            return [Violation(rule="blank_text", message="system: text content blocks must be non-empty")]
        return []
    return [Violation(rule="system", message="system: Input should be a string or a list of text blocks")]


def _check_messages(messages: list[Any], *, has_tools: bool) -> list[Violation]:
    found: list[Violation] = []
    previous_role: str | None = None
    pending_tool_uses: list[str] = []  # ids from the previous assistant message awaiting results
    seen_tool_blocks = False
    for i, msg in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            found.append(
                Violation(rule="roles", message=f"{where}.role: Input should be 'user' or 'assistant'")
            )
            previous_role, pending_tool_uses = None, []
            continue
        role, content = msg["role"], msg.get("content")
        if i == 0 and role != "user":
            found.append(Violation(rule="roles", message='messages: first message must use the "user" role'))
        elif previous_role == role:
            found.append(
                Violation(
                    rule="roles",
                    message=f'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row',
                )
            )
        is_last = i == len(messages) - 1
        blocks = _blocks(content)
        if not isinstance(content, str | list) or (not content and not (is_last and role == "assistant")):
            found.append(
                Violation(
                    rule="empty_content",
                    message=f"{where}: all messages must have non-empty content except for the optional final assistant message",
                )
            )
        for j, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                found.append(
                    Violation(rule="content_block", message=f"{where}.content.{j}: block needs a type")
                )
            elif block["type"] == "text" and not (
                isinstance(block.get("text"), str) and block["text"].strip()
            ):
                found.append(
                    Violation(
                        rule="blank_text",
                        message=f"{where}.content.{j}: text content blocks must contain non-whitespace text",
                    )
                )
        typed = [b for b in blocks if isinstance(b, dict)]
        results = [b for b in typed if b.get("type") == "tool_result"]
        uses = [b for b in typed if b.get("type") == "tool_use"]
        seen_tool_blocks = seen_tool_blocks or bool(results or uses)
        if role == "user":
            result_ids = [str(b.get("tool_use_id")) for b in results]
            unexpected = [t for t in result_ids if t not in pending_tool_uses]
            if unexpected:
                found.append(
                    Violation(
                        rule="tool_result_without_tool_use",
                        message=f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message.",
                    )
                )
            missing = [t for t in pending_tool_uses if t not in result_ids]
            if missing:
                found.append(_missing_results(i - 1, missing))
            first_other = next((k for k, b in enumerate(typed) if b.get("type") != "tool_result"), len(typed))
            if any(b.get("type") == "tool_result" for b in typed[first_other:]):
                found.append(
                    Violation(
                        rule="tool_result_order",
                        message=f"{where}: `tool_result` blocks must come first in the content, before any other block",
                    )
                )
            if uses:
                found.append(
                    Violation(
                        rule="content_block",
                        message=f"{where}: `tool_use` blocks belong to assistant messages",
                    )
                )
            pending_tool_uses = []
        else:
            if pending_tool_uses:
                found.append(_missing_results(i - 1, pending_tool_uses))
            if results:
                found.append(
                    Violation(
                        rule="content_block", message=f"{where}: `tool_result` blocks belong to user messages"
                    )
                )
            for b in uses:
                if not (
                    isinstance(b.get("id"), str)
                    and isinstance(b.get("name"), str)
                    and isinstance(b.get("input"), dict)
                ):
                    found.append(
                        Violation(rule="content_block", message=f"{where}: tool_use needs id, name and input")
                    )
            pending_tool_uses = [str(b.get("id")) for b in uses]
            if is_last and pending_tool_uses:
                found.append(_missing_results(i, pending_tool_uses))
        previous_role = role
    if seen_tool_blocks and not has_tools:
        found.append(
            Violation(
                rule="tools_without_definitions",
                message="Requests which include `tool_use` or `tool_result` blocks must define tools.",
            )
        )
    return found


def _missing_results(index: int, ids: list[str]) -> Violation:
    return Violation(
        rule="tool_use_without_tool_result",
        message=f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: "
        f"{', '.join(ids)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
    )


@functools.lru_cache(maxsize=4096)
def _schema_problem(schema_json: str) -> str | None:
    """Why a schema is invalid, or None; memoised, since a client sends the same tools every request
    and checking a schema costs milliseconds."""
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(schema_json))
    except jsonschema.SchemaError as err:
        return str(err.message)
    return None


def _check_tools(tools: Any, tool_choice: Any) -> list[Violation]:
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        return [Violation(rule="tool_schema", message="tools: Input should be a valid list")]
    found: list[Violation] = []
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not isinstance(tool, dict):
            found.append(Violation(rule="tool_schema", message=f"{where}: Input should be an object"))
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            found.append(
                Violation(
                    rule="tool_name",
                    message=f"{where}.name: String should match pattern '{TOOL_NAME.pattern}'",
                )
            )
        elif name in names:
            found.append(Violation(rule="tool_name", message=f"tools: Tool names must be unique: {name}"))
        else:
            names.append(name)
        if tool.get("type") not in (None, "custom"):
            continue  # a server tool (web search, ...): its schema is Anthropic's
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            found.append(
                Violation(rule="tool_schema", message=f"{where}.input_schema.type: Input should be 'object'")
            )
            continue
        problem = _schema_problem(_canonical(schema))
        if problem is not None:
            found.append(
                Violation(
                    rule="tool_schema", message=f"{where}.input_schema: JSON schema is invalid: {problem}"
                )
            )
    if isinstance(tool_choice, dict):
        kind = tool_choice.get("type")
        parallel = tool_choice.get("disable_parallel_tool_use")
        if parallel is not None and not isinstance(parallel, bool):
            found.append(
                Violation(
                    rule="tool_choice",
                    message="tool_choice.disable_parallel_tool_use: Input should be a valid boolean",
                )
            )
        if kind == "none" and parallel is not None:
            found.append(
                Violation(
                    rule="tool_choice",
                    message="tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted",
                )
            )
        if kind not in ("auto", "any", "tool", "none"):
            found.append(Violation(rule="tool_choice", message=f"tool_choice.type: unknown {kind!r}"))
        if kind == "tool" and tool_choice.get("name") not in names:
            found.append(
                Violation(
                    rule="tool_choice", message=f"tool_choice: no tool named {tool_choice.get('name')!r}"
                )
            )
    return found
