"""The LLM port on the real `anthropic` SDK, for Anthropic and any Anthropic-compatible server
(llama.cpp's, ...): endpoint by base URL, key from the environment, vendor errors mapped to project
errors. The SDK's own retries are off (max_retries=0): this module retries 408/409/429/5xx, timeouts
and dropped connections itself, with exponential backoff, so each retry and timeout is counted and
reported (`drain_events`, which the policy writes to the transcript and the summary). A request the
model's window cannot hold is `LlmContextOverflow` whatever the server calls it, so the policy trims
and asks again. Only plain JSON content blocks and `LlmReply` leave this module."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from bridge.errors import AdapterError, ConfigError, VendError
from bridge.llm.settings import LlmSettings
from bridge.ports import LlmReply, LlmRequest, LlmUsage

API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
# How servers say a request is longer than the model's window (Anthropic: "prompt is too long";
# llama.cpp: exceed_context_size_error; vLLM/OpenAI-style: "maximum context length").
OVERFLOW_MARKERS = ("exceed_context_size", "context length", "context window", "context_length",
                    "prompt is too long", "too many tokens", "maximum context", "exceeds the available context")


class LlmUnavailable(AdapterError):
    """Rate limited, overloaded, a server error or a timeout, still failing after the retries."""


class LlmRejected(VendError):
    """The API refused the request itself (400: too long, malformed); retrying the same will not help."""


class LlmContextOverflow(LlmRejected):
    """The request does not fit the model's context window: trim the history and ask again."""


def api_key_from_env() -> str:
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"the llm policy needs an Anthropic API key: set {API_KEY_ENV}")
    return key


def base_url_from(settings: LlmSettings) -> str:
    return settings.base_url or os.environ.get(BASE_URL_ENV, "").strip()


def block_json(block: Any) -> dict[str, Any]:
    """An SDK content block as the plain JSON the next request sends back."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(mode="json", exclude_none=True)
    return dumped


def is_overflow(status: int, message: str) -> bool:
    low = message.lower()
    return status in (400, 413, 500) and any(m in low for m in OVERFLOW_MARKERS)


class AnthropicLLM:
    """`LLM` port: `complete(LlmRequest) -> LlmReply` over `client.messages.create`, with counted retries."""

    def __init__(self, *, settings: LlmSettings, api_key: str, client: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import anthropic

        self.settings = settings
        self._anthropic = anthropic
        self._client = client or anthropic.Anthropic(
            api_key=api_key, base_url=base_url_from(settings) or None, max_retries=0, timeout=settings.timeout_s)
        self._sleep = sleep
        self.http_requests = 0  # requests sent (attempts), successful or not
        self.retries = 0
        self.timeouts = 0
        self._events: list[dict[str, Any]] = []

    @classmethod
    def from_env(cls, settings: LlmSettings) -> AnthropicLLM:
        return cls(settings=settings, api_key=api_key_from_env())

    def drain_events(self) -> list[dict[str, Any]]:
        """Retries and timeouts since the last call, for the transcript."""
        out, self._events = self._events, []
        return out

    def count_tokens(self, request: LlmRequest) -> int:
        """The request's prompt size in the API's own tokens (`POST /v1/messages/count_tokens`)."""
        body: dict[str, Any] = {"model": request.model, "system": request.system, "messages": request.messages,
                                "tools": request.tools}
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        return int(self._call(lambda: self._client.messages.count_tokens(**body), request.model,
                              counted=False).input_tokens)

    def complete(self, request: LlmRequest) -> LlmReply:
        body: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens,
                                "system": request.system, "messages": request.messages, "tools": request.tools}
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        msg = self._call(lambda: self._client.messages.create(**body), request.model)
        u = msg.usage
        usage = LlmUsage(input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0,
                         cache_creation_input_tokens=getattr(u, "cache_creation_input_tokens", 0) or 0,
                         cache_read_input_tokens=getattr(u, "cache_read_input_tokens", 0) or 0)
        return LlmReply(content=[block_json(b) for b in msg.content], stop_reason=str(msg.stop_reason or "end_turn"),
                        usage=usage, model=msg.model)

    def context_window(self) -> int:
        """The model's context window when the server says it (llama.cpp: /props n_ctx); 0 when unknown."""
        base = base_url_from(self.settings).rstrip("/")
        if not base:
            return 0
        try:
            with urllib.request.urlopen(base + "/props", timeout=5) as resp:
                props = json.loads(resp.read())
            return int(props.get("default_generation_settings", {}).get("n_ctx") or 0)
        except (OSError, ValueError, AttributeError, TypeError):
            return 0

    def _call(self, send: Callable[[], Any], model: str, *, counted: bool = True) -> Any:
        """One API call: retried on 408/409/429/5xx, timeouts and dropped connections with exponential
        backoff (each counted); the vendor's errors mapped to the project's. `counted`: a Messages request
        (the summary's llm_requests); a token count is not one."""
        a = self._anthropic
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            self.http_requests += counted
            hint: float | None = None
            last = attempt == attempts - 1
            try:
                return send()
            except (a.AuthenticationError, a.PermissionDeniedError) as err:
                raise ConfigError(f"the API refused the key ({err.status_code}): {_message(err)}") from None
            except a.NotFoundError as err:
                raise ConfigError(f"the API does not know model {model!r}: {_message(err)}") from None
            except a.APITimeoutError:
                self.timeouts += 1
                self._events.append({"type": "event", "event": "llm_timeout",
                                     "detail": {"attempt": attempt + 1, "timeout_s": self.settings.timeout_s}})
                if last:
                    raise LlmUnavailable(f"the API timed out {attempts} times "
                                         f"({self.settings.timeout_s:.0f} s each)") from None
                why = "timeout"
            except a.APIConnectionError as err:
                if last:
                    raise LlmUnavailable(f"the API is unreachable: {err}") from None
                why = "connection"
            except a.APIStatusError as err:
                text = _message(err)
                if is_overflow(err.status_code, text):
                    raise LlmContextOverflow(f"API {err.status_code}: {text}") from None
                if not (err.status_code in (408, 409, 429) or err.status_code >= 500):
                    raise LlmRejected(f"API {err.status_code}: {text}") from None
                if last:
                    raise LlmUnavailable(f"API {err.status_code} after {attempts} attempts: {text}") from None
                why = str(err.status_code)
                hint = _retry_after(err)
            self.retries += 1
            delay = hint if why not in ("timeout", "connection") and hint is not None else min(30.0, 0.5 * 2 ** attempt)
            self._events.append({"type": "event", "event": "llm_retry",
                                 "detail": {"attempt": attempt + 2, "after": why, "backoff_s": delay}})
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(err: Any) -> float | None:
    """The server's retry-after (seconds), when it gives one and it is not absurd."""
    try:
        value = float(err.response.headers.get("retry-after", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if 0 <= value <= 60 else None


def _message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            kind = inner.get("type")
            return f"{kind}: {inner['message']}" if kind else str(inner["message"])
    return str(err)
