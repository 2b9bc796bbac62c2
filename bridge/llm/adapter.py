"""The LLM port on the real `anthropic` SDK: endpoint by base URL, key from the environment,
timeouts, the SDK's retries with backoff (429, 529, 5xx), vendor errors mapped to project errors.
Only plain JSON content blocks and `LlmReply` leave this module."""

from __future__ import annotations

import os
from typing import Any

from bridge.errors import AdapterError, ConfigError, VendError
from bridge.llm.settings import LlmSettings
from bridge.ports import LlmReply, LlmRequest, LlmUsage

API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


class LlmUnavailable(AdapterError):
    """Rate limited, overloaded, a server error or a timeout, still failing after the retries."""


class LlmRejected(VendError):
    """The API refused the request itself (400: too long, malformed); retrying the same will not help."""


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


class AnthropicLLM:
    """`LLM` port: `complete(LlmRequest) -> LlmReply` over `client.messages.create`."""

    def __init__(self, *, settings: LlmSettings, api_key: str, client: Any = None) -> None:
        import anthropic

        self.settings = settings
        self._anthropic = anthropic
        self._client = client or anthropic.Anthropic(
            api_key=api_key, base_url=base_url_from(settings) or None, max_retries=settings.max_retries,
            timeout=settings.timeout_s)

    @classmethod
    def from_env(cls, settings: LlmSettings) -> AnthropicLLM:
        return cls(settings=settings, api_key=api_key_from_env())

    def count_tokens(self, request: LlmRequest) -> int:
        """The request's prompt size in the API's own tokens (`POST /v1/messages/count_tokens`)."""
        body: dict[str, Any] = {"model": request.model, "system": request.system, "messages": request.messages,
                                "tools": request.tools}
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        return int(self._call(lambda: self._client.messages.count_tokens(**body), request.model).input_tokens)

    def complete(self, request: LlmRequest) -> LlmReply:
        body: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens,
                                "system": request.system, "messages": request.messages, "tools": request.tools}
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        msg = self._call(lambda: self._client.messages.create(**body), request.model)
        u = msg.usage
        usage = LlmUsage(input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0,
                         cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
                         cache_read_input_tokens=u.cache_read_input_tokens or 0)
        return LlmReply(content=[block_json(b) for b in msg.content], stop_reason=str(msg.stop_reason or "end_turn"),
                        usage=usage, model=msg.model)

    def _call(self, send: Any, model: str) -> Any:
        """One API call, its vendor errors mapped to the project's."""
        a = self._anthropic
        try:
            return send()
        except (a.AuthenticationError, a.PermissionDeniedError) as err:
            raise ConfigError(f"the Anthropic API refused the key ({err.status_code}): {_message(err)}") from None
        except a.NotFoundError as err:
            raise ConfigError(f"the Anthropic API does not know model {model!r}: {_message(err)}") from None
        except (a.APITimeoutError, a.APIConnectionError) as err:
            raise LlmUnavailable(f"Anthropic API unreachable: {err}") from None
        except a.APIStatusError as err:
            if err.status_code in (408, 409, 429) or err.status_code >= 500:
                raise LlmUnavailable(f"Anthropic API {err.status_code} after retries: {_message(err)}") from None
            raise LlmRejected(f"Anthropic API {err.status_code}: {_message(err)}") from None


def _message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(err)
