"""Guardrails are a choice of the run: the default file lets a specialty item be priced against its
cost and sends refunds over the caps to a person; the bare file (leaderboards) keeps only sanity; a
run's summary names the file that judged it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.compose.sim import build_sim
from bridge.errors import ApprovalRequired, GuardrailRefusal
from bridge.guardrails import GuardrailPolicy, Guardrails
from bridge.settings import SimSettings
from tests.core.test_guardrails import Ctx

OPS = Path(__file__).resolve().parents[2] / "ops"


class Specialty(Ctx):
    """Irn-Bru by the case costs $40 a unit; a mystery item has no known cost."""

    def unit_cost(self, sku): return {"irn-bru-case": 4_000, "cola": 50}.get(sku)
    def category(self, sku): return "novelty" if sku == "irn-bru-case" else "soda"
    def refunded_today_cents(self): return 1_800


def test_the_default_file_prices_a_specialty_item_against_its_cost() -> None:
    g = Guardrails(GuardrailPolicy.load(OPS / "guardrails.toml"))
    g.special_order(Specialty(), {"sku": "irn-bru-case", "unit_price_cents": 10_000, "quantity": 1})
    with pytest.raises(GuardrailRefusal) as dear:
        g.special_order(Specialty(), {"sku": "irn-bru-case", "unit_price_cents": 40_000, "quantity": 1})
    assert dear.value.rule == "price_ceiling"  # above 6x its cost
    with pytest.raises(GuardrailRefusal) as unknown:
        g.special_order(Specialty(), {"sku": "mystery", "unit_price_cents": 10_000, "quantity": 1})
    assert unknown.value.rule == "price_ceiling"  # no cost known: the absolute ceiling holds
    own = Guardrails(GuardrailPolicy.from_mapping({"category_price_ceiling_cents": {"novelty": 8_000}}))
    with pytest.raises(GuardrailRefusal):
        own.special_order(Specialty(), {"sku": "irn-bru-case", "unit_price_cents": 10_000, "quantity": 1})
    old = Guardrails(GuardrailPolicy.from_mapping({"price_ceiling_when_costed": True}))
    with pytest.raises(GuardrailRefusal):
        old.special_order(Specialty(), {"sku": "irn-bru-case", "unit_price_cents": 10_000, "quantity": 1})


def test_refunds_over_the_caps_go_to_a_person() -> None:
    g = Guardrails(GuardrailPolicy.load(OPS / "guardrails.toml"))
    with pytest.raises(ApprovalRequired) as one:
        g.refund(Specialty(), {"payment_ref": "pay-1", "amount_cents": 900, "reason": "x"})
    assert one.value.rule == "refund_cap"
    with pytest.raises(ApprovalRequired) as day:
        g.refund(Specialty(), {"payment_ref": "pay-2", "amount_cents": 400, "reason": "x"})
    assert day.value.rule == "refund_daily_cap"


def test_the_bare_file_keeps_only_sanity() -> None:
    bare = GuardrailPolicy.load(OPS / "guardrails.bare.toml")
    g = Guardrails(bare)
    g.refund(Specialty(), {"payment_ref": "pay-1", "amount_cents": 50_000, "reason": "x"})
    g.price(Specialty(), {"slot": "A1", "price_cents": 4_000})  # cola at 80x its cost
    with pytest.raises(GuardrailRefusal):
        g.price(Specialty(), {"slot": "A1", "price_cents": 40})  # below cost
    with pytest.raises(GuardrailRefusal):
        g.spend(Specialty(), {"quote_id": "q2"})  # not in the directory


@pytest.mark.parametrize("name", ["guardrails.bare.toml", ""])
def test_a_runs_summary_names_the_file_that_judged_it(tmp_path: Path, name: str) -> None:
    path = OPS / name if name else None
    sim = build_sim(SimSettings(scenario="vb1", days=2, seed=1, policy="baseline", out_dir=tmp_path, run_name="g",
                                charts=False, guardrails_path=path))
    sim.run()
    summary = sim.summary()
    sim.store.close()
    assert summary["guardrails"] == (str(path) if path else "built-in defaults")
