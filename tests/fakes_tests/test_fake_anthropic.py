"""The fake Anthropic Messages API, driven by the real `anthropic` SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.fakes.anthropic_api import (
    FakeAnthropic,
    Reply,
    overloaded,
    rate_limited,
    reply,
    tool_use,
)
from tests.fakes.anthropic_script import STOP_REASONS, api_error

MODEL = "claude-sonnet-4-6"
TOOLS: list[Any] = [
    {
        "name": "get_inventory",
        "description": "Units left in a slot.",
        "input_schema": {"type": "object", "properties": {"slot": {"type": "string"}}, "required": ["slot"]},
    }
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as running:
        yield running


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()  # one server per module: stopping one takes up to LoopbackServer's 0.5 s poll
    return server


def client(fake: FakeAnthropic, *, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=max_retries, timeout=10)


def ask(c: anthropic.Anthropic, messages: list[Any], **kw: Any) -> anthropic.types.Message:
    return c.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=TOOLS, **kw)


def test_tool_use_round_trip(fake: FakeAnthropic) -> None:
    fake.add(reply("Let me look.", tool_use("get_inventory", {"slot": "A1"})), reply("A1 has 3 left."))
    c = client(fake)
    history: list[Any] = [{"role": "user", "content": "How many colas in A1?"}]
    first = ask(c, history)
    assert first.stop_reason == "tool_use"
    call = first.content[1]
    assert isinstance(call, anthropic.types.ToolUseBlock)
    assert (call.name, call.input) == ("get_inventory", {"slot": "A1"})
    history += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "3"}]},
    ]
    second = ask(c, history)
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text == "A1 has 3 left."
    assert fake.violations == []
    sent = fake.message_requests
    assert len(sent) == 2 and fake.remaining == 0
    assert sent[1].json["messages"][2]["content"][0]["tool_use_id"] == call.id
    assert sent[0].headers["authorization"] == "Bearer test"  # how SDK 2.x sends api_key
    assert sent[0].headers["anthropic-version"]
    assert sent[0].step == fake.message_requests[0].step and isinstance(sent[0].step, Reply)


@pytest.mark.parametrize("stop_reason", sorted(STOP_REASONS))
def test_every_stop_reason_parses(fake: FakeAnthropic, stop_reason: str) -> None:
    blocks: list[Any] = ["partial"]
    if stop_reason == "tool_use":
        blocks.append(tool_use("get_inventory", {"slot": "B2"}))
    fake.add(reply(*blocks, stop_reason=stop_reason))
    msg = ask(client(fake), [{"role": "user", "content": "hi"}], stop_sequences=["END"])
    assert msg.stop_reason == stop_reason
    assert msg.stop_sequence == ("END" if stop_reason == "stop_sequence" else None)
    assert fake.violations == []


def test_rate_limit_is_retried_after_the_servers_delay(fake: FakeAnthropic) -> None:
    fake.add(rate_limited(retry_after="1"), reply("ok"))
    started = time.monotonic()
    msg = ask(client(fake, max_retries=2), [{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - started
    assert msg.content[0].type == "text" and msg.content[0].text == "ok"
    sent = fake.message_requests
    assert [r.headers.get("x-stainless-retry-count") for r in sent] == ["0", "1"]
    # The SDK's own first backoff is at most 0.5 s: waiting a full second means it obeyed retry-after.
    assert elapsed >= 0.95


def test_rate_limit_without_retries_surfaces_the_real_error(fake: FakeAnthropic) -> None:
    fake.add(rate_limited(retry_after="7"))
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(client(fake), [{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error" and body["error"]["message"]
    assert caught.value.request_id == fake.message_requests[0].request_id


@pytest.mark.parametrize("error", [overloaded(), api_error()], ids=["529", "500"])
def test_server_errors_are_retried(fake: FakeAnthropic, error: Any) -> None:
    fake.add(error, reply("back"))
    msg = ask(client(fake, max_retries=1), [{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and msg.content[0].text == "back"
    assert len(fake.message_requests) == 2


def test_overloaded_without_retries_is_overloaded_error(fake: FakeAnthropic) -> None:
    fake.add(overloaded())
    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(client(fake), [{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_broken_transcript_is_a_bad_request_and_plays_no_step(fake: FakeAnthropic) -> None:
    fake.add(reply("never sent"))
    broken = [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "3"}]}
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(client(fake, max_retries=2), broken)
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert [v.rule for v in fake.violations] == ["tool_result_without_tool_use"]
    assert len(fake.message_requests) == 1 and fake.remaining == 1


def _cached_request(question: str, *, system: str = "You run the office fridge. " * 40) -> dict[str, Any]:
    return {
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": question}],
    }


def test_prompt_caching_creates_then_reads_the_prefix(fake: FakeAnthropic) -> None:
    fake.add(reply("a"), reply("b"), reply("c"), reply("d"))
    c = client(fake)
    first = ask(c, **_cached_request("What sells best?"))
    second = ask(c, **_cached_request("And the worst?"))
    third = ask(c, **_cached_request("Hi", system="A different shop. " * 40))
    prefix = first.usage.cache_creation_input_tokens
    assert prefix and prefix > 50
    assert first.usage.cache_read_input_tokens == 0
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, prefix)
    assert third.usage.cache_creation_input_tokens and third.usage.cache_read_input_tokens == 0
    # Uncached input plus the cached prefix is the whole prompt, as count_tokens sees it.
    counted = c.messages.count_tokens(model=MODEL, tools=TOOLS, **_cached_request("And the worst?"))
    assert second.usage.input_tokens + prefix == counted.input_tokens
    fake.forget_cache()
    again = ask(c, **_cached_request("What sells best?"))
    assert again.usage.cache_creation_input_tokens == prefix


def test_caching_reads_the_longest_cached_breakpoint(fake: FakeAnthropic) -> None:
    fake.add(reply("a"), reply("b"))
    c = client(fake)
    base = _cached_request("q1")
    first = ask(c, **base)
    turn = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "q2 " * 30, "cache_control": {"type": "ephemeral"}}],
        },
    ]
    second = ask(c, system=base["system"], messages=turn)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens and second.usage.cache_creation_input_tokens > 20
    assert second.usage.input_tokens == 0  # nothing after the last breakpoint


def test_step_usage_overrides_the_computed_counts(fake: FakeAnthropic) -> None:
    fake.add(reply("x", usage={"input_tokens": 1000, "output_tokens": 7}))
    msg = ask(client(fake), [{"role": "user", "content": "hi"}])
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (1000, 7)


def test_count_tokens_is_deterministic_and_grows_with_the_prompt(fake: FakeAnthropic) -> None:
    c = client(fake)

    def count(text: str) -> int:
        return c.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": text}], tools=TOOLS
        ).input_tokens

    short, again, long = count("hi"), count("hi"), count("hi " * 400)
    assert short == again
    assert 250 <= long - short <= 350  # 1200 more characters at about 4 per token
    assert fake.violations == [] and fake.remaining == 0
    assert [r.path for r in fake.requests] == ["/v1/messages/count_tokens"] * 3


def test_streaming_yields_the_real_event_sequence(fake: FakeAnthropic) -> None:
    words = "Cola is back in stock in slot A1, at 150 cents."
    fake.add(reply(words, tool_use("get_inventory", {"slot": "A1"}), usage={"output_tokens": 42}))
    c = client(fake)
    with c.messages.stream(
        model=MODEL, max_tokens=256, tools=TOOLS, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("content_block_start") == 2 and "message_delta" in kinds
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "text" and final.content[0].text == words
    call = final.content[1]
    assert call.type == "tool_use" and call.input == {"slot": "A1"}
    assert final.usage.output_tokens == 42 and final.usage.input_tokens > 0
    assert fake.message_requests[0].json["stream"] is True


def test_streaming_text_stream_reassembles_the_text(fake: FakeAnthropic) -> None:
    fake.add(reply("a fairly long answer that arrives in many small pieces"))
    with client(fake).messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        pieces = list(s.text_stream)
    assert len(pieces) > 1 and "".join(pieces) == "a fairly long answer that arrives in many small pieces"


def test_overload_in_the_middle_of_a_stream_raises(fake: FakeAnthropic) -> None:
    fake.add(overloaded(mid_stream=True))
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with client(fake).messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            s.get_final_message()
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_responder_reacts_to_what_it_sees(fake: FakeAnthropic) -> None:
    def shopkeeper(request: dict[str, Any]) -> Reply:
        last = request["messages"][-1]["content"]
        if isinstance(last, list) and last[0].get("type") == "tool_result":
            return reply(f"There are {last[0]['content']} left.")
        return reply(tool_use("get_inventory", {"slot": "C3"}))

    with FakeAnthropic(responder=shopkeeper) as server:
        c = client(server)
        history: list[Any] = [{"role": "user", "content": "Any water?"}]
        first = ask(c, history)
        call = first.content[0]
        assert call.type == "tool_use"
        history += [
            {"role": "assistant", "content": [call.model_dump(exclude_none=True)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "5"}]},
        ]
        second = ask(c, history)
        assert second.content[0].type == "text" and second.content[0].text == "There are 5 left."
        assert server.violations == []


def test_an_exhausted_script_fails_loudly_without_retries(fake: FakeAnthropic) -> None:
    with pytest.raises(anthropic.InternalServerError):
        ask(client(fake, max_retries=3), [{"role": "user", "content": "hi"}])
    assert len(fake.message_requests) == 1
    assert [v.rule for v in fake.violations] == ["script_exhausted"]
