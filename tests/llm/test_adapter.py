"""The Anthropic adapter on the real SDK against the fake: retries with backoff on 429 / 529 / 5xx,
errors mapped to project errors, usage read from the reply, the key only from the environment."""

from __future__ import annotations

import pytest

from bridge.errors import ConfigError
from bridge.llm.adapter import AnthropicLLM, LlmRejected, LlmUnavailable, api_key_from_env
from bridge.llm.settings import LlmSettings
from bridge.ports import LlmRequest
from tests.fakes.anthropic_api import (
    ApiError,
    FakeAnthropic,
    api_error,
    invalid_request,
    overloaded,
    rate_limited,
    reply,
    tool_use,
)

TOOLS = [{"name": "check_balance", "description": "Money.", "input_schema": {"type": "object", "properties": {}}}]


def request() -> LlmRequest:
    return LlmRequest(system=[{"type": "text", "text": "You run a shop."}],
                      messages=[{"role": "user", "content": [{"type": "text", "text": "Morning."}]}],
                      tools=TOOLS, max_tokens=512, model="claude-sonnet-4-6")


def adapter(fake: FakeAnthropic, *, retries: int = 3) -> AnthropicLLM:
    return AnthropicLLM(settings=LlmSettings(base_url=fake.url, max_retries=retries, timeout_s=10), api_key="sk-x")


def test_rate_limit_and_overload_are_retried_then_answered(fake: FakeAnthropic) -> None:
    fake.add(rate_limited(retry_after="0.01"), overloaded(retry_after="0.01"), api_error(),
             reply("Let me look.", tool_use("check_balance", {})))
    adapter_used = [adapter(fake)]
    got = adapter_used[0].complete(request())
    assert got.stop_reason == "tool_use"
    assert got.content[1]["name"] == "check_balance" and got.content[1]["id"].startswith("toolu_")
    assert len(fake.message_requests) == 4  # three failures, each retried by the adapter, then the answer
    llm_ = adapter_used[0]
    assert llm_.retries == 3 and llm_.http_requests == 4 and llm_.timeouts == 0
    assert [e["event"] for e in llm_.drain_events()] == ["llm_retry"] * 3
    assert got.usage.output_tokens > 0 and got.usage.cache_creation_input_tokens == 0
    assert fake.violations == []


def test_still_failing_after_the_retries_is_llm_unavailable(fake: FakeAnthropic) -> None:
    fake.add(*[overloaded(retry_after="0.01")] * 3)
    with pytest.raises(LlmUnavailable, match="529"):
        adapter(fake, retries=2).complete(request())
    assert len(fake.message_requests) == 3


def test_a_bad_request_is_rejected_without_retrying(fake: FakeAnthropic) -> None:
    fake.add(invalid_request("prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(LlmRejected, match="prompt is too long"):
        adapter(fake).complete(request())
    assert len(fake.message_requests) == 1


def test_a_refused_key_is_a_config_error(fake: FakeAnthropic) -> None:
    fake.add(ApiError(status=401, type="authentication_error", message="invalid x-api-key"))
    with pytest.raises(ConfigError, match="refused the key"):
        adapter(fake).complete(request())


def test_the_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        api_key_from_env()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "  sk-live  ")
    assert api_key_from_env() == "sk-live"


def test_base_url_from_the_environment(fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    fake.add(reply("Hello."))
    got = AnthropicLLM(settings=LlmSettings(), api_key="sk-x").complete(request())
    assert got.content == [{"type": "text", "text": "Hello."}] and got.stop_reason == "end_turn"
