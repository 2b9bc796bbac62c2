"""Every stop reason of the Messages API, through the real SDK and the fake: what the policy keeps,
runs and sends next, with every request well-formed (roles alternate, each tool_use answered)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.anthropic_api import FakeAnthropic, overloaded, reply, tool_use
from tests.llm.rig import Shop, make_shop


def act(shop: Shop, reason: str = "open_day") -> int:
    shop.toolbox.turn_ended = False
    return shop.policy.act(shop.toolbox, reason=reason)


def texts(request_json: dict) -> str:
    return str(request_json["messages"])


@pytest.fixture
def shop(fake: FakeAnthropic, tmp_path: Path) -> Shop:
    return make_shop(tmp_path, base_url=fake.url)


def test_tool_use_runs_the_calls_and_wait_for_next_day_ends_the_session(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply(tool_use("check_balance", {}), tool_use("check_storage", {})),
             reply("Done for today.", tool_use("wait_for_next_day", {})),
             reply("Morning.", stop_reason="end_turn"))
    assert act(shop) == 2
    assert shop.toolbox.counts == {"check_balance": 1, "check_storage": 1, "wait_for_next_day": 1}
    assert shop.policy.session_ends == {"wait_for_next_day": 1}
    assert act(shop) == 1  # the next session first answers the wait_for_next_day call
    last = fake.message_requests[-1].json["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]
    assert fake.violations == []


def test_end_turn_and_stop_sequence_end_the_session(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply("Nothing to do."), reply("Stopped.", stop_reason="stop_sequence"), reply("ok"))
    assert act(shop) == 1 and act(shop) == 1 and act(shop) == 1
    assert shop.policy.session_ends == {"end_turn": 2, "stop_sequence": 1}
    assert shop.policy.stop_reasons == {"end_turn": 2, "stop_sequence": 1}
    assert fake.violations == []


def test_max_tokens_drops_an_unfinished_call_says_so_and_goes_on(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply("I will restock A1.", tool_use("restock", {"slots": [{"slot": "A1"}]}), stop_reason="max_tokens"),
             reply("Cut short again", stop_reason="max_tokens"),
             reply("Fine.", stop_reason="end_turn"))
    assert act(shop) == 3
    assert "restock" not in shop.toolbox.counts  # the truncated call never ran
    second, third = fake.message_requests[1].json, fake.message_requests[2].json
    assert second["messages"][-2]["content"] == [{"type": "text", "text": "I will restock A1."}]
    assert "unfinished call to restock was dropped" in texts(second)
    assert "Continue, briefly" in texts(third)
    assert fake.violations == []


def test_pause_turn_asks_again_with_the_model_turn_last(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply("Working on it", stop_reason="pause_turn"), reply("Done."))
    assert act(shop) == 2
    second = fake.message_requests[1].json["messages"]
    assert second[-1]["role"] == "assistant" and second[-1]["content"][0]["text"] == "Working on it"
    assert shop.policy.session_ends == {"end_turn": 1}
    assert fake.violations == []


def test_refusal_ends_the_session_and_the_refused_turn_is_not_kept(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply("I can't help with that.", stop_reason="refusal"), reply("Good morning."))
    assert act(shop) == 1
    assert shop.policy.session_ends == {"refusal": 1}
    assert act(shop) == 1
    nxt = fake.message_requests[1].json["messages"]
    assert "I can't help" not in str(nxt) and [m["role"] for m in nxt] == ["user"]  # two intros, one message
    assert fake.violations == []


def test_context_window_exceeded_trims_hard_and_goes_on(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(*[reply("Looking.", tool_use("check_machine", {})) for _ in range(6)],
             reply("Hm", tool_use("check_machine", {}), stop_reason="model_context_window_exceeded"),
             reply("ok"))
    assert act(shop) == 8
    assert shop.toolbox.counts["check_machine"] == 6 and shop.policy.convo.trims >= 1
    last = fake.message_requests[-1].json["messages"]
    assert "trimmed to fit the context budget" in str(last[0]) and len(last) < 14
    assert fake.violations == []


def test_an_api_outage_ends_the_session_and_the_next_one_carries_on(fake: FakeAnthropic, shop: Shop) -> None:
    fake.add(reply(tool_use("check_balance", {})), *[overloaded(retry_after="0.01")] * 4, reply("Back."))
    assert act(shop) == 1
    assert shop.policy.api_errors == 1 and shop.policy.session_ends == {"api_error": 1}
    assert act(shop) == 1
    assert fake.violations == []
    assert [m["role"] for m in fake.message_requests[-1].json["messages"]] == ["user", "assistant", "user"]


def test_the_message_cap_stops_the_run(fake: FakeAnthropic, tmp_path: Path) -> None:
    from bridge.llm.settings import LlmSettings

    shop = make_shop(tmp_path, base_url=fake.url,
                     settings=LlmSettings(base_url=fake.url, max_messages=3, timeout_s=10))
    fake.add(*[reply(tool_use("check_balance", {})) for _ in range(5)])
    assert act(shop) == 3 and act(shop) == 0
    assert shop.policy.session_ends == {"message_cap": 1} and len(fake.message_requests) == 3
