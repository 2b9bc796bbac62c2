"""`vend hil --faults`: what the real world does and the simulator does not, on a seeded schedule (the
run seed's "hil-faults" stream): a device delivering a message twice, the broker restarting, Stripe
replaying a webhook and delivering an older one late, Slack retrying a request. The books must not
notice: every input carries its id, and the shop records each once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sim_backend.rng import rng_for

# the chance of each fault at each opportunity (a sale, a world step, a payout, a Slack request)
RATES = {"mqtt_duplicate": 0.25, "broker_restart": 0.04, "webhook_replay": 0.5, "slack_retry": 0.25}


@dataclass(slots=True)
class Faults:
    seed: int
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))
    done: Counter[str] = field(default_factory=Counter)
    rng: Any = None

    def __post_init__(self) -> None:
        self.rng = rng_for(self.seed, "hil-faults")

    def roll(self, kind: str) -> bool:
        """Whether this opportunity gets the fault (and count it)."""
        if self.rng.random() < self.rates[kind]:
            self.done[kind] += 1
            return True
        return False

    def pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]
