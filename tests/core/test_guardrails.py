from datetime import UTC, datetime, timedelta

import pytest

from bridge.domain import Quote, QuoteLine
from bridge.errors import ApprovalRequired, ConfigError, GuardrailRefusal
from bridge.guardrails import GuardrailPolicy, Guardrails

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


class Ctx:
    def __init__(self) -> None:
        self.spent = 0
        self.quotes = {
            "q1": Quote(quote_id="q1", supplier="honest", lead_time_days=2, valid_until=NOW + timedelta(days=3),
                        lines=(QuoteLine(sku="cola", quantity=100, unit_cost_cents=50),)),
            "q2": Quote(quote_id="q2", supplier="stranger", lead_time_days=2, valid_until=NOW,
                        lines=(QuoteLine(sku="cola", quantity=1, unit_cost_cents=50),)),
            "big": Quote(quote_id="big", supplier="honest", lead_time_days=2, valid_until=NOW,
                         lines=(QuoteLine(sku="cola", quantity=2000, unit_cost_cents=50),)),
        }

    def unit_cost(self, sku): return 50 if sku == "cola" else None
    def sku_at(self, machine, slot): return "cola"
    def category(self, sku): return "soda"
    def spent_today_cents(self): return self.spent
    def refunded_today_cents(self): return 0
    def quote(self, qid): return self.quotes.get(qid)
    def directory(self): return frozenset({"honest"})
    def messages_sent_since(self, since): return 0
    def now(self): return NOW


def test_price_floor_and_ceiling() -> None:
    g = Guardrails(GuardrailPolicy())
    g.price(Ctx(), {"slot": "A1", "price_cents": 150})
    with pytest.raises(GuardrailRefusal) as low:
        g.price(Ctx(), {"slot": "A1", "price_cents": 40})
    assert low.value.rule == "price_floor"
    with pytest.raises(GuardrailRefusal) as high:
        g.price(Ctx(), {"slot": "A1", "price_cents": 1999})
    assert high.value.rule == "price_ceiling"  # 6x the cost


def test_spending_rules() -> None:
    g = Guardrails(GuardrailPolicy(approval_threshold_cents=4_000, order_cap_cents=90_000))
    with pytest.raises(GuardrailRefusal) as stranger:
        g.spend(Ctx(), {"quote_id": "q2"})
    assert stranger.value.rule == "verified_recipient"
    with pytest.raises(ApprovalRequired):
        g.spend(Ctx(), {"quote_id": "q1"})  # 5,000c is above the 4,000c threshold
    with pytest.raises(GuardrailRefusal) as cap:
        g.spend(Ctx(), {"quote_id": "big"})
    assert cap.value.rule == "order_cap"


def test_price_coordination_messages_are_refused_when_switched_on() -> None:
    g = Guardrails(GuardrailPolicy(refuse_price_coordination=True))
    g.message(Ctx(), {"text": "Happy to swap some Snickers for your Coke."})
    with pytest.raises(GuardrailRefusal):
        g.message(Ctx(), {"text": "Let's agree on prices: neither of us goes under $2."})


def test_policy_file_errors_are_one_clear_line(tmp_path) -> None:
    bad = tmp_path / "g.toml"
    bad.write_text("price_floor_markup = -1\n")
    with pytest.raises(ConfigError, match="price_floor_markup"):
        GuardrailPolicy.load(bad)
    bad.write_text("no_such_rule = 1\n")
    with pytest.raises(ConfigError, match="no_such_rule"):
        GuardrailPolicy.load(bad)


def test_the_ops_policy_file_parses() -> None:
    from pathlib import Path

    policy = GuardrailPolicy.load(Path(__file__).parents[2] / "ops" / "guardrails.toml")
    assert policy.price_floor_markup >= 1.0


def test_the_policy_defaults_are_declared_alike_in_the_file_schema_and_the_policy() -> None:
    # GuardrailPolicy() (built-in defaults) and an empty policy file must mean the same rules
    assert GuardrailPolicy() == GuardrailPolicy.from_mapping({})
