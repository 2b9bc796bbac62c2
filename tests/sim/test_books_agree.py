"""At every day's close the simulator's hidden truth and the ledger agree on money and units."""

import pytest

from bridge.ledger import PREPAID
from sim_backend.scoring import books_disagree


@pytest.mark.parametrize("policy", ["baseline", "oracle"])
def test_truth_and_ledger_agree_at_every_close_of_a_year(make_sim, policy) -> None:
    sim = make_sim(seed=3, policy=policy)
    closes: list[str] = []
    problems: list[tuple[str, list[str]]] = []

    def check(record) -> None:
        closes.append(record.day)
        found = books_disagree(sim.world, sim.ledger)
        if found:
            problems.append((record.day, found))

    sim.runtime.on_day = check
    outcome = sim.run()
    assert outcome.days_run == 365 and len(closes) == 365
    assert problems == []
    assert sim.ledger.anomalies == []
    assert sum(sim.ledger.balances.values()) == 0
    # what was paid and not yet delivered is exactly what the open orders still owe
    assert sim.ledger.balance(PREPAID) == sum(o.prepaid_left for o in sim.ledger.open_orders())
    # and the books on disk say what the books in memory say
    rows = sim.store.rows("day_close")
    assert len(rows) == 365
    assert rows[-1]["net_worth_cents"] == sim.ledger.net_worth_cents
