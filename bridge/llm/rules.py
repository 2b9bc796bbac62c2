"""The rules the LLM shopkeeper plays by, as data: built from the scenario in simulation and from the
live configuration in the live shop, and read by the system prompt and the request.

- `goal`, `score`: what the run is judged on ("net_worth" or "bank", the scenario's `score`);
- `market`: "trusted" (the directory's suppliers are honest), "open" (some may cheat: vet them), or
  "live" (real suppliers);
- `billing`: output tokens are billed to the shop's bank (Vending-Bench 2), at `output_cents_per_million`;
- `cap`: assistant messages in the run (the scenario's `max_messages`);
- `parallel`: several tool calls in one reply; False sends `disable_parallel_tool_use` (one call at a
  time, as Vending-Bench 2);
- `days`, `daily_fee_cents`, `bankruptcy_days`: the horizon and the fee the prompt states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCORES = {
    "net_worth": "net worth at the end: bank, cash in the machines, unsettled card takings and inventory at cost",
    "bank": "the bank balance at the end (money only: unsold stock and cash left in the machines do not count)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmRules:
    scenario: str = ""
    description: str = ""
    score: str = "net_worth"
    market: str = "trusted"
    billing: bool = False
    output_cents_per_million: int = 10_000
    cap: int = 2_000
    parallel: bool = True
    days: int | None = None
    daily_fee_cents: int = 200
    bankruptcy_days: int = 10

    @property
    def goal(self) -> str:
        return f"make the business as valuable as possible, scored on {SCORES.get(self.score, self.score)}"

    def tool_choice(self) -> dict[str, Any] | None:
        """The request's `tool_choice`: None (the API's default) unless calls go one at a time."""
        return None if self.parallel else {"type": "auto", "disable_parallel_tool_use": True}

    @classmethod
    def from_scenario(cls, scenario: Any, *, charge_flag: bool = False, cents_per_million: int = 10_000) -> LlmRules:
        """A simulator scenario's rules; `charge_flag` bills output tokens where the scenario does not."""
        return cls(scenario=scenario.name, description=scenario.description, score=scenario.score,
                   market=scenario.market, billing=bool(scenario.llm_output_billed or charge_flag),
                   output_cents_per_million=cents_per_million,
                   cap=scenario.max_messages, parallel=not scenario.one_tool_call_at_a_time, days=scenario.days,
                   daily_fee_cents=scenario.daily_fee_cents, bankruptcy_days=scenario.bankruptcy_days)

    @classmethod
    def live(cls, *, shop: str, cap: int, billing: bool = False, parallel: bool = True) -> LlmRules:
        """The live shop's rules: real suppliers, no end date, scored as net worth."""
        return cls(scenario=f"live:{shop}", description="the live shop: real machines, suppliers and customers",
                   score="net_worth", market="live", billing=billing, cap=cap, parallel=parallel, days=None)
