"""LLM settings: model, endpoint, limits and the price table. One frozen object, built at the
composition root; the API key is not here (it is read from ANTHROPIC_API_KEY by the adapter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """US dollars per million tokens."""

    input: float
    cache_write: float
    cache_read: float
    output: float


# Longest matching model-name prefix wins; "default" prices a model the table does not know.
PRICES: Mapping[str, Price] = MappingProxyType({
    "claude-opus-4-5": Price(input=5.0, cache_write=6.25, cache_read=0.50, output=25.0),
    "claude-opus-4": Price(input=15.0, cache_write=18.75, cache_read=1.50, output=75.0),
    "claude-sonnet-4": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-3-7-sonnet": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-haiku-4-5": Price(input=1.0, cache_write=1.25, cache_read=0.10, output=5.0),
    "claude-3-5-haiku": Price(input=0.80, cache_write=1.0, cache_read=0.08, output=4.0),
    "default": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
})


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmSettings:
    model: str = "claude-sonnet-4-6"
    base_url: str = ""  # empty: ANTHROPIC_BASE_URL, else the SDK's default endpoint
    max_tokens: int = 4_096  # per reply
    context_budget_tokens: int = 30_000  # system + tools + recent history
    max_messages: int = 2_000  # assistant messages per run; the run ends there
    max_turns_per_session: int = 40  # a session that never waits is cut here
    timeout_s: float = 120.0
    max_retries: int = 4  # the SDK's, with exponential backoff on 408/409/429/5xx/529
    max_consecutive_api_errors: int = 3  # requests failing in a row (after the retries) end the run
    max_result_chars: int = 6_000  # one tool result, as the model sees it
    charge_output_tokens: bool = False  # Vending-Bench 2: output tokens billed to the shop weekly
    output_token_cents_per_million: int = 10_000  # $100 per million
    prices: Mapping[str, Price] = field(default_factory=lambda: PRICES)

    def price(self) -> Price:
        best = max((k for k in self.prices if k != "default" and self.model.startswith(k)), key=len, default="")
        return self.prices[best] if best else self.prices["default"]
