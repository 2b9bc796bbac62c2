"""The scripted policy plays its script through the real tool layer, with `$tool.key` references."""

from __future__ import annotations

import pytest

from bridge.compose.sim import build_sim
from bridge.errors import ConfigError
from bridge.policies.scripted import ScriptedPolicy, load_script
from bridge.settings import SimSettings


def test_a_script_orders_then_references_the_quote(tmp_path) -> None:
    script = tmp_path / "s.json"
    script.write_text("""{"days": [{"day": 2, "calls": [
        {"tool": "request_quote", "args": {"supplier": "quickmart", "items": {"coke-12oz": 100}}},
        {"wait": "quote"},
        {"tool": "place_order", "args": {"quote_id": "$quote.quote_id"}}]}],
      "every_day": [{"tool": "check_balance"}]}""")
    sim = build_sim(SimSettings(policy=f"scripted:{script}", days=5, out_dir=tmp_path, run_name="r", charts=False))
    sim.run()
    policy = sim.policy
    assert isinstance(policy, ScriptedPolicy)
    # the order waits for the quote: placed once it is in the inbox, after the day's other calls
    assert policy.results[:4] == [("check_balance", True), ("request_quote", True), ("check_balance", True),
                                  ("place_order", True)]
    assert policy.held == [] and policy.last["quote"]["quote_id"] == policy.last["request_quote"]["quote_id"]
    assert sum(1 for tool, _ in policy.results if tool == "check_balance") == 5
    orders = list(sim.ledger.orders.values())
    assert len(orders) == 1 and orders[0].supplier == "quickmart"
    assert sim.ledger.storage().get("coke-12oz") == 100  # delivered within the five days


def test_a_wait_holds_the_calls_after_it_until_a_quote_arrives(tmp_path) -> None:
    script = tmp_path / "s.toml"
    script.write_text("""[[days]]
day = 1
calls = [
  { tool = "request_quote", args = { supplier = "quickmart", items = { "coke-12oz" = 10 } } },
  { wait = "quote" },
  { tool = "place_order", args = { quote_id = "$quote.quote_id" } },
  { wait = "quote" },  # no second quote was asked for: held to the end
  { tool = "check_balance" },
]
""")
    sim = build_sim(SimSettings(policy=f"scripted:{script}", days=3, out_dir=tmp_path, run_name="r", charts=False))
    sim.run()
    policy = sim.policy
    assert isinstance(policy, ScriptedPolicy)
    assert [tool for tool, _ in policy.results] == ["request_quote", "place_order"]
    assert [c.wait or c.tool for c in policy.held] == ["quote", "check_balance"]
    assert len(sim.ledger.orders) == 1


def test_a_call_is_a_tool_or_a_wait(tmp_path) -> None:
    for body in ('{ wait = "quote", tool = "check_balance" }', "{ }", '{ wait = "email" }',
                 '{ wait = "quote", args = { a = 1 } }'):
        bad = tmp_path / "bad.toml"
        bad.write_text(f"[[days]]\nday = 1\ncalls = [ {body} ]\n")
        with pytest.raises(ConfigError):
            load_script(bad)


def test_script_errors_are_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[days]]\nday = 0\n')
    with pytest.raises(ConfigError, match=r"days\.0\.day"):
        load_script(bad)
    with pytest.raises(ConfigError, match="script file"):
        load_script(tmp_path / "missing.toml")
