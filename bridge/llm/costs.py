"""Token and dollar accounting per run, from the API's usage fields and the settings' price table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.llm.settings import Price
from bridge.ports import LlmUsage


@dataclass(slots=True)
class CostMeter:
    price: Price
    input_tokens: int = 0  # uncached input
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    peak_prompt_tokens: int = 0  # the largest prompt (input + cache writes + cache reads) of any call
    unbilled_output_tokens: int = 0  # output not yet charged to the shop (Vending-Bench 2 option)
    billed_cents: int = 0

    def add(self, usage: LlmUsage) -> int:
        """Count one reply's usage; returns its prompt size in tokens."""
        self.calls += 1
        self.input_tokens += usage.input_tokens
        self.cache_write_tokens += usage.cache_creation_input_tokens
        self.cache_read_tokens += usage.cache_read_input_tokens
        self.output_tokens += usage.output_tokens
        self.unbilled_output_tokens += usage.output_tokens
        prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        self.peak_prompt_tokens = max(self.peak_prompt_tokens, prompt)
        return prompt

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    @property
    def cache_read_share(self) -> float:
        return self.cache_read_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    @property
    def usd(self) -> float:
        p = self.price
        micro = (self.input_tokens * p.input + self.cache_write_tokens * p.cache_write
                 + self.cache_read_tokens * p.cache_read + self.output_tokens * p.output)
        return round(micro / 1_000_000, 6)

    def bill_output(self, cents_per_million: int) -> int:
        """Cents owed for the output tokens not yet billed; the fraction of a cent carries over."""
        cents = self.unbilled_output_tokens * cents_per_million // 1_000_000
        if cents:
            self.unbilled_output_tokens -= -(-cents * 1_000_000 // cents_per_million)
            self.unbilled_output_tokens = max(0, self.unbilled_output_tokens)
            self.billed_cents += cents
        return cents

    def fields(self) -> dict[str, Any]:
        return {"llm_calls": self.calls, "llm_input_tokens": self.input_tokens,
                "llm_cache_write_tokens": self.cache_write_tokens, "llm_cache_read_tokens": self.cache_read_tokens,
                "llm_output_tokens": self.output_tokens, "llm_cost_usd": self.usd,
                "llm_peak_prompt_tokens": self.peak_prompt_tokens,
                "llm_cache_read_share": round(self.cache_read_share, 4), "llm_billed_to_shop_cents": self.billed_cents}
