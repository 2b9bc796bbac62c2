"""`vend hil --faults`: what the real world does and the simulator does not, on a seeded schedule (the
run seed's "hil-faults" stream): a device delivering a message twice, the broker restarting, Stripe
replaying a webhook and delivering an older one late, Slack retrying a request, and the shop's process
SIGKILLed and started again (bridge/compose/hil_process.py) while device messages, a Slack request or a
webhook are in flight. The books must not notice: every input carries its id, the shop records each
once, what it did not acknowledge comes again, and a restarted shop carries on from its store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sim_backend.rng import rng_for

# the chance of each fault at each opportunity (a sale, a world step, a payout, a Slack request)
RATES = {"mqtt_duplicate": 0.25, "broker_restart": 0.04, "webhook_replay": 0.5, "slack_retry": 0.25}
# the chance of a shop kill at each opportunity while the shop waits between jobs, by what is in flight
# (device messages of a world step, a Slack request, a payout webhook); a stream of its own ("hil-kill"),
# so the other faults fall as they did before kills existed
KILL_RATES = {"mqtt": 0.06, "slack": 0.04, "webhook": 0.15}


@dataclass(slots=True)
class Faults:
    seed: int
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))
    done: Counter[str] = field(default_factory=Counter)
    rng: Any = None
    kill_rates: dict[str, float] = field(default_factory=lambda: dict(KILL_RATES))
    kill_rng: Any = None

    def __post_init__(self) -> None:
        self.rng = rng_for(self.seed, "hil-faults")
        self.kill_rng = rng_for(self.seed, "hil-kill")

    def roll_kill(self, where: str) -> bool:
        """Whether the shop is killed at this opportunity (counted as shop_kill and shop_kill_<where>)."""
        if self.kill_rng.random() < self.kill_rates[where]:
            self.done["shop_kill"] += 1
            self.done[f"shop_kill_{where}"] += 1
            return True
        return False

    def kill_delay(self) -> float:
        """How far into a request the kill comes, in seconds (0 to 3 ms)."""
        return float(self.kill_rng.random() * 0.003)

    def roll(self, kind: str) -> bool:
        """Whether this opportunity gets the fault (and count it)."""
        if self.rng.random() < self.rates[kind]:
            self.done[kind] += 1
            return True
        return False

    def pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]
