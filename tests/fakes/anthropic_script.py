"""The steps a test scripts for the fake Anthropic Messages API: replies and API errors.

A step is what the fake "model" does with one valid request: either a `Reply` (content blocks,
a stop reason, optionally forced usage) or an `ApiError` (an HTTP error in the real error shape).
The helpers `text`, `tool_use`, `reply` and the error factories keep scripts short::

    script = [
        reply(tool_use("get_inventory", {})),           # stop_reason inferred: tool_use
        rate_limited(retry_after="0"),                   # the SDK retries this one
        reply(text("All stocked."), stop_reason="end_turn"),
    ]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

STOP_REASONS = frozenset(
    {
        "end_turn",
        "tool_use",
        "max_tokens",
        "pause_turn",
        "refusal",
        "stop_sequence",
        "model_context_window_exceeded",
    }
)
USAGE_KEYS = frozenset(
    {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
)


def text(value: str) -> dict[str, Any]:
    """A `text` content block."""
    return {"type": "text", "text": value}


def tool_use(name: str, input: Mapping[str, Any], *, id: str | None = None) -> dict[str, Any]:
    """A `tool_use` content block; without `id`, the fake gives it a unique `toolu_...` id when played."""
    block: dict[str, Any] = {"type": "tool_use", "name": name, "input": dict(input)}
    if id is not None:
        block["id"] = id
    return block


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A successful assistant message.

    `stop_reason` None means: `tool_use` when a tool_use block is present, else `end_turn`.
    `stop_sequence` (for stop_reason `stop_sequence`) defaults to the request's first one.
    `usage` overrides any of the four counters the fake would otherwise compute.
    """

    content: tuple[dict[str, Any], ...]
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for block in self.content:
            kind = block.get("type")
            if kind == "text":
                if not isinstance(block.get("text"), str):
                    raise ValueError(f"text block without a string text: {block!r}")
            elif kind == "tool_use":
                if not (block.get("name") and isinstance(block.get("input"), dict)):
                    raise ValueError(f"tool_use block needs a name and a dict input: {block!r}")
            else:
                raise ValueError(f"the fake only plays text and tool_use blocks, not {kind!r}")
        if self.stop_reason is not None and self.stop_reason not in STOP_REASONS:
            raise ValueError(f"unknown stop_reason {self.stop_reason!r}")
        if self.stop_reason == "tool_use" and not self.tool_uses:
            raise ValueError("stop_reason tool_use needs at least one tool_use block")
        unknown = set(self.usage) - USAGE_KEYS
        if unknown:
            raise ValueError(f"unknown usage keys {sorted(unknown)}")

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    @property
    def effective_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if self.tool_uses else "end_turn"


def reply(
    *blocks: dict[str, Any] | str,
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    usage: Mapping[str, int] | None = None,
) -> Reply:
    """A `Reply` from blocks; a bare string is a text block."""
    content = tuple(text(b) if isinstance(b, str) else b for b in blocks)
    return Reply(
        content=content, stop_reason=stop_reason, stop_sequence=stop_sequence, usage=dict(usage or {})
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiError:
    """An API error answered as `{"type": "error", "error": {"type", "message"}}` with `status`.

    `retry_after` becomes the `retry-after` header (seconds, as the real API sends it).
    `mid_stream` (streaming requests only): answer 200, start the message, then send an SSE
    `error` event, as the real API does when it overloads during a stream.
    """

    status: int
    type: str
    message: str
    retry_after: str | None = None
    mid_stream: bool = False

    def body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}


def rate_limited(
    *,
    retry_after: str = "0",
    message: str = "Number of request tokens has exceeded your per-minute rate limit",
) -> ApiError:
    return ApiError(status=429, type="rate_limit_error", message=message, retry_after=retry_after)


def overloaded(*, mid_stream: bool = False, retry_after: str | None = None) -> ApiError:
    return ApiError(
        status=529,
        type="overloaded_error",
        message="Overloaded",
        mid_stream=mid_stream,
        retry_after=retry_after,
    )


def api_error(*, message: str = "Internal server error") -> ApiError:
    return ApiError(status=500, type="api_error", message=message)


def invalid_request(message: str) -> ApiError:
    return ApiError(status=400, type="invalid_request_error", message=message)


Step = Reply | ApiError
Responder = Callable[[dict[str, Any]], Step]
