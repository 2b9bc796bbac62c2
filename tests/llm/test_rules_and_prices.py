"""The rules each scenario gives the LLM, and the price table: Anthropic's published prices, an unknown
model refused unless priced, a local model free unless priced."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.live.config import LlmSection
from bridge.llm.rules import LlmRules
from bridge.llm.settings import FREE, LlmSettings, Price
from sim_backend.scenario import load_scenario


@pytest.mark.parametrize(("name", "score", "billing", "cap", "parallel"), [
    ("vb1", "net_worth", False, 2_000, True),
    ("vb2", "bank", True, 4_000, False),
    ("project_vend", "net_worth", False, 6_000, True),
])
def test_each_scenario_brings_its_own_rules(name: str, score: str, billing: bool, cap: int, parallel: bool) -> None:
    rules = LlmRules.from_scenario(load_scenario(name))
    assert (rules.score, rules.billing, rules.cap, rules.parallel) == (score, billing, cap, parallel)
    assert rules.tool_choice() == (None if parallel else {"type": "auto", "disable_parallel_tool_use": True})
    assert LlmRules.from_scenario(load_scenario(name), charge_flag=True).billing


@pytest.mark.parametrize(("model", "price"), [
    ("claude-opus-4-6", (5.0, 6.25, 0.50, 25.0)),
    ("claude-opus-4-5-20251101", (5.0, 6.25, 0.50, 25.0)),
    ("claude-opus-4-1", (15.0, 18.75, 1.50, 75.0)),
    ("claude-opus-4-20250514", (15.0, 18.75, 1.50, 75.0)),
    ("claude-sonnet-4-6", (3.0, 3.75, 0.30, 15.0)),
    ("claude-sonnet-4-5", (3.0, 3.75, 0.30, 15.0)),
    ("claude-sonnet-4-20250514", (3.0, 3.75, 0.30, 15.0)),
    ("claude-haiku-4-5", (1.0, 1.25, 0.10, 5.0)),
])
def test_prices_match_anthropics_table(model: str, price: tuple[float, float, float, float]) -> None:
    p = LlmSettings(model=model).price()
    assert (p.input, p.cache_write, p.cache_read, p.output) == price


def test_an_unknown_model_is_refused_unless_priced_and_a_local_one_is_free() -> None:
    with pytest.raises(ConfigError) as err:
        LlmSettings(model="gpt-oss-120b").price()
    assert "\n" not in str(err.value)
    mine = Price(input=0.5, cache_write=0.5, cache_read=0.05, output=2.0)
    assert LlmSettings(model="gpt-oss-120b", price_override=mine).price() == mine
    assert LlmSettings(model="qwen3-8b", base_url="http://localhost:8080").price() == FREE
    assert LlmSettings(model="claude-sonnet-4-6", base_url="http://127.0.0.1:9000/v1").price() == FREE
    assert LlmSettings(model="qwen3-8b", base_url="http://127.0.0.1:8080", price_override=mine).price() == mine
    with pytest.raises(ConfigError):
        LlmSettings(model="qwen3-8b", base_url="https://models.example.com").price()


def test_the_live_config_prices_a_model_or_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        LlmSection(model="mystery-1").settings()
    settings = LlmSection.model_validate({"model": "mystery-1", "price": {"input": 1, "output": 4}}).settings()
    assert settings.price().output == 4.0
    assert LlmSettings(model="claude-opus-4-6").min_cacheable_tokens() == 4_096
    assert LlmSettings(model="claude-sonnet-4-5").min_cacheable_tokens() == 1_024
