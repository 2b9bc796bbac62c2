"""What any Anthropic-compatible server may do, handled: a context overflow (any server's wording)
trims and asks again; the model's window, when the server says it, sets the budget; a tool call
written as text is a malformed call; tools the server dropped are an error, not an idle model;
retries and timeouts are counted and in the transcript."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bridge.llm.adapter import AnthropicLLM, LlmContextOverflow, LlmUnavailable, is_overflow
from bridge.llm.context import estimate_tokens
from bridge.llm.settings import LlmSettings
from bridge.ports import LlmReply, LlmRequest, LlmUsage
from tests.fakes.anthropic_api import ApiError, FakeAnthropic, reply
from tests.llm.rig import make_shop


class Scripted:
    """An LLM port that answers from a list; each item a reply or an exception; usage from the request
    (tools counted unless `drop_tools`)."""

    def __init__(self, answers: list[Any], *, window: int = 0, drop_tools: bool = False) -> None:
        self.answers = list(answers)
        self.window = window
        self.drop_tools = drop_tools
        self.requests: list[LlmRequest] = []
        self.events: list[dict[str, Any]] = []

    def context_window(self) -> int:
        return self.window

    def drain_events(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out

    def complete(self, request: LlmRequest) -> LlmReply:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else _wait()
        if isinstance(answer, Exception):
            raise answer
        sent = [*(request.system), *request.messages, *([] if self.drop_tools else request.tools)]
        prompt = sum(estimate_tokens(x) for x in sent)
        return LlmReply(content=answer, stop_reason="tool_use" if any(b["type"] == "tool_use" for b in answer)
                        else "end_turn", usage=LlmUsage(input_tokens=prompt, output_tokens=10), model="m")


def _wait() -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": "toolu_w", "name": "wait_for_next_day", "input": {}}]


def _text(t: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": t}]


def test_an_overflow_from_any_server_trims_and_asks_again(tmp_path: Path) -> None:
    llm = Scripted([LlmContextOverflow("API 400: exceed_context_size_error: the request exceeds the available "
                                       "context size"), _wait()])
    shop = make_shop(tmp_path, llm=llm)
    shop.policy.act(shop.toolbox, reason="open_day")
    f = shop.policy.summary_fields()
    assert f["llm_context_overflows"] == 1 and f["llm_api_errors"] == 0
    assert f["llm_session_ends"] == {"wait_for_next_day": 1} and len(llm.requests) == 2
    assert shop.policy.convo.budget_tokens < LlmSettings().context_budget_tokens


@pytest.mark.parametrize(("status", "message", "overflow"), [
    (400, "exceed_context_size_error: request (9000 tokens) exceeds the available context size (8192 tokens)", True),
    (400, "prompt is too long: 210000 tokens > 200000 maximum", True),
    (400, "This model's maximum context length is 4096 tokens", True),
    (400, "messages: text content blocks must be non-empty", False),
    (429, "context length", False),
])
def test_overflow_wordings(status: int, message: str, overflow: bool) -> None:
    assert is_overflow(status, message) is overflow


def test_the_servers_window_sets_the_budget_and_max_tokens(tmp_path: Path) -> None:
    llm = Scripted([_wait()], window=6_144)
    shop = make_shop(tmp_path, llm=llm)
    shop.policy.act(shop.toolbox, reason="open_day")
    assert shop.policy.context_window == 6_144
    assert llm.requests[0].max_tokens <= 6_144 // 4
    assert shop.policy.convo.budget_tokens + llm.requests[0].max_tokens < 6_144


def test_a_tool_call_written_as_text_is_a_malformed_call(tmp_path: Path) -> None:
    llm = Scripted([_text('I will check.\n```json\n{"name": "check_balance", "arguments": {}}\n```'), _wait()])
    shop = make_shop(tmp_path, llm=llm)
    shop.policy.act(shop.toolbox, reason="open_day")
    f = shop.policy.summary_fields()
    assert f["llm_text_tool_calls"] == 1 and f["coherence_errors"]["malformed_calls"] == 1


def test_tools_dropped_by_the_server_are_an_error_not_an_idle_model(tmp_path: Path) -> None:
    llm = Scripted([_text("Hello! How can I help?")], drop_tools=True)
    shop = make_shop(tmp_path, llm=llm)
    shop.policy.act(shop.toolbox, reason="open_day")
    f = shop.policy.summary_fields()
    assert f["llm_tools_dropped"] == 1 and f["llm_api_errors"] == 1
    assert f["llm_session_ends"] == {"tools_dropped": 1}
    events = [json.loads(x) for x in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "tools_dropped" for e in events)


def _request() -> LlmRequest:
    return LlmRequest(system=[{"type": "text", "text": "You run a shop."}],
                      messages=[{"role": "user", "content": [{"type": "text", "text": "Morning."}]}],
                      tools=[], max_tokens=64, model="m")


def test_llama_cpp_overflow_is_context_overflow_without_retrying(fake: FakeAnthropic) -> None:
    fake.add(ApiError(status=400, type="exceed_context_size_error",
                      message="request (9000 tokens) exceeds the available context size (8192 tokens)"))
    llm = AnthropicLLM(settings=LlmSettings(base_url=fake.url, max_retries=3, timeout_s=10), api_key="sk-x")
    with pytest.raises(LlmContextOverflow):
        llm.complete(_request())
    assert llm.http_requests == 1 and llm.retries == 0


def test_every_timeout_and_retry_is_counted_and_reported() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        llm = AnthropicLLM(settings=LlmSettings(base_url=url, max_retries=2, timeout_s=0.3), api_key="sk-x",
                           sleep=lambda s: None)
        with pytest.raises(LlmUnavailable, match="timed out 3 times"):
            llm.complete(_request())
    assert (llm.http_requests, llm.timeouts, llm.retries) == (3, 3, 2)
    assert [e["event"] for e in llm.drain_events()] == ["llm_timeout", "llm_retry", "llm_timeout", "llm_retry",
                                                         "llm_timeout"]


def test_answers_after_a_retry(fake: FakeAnthropic) -> None:
    fake.add(ApiError(status=503, type="api_error", message="busy"), reply("Hello."))
    llm = AnthropicLLM(settings=LlmSettings(base_url=fake.url, max_retries=1, timeout_s=10), api_key="sk-x",
                       sleep=lambda s: None)
    assert llm.complete(_request()).content == [{"type": "text", "text": "Hello."}]
    assert (llm.http_requests, llm.retries, len(fake.message_requests)) == (2, 1, 2)


def test_a_model_on_loopback_is_free_unless_elsewhere() -> None:
    assert LlmSettings(base_url="http://127.0.0.1:8088").price().output == 0
    assert LlmSettings(base_url="http://localhost:8088").price().input == 0
    assert LlmSettings(base_url="https://api.anthropic.com").price().output > 0


def test_the_printed_summary_has_the_llm_lines(tmp_path: Path) -> None:
    from bridge.cli_llm import llm_rows

    shop = make_shop(tmp_path, llm=Scripted([_wait()]))
    shop.policy.act(shop.toolbox, reason="open_day")
    rows = dict(llm_rows(shop.policy.summary_fields()))
    assert len(rows) >= 8 and llm_rows({"scenario": "vb1"}) == []
