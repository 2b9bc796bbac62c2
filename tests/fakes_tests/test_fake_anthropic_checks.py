"""The fake Anthropic API rejects what the real one rejects, and records why (raw HTTP, no SDK)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_api import FakeAnthropic, reply
from tests.fakes.anthropic_checks import check_request

HEADERS = {"x-api-key": "test", "anthropic-version": "2023-06-01"}
TOOL = {
    "name": "get_inventory",
    "input_schema": {"type": "object", "properties": {"slot": {"type": "string"}}},
}
USE = {"type": "tool_use", "id": "toolu_1", "name": "get_inventory", "input": {"slot": "A1"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3"}
GOOD: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "tools": [TOOL],
    "messages": [
        {"role": "user", "content": "stock?"},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": [RESULT, {"type": "text", "text": "thanks"}]},
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as running:
        yield running


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()  # one server per module: stopping one takes up to LoopbackServer's 0.5 s poll
    return server


def post(fake: FakeAnthropic, body: Any, headers: dict[str, str] = HEADERS) -> httpx.Response:
    return httpx.post(fake.url + "/v1/messages", json=body, headers=headers, timeout=10)


def test_a_good_request_breaks_no_rule(fake: FakeAnthropic) -> None:
    fake.add(reply("fine"))
    resp = post(fake, GOOD)
    assert resp.status_code == 200 and resp.json()["content"] == [{"type": "text", "text": "fine"}]
    assert resp.headers["request-id"].startswith("req_")
    assert fake.violations == []


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    change(body)
    return body


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "no model": (lambda b: b.pop("model"), "required_field"),
    "no max_tokens": (lambda b: b.pop("max_tokens"), "required_field"),
    "no messages": (lambda b: b.update(messages=[]), "required_field"),
    "assistant first": (lambda b: b["messages"].insert(0, {"role": "assistant", "content": "hi"}), "roles"),
    "two users in a row": (lambda b: b["messages"].append({"role": "user", "content": "again"}), "roles"),
    "bad role": (lambda b: b["messages"][0].update(role="system"), "roles"),
    "result for another id": (
        lambda b: b["messages"][2]["content"][0].update(tool_use_id="toolu_2"),
        "tool_result_without_tool_use",
    ),
    "tool_use without result": (
        lambda b: b["messages"][2].update(content="thanks"),
        "tool_use_without_tool_result",
    ),
    "tool_use left last": (lambda b: b["messages"].pop(), "tool_use_without_tool_result"),
    "text before result": (lambda b: b["messages"][2]["content"].reverse(), "tool_result_order"),
    "tool blocks without tools": (lambda b: b.pop("tools"), "tools_without_definitions"),
    "tool name with space": (lambda b: b["tools"][0].update(name="get inventory"), "tool_name"),
    "tool name too long": (lambda b: b["tools"][0].update(name="x" * 65), "tool_name"),
    "schema not an object": (lambda b: b["tools"][0].update(input_schema={"type": "string"}), "tool_schema"),
    "schema invalid": (
        lambda b: b["tools"][0]["input_schema"].update(properties={"slot": {"type": 5}}),
        "tool_schema",
    ),
    "choice names no tool": (lambda b: b.update(tool_choice={"type": "tool", "name": "nope"}), "tool_choice"),
    "empty user content": (lambda b: b["messages"][0].update(content=""), "empty_content"),
    "five breakpoints": (
        lambda b: b.update(
            system=[
                {"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(5)
            ]
        ),
        "cache_control_limit",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_request_is_a_400_with_the_real_error_shape(fake: FakeAnthropic, case: str) -> None:
    change, rule = CASES[case]
    fake.add(reply("never played"))
    resp = post(fake, _edit(change))
    assert resp.status_code == 400
    body = resp.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"]
    assert rule in [v.rule for v in fake.violations]
    assert fake.remaining == 1 and fake.requests[0].step is None


def test_four_breakpoints_are_allowed_and_a_final_assistant_prefill_too() -> None:
    body = _edit(
        lambda b: b.update(
            system=[
                {"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(4)
            ]
        )
    )
    body["messages"].append({"role": "assistant", "content": "The answer is"})
    assert check_request(body) == []


def test_missing_api_key_is_401_and_missing_version_is_400(fake: FakeAnthropic) -> None:
    no_key = post(fake, GOOD, {"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"
    no_version = post(fake, GOOD, {"x-api-key": "test"})
    assert no_version.status_code == 400
    assert [v.rule for v in fake.violations] == ["header_auth", "header_anthropic_version"]
    assert fake.requests[1].headers["x-api-key"] == "test"


def test_unknown_path_is_404(fake: FakeAnthropic) -> None:
    resp = httpx.post(fake.url + "/v1/complete", json={}, headers=HEADERS, timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"
