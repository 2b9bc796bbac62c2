from datetime import UTC, datetime
from typing import Literal, Required, TypedDict

import pytest

from bridge.errors import GuardrailRefusal, ToolError
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.spec import Kind, build_spec, collect_specs, tool


class FixedClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 1, 5, 8, tzinfo=UTC)
        self.spent = 0.0

    def now(self) -> datetime:
        return self.t

    def spend(self, minutes: float) -> None:
        self.spent += minutes


class Tools:
    def __init__(self) -> None:
        self.prices: dict[str, int] = {}

    @tool(Kind.READ, minutes=5)
    def look(self, where: str, detail: Literal["short", "long"] = "short") -> dict[str, str]:
        """Look somewhere.

        Args:
            where: the place to look.
            detail: how much to say.
        """
        if where == "nowhere":
            raise ToolError("there is no such place")
        return {"where": where, "detail": detail}

    @tool(Kind.WRITE, minutes=10, guard="cap")
    def price(self, slot: str, cents: int, tags: list[str] | None = None) -> int:
        """Set a price."""
        self.prices[slot] = cents
        return cents


class Guards:
    def cap(self, ctx: Tools, args: dict) -> None:
        if args["cents"] > 1000:
            raise GuardrailRefusal("price_ceiling", "too dear")


@pytest.fixture
def box(tmp_path):
    store = Store(url=f"sqlite:///{tmp_path / 'audit.db'}")
    return Toolbox(tools=Tools(), guardrails=Guards(), clock=FixedClock(), store=store, shop="main", run_id="r1")


def test_schema_comes_from_signature_and_docstring() -> None:
    spec = build_spec(Tools.look)
    assert spec.kind is Kind.READ and spec.minutes == 5
    assert spec.description == "Look somewhere."
    props = spec.input_schema["properties"]
    assert spec.input_schema["required"] == ["where"]
    assert props["where"] == {"type": "string", "description": "the place to look."}
    assert props["detail"]["enum"] == ["short", "long"]
    price = build_spec(Tools.price).input_schema
    assert price["properties"]["tags"]["type"] == "array"
    assert list(collect_specs(Tools())) == ["look", "price"]


def test_a_write_tool_must_name_its_guardrail() -> None:
    with pytest.raises(TypeError, match="guardrail"):
        tool(Kind.WRITE, minutes=1)


def test_calls_are_validated_audited_and_cost_time(box: Toolbox) -> None:
    assert box.call("look", {"where": "A1"}).value == {"where": "A1", "detail": "short"}
    assert not box.call("look", {}).ok  # missing argument
    assert not box.call("look", {"where": 3}).ok  # wrong type
    assert not box.call("look", {"where": "A1", "extra": 1}).ok  # unknown argument
    assert not box.call("fly", {}).ok  # unknown tool
    err = box.call("look", {"where": "nowhere"})
    assert not err.ok and "no such place" in err.error
    assert box.clock.spent == 10  # two calls that reached the tool, 5 minutes each
    box.store.flush()
    rows = box.store.rows("audit_log")
    assert len(rows) == 6
    assert [r["ok"] for r in rows] == [True, False, False, False, False, False]


def test_a_guardrail_refusal_is_a_tool_error_and_an_audit_row(box: Toolbox) -> None:
    ok = box.call("price", {"slot": "A1", "cents": 200})
    refused = box.call("price", {"slot": "A1", "cents": 5000})
    assert ok.ok and ok.verdict == "allowed"
    assert not refused.ok and "price_ceiling" in refused.error
    assert box.refusals["price_ceiling"] == 1
    box.store.flush()
    rows = box.store.rows("audit_log")
    assert [r["verdict"] for r in rows] == ["allowed", "refused:price_ceiling"]
    assert rows[0]["idempotency_key"] and rows[0]["idempotency_key"] != rows[1]["idempotency_key"]


def test_shadow_mode_judges_each_write_and_has_the_twin_answer_it(tmp_path) -> None:
    tools, twin = Tools(), Tools()
    clock = FixedClock()
    box = Toolbox(tools=tools, guardrails=Guards(), clock=clock, store=Store(url=f"sqlite:///{tmp_path}/s.db"),
                  shop="main", run_id="r", shadow=True, twin=[twin])
    done = box.call("price", {"slot": "A1", "cents": 200})
    assert done.ok and done.value == 200 and done.verdict == "shadow"
    refused = box.call("price", {"slot": "A1", "cents": 2000})
    assert not refused.ok and refused.verdict == "refused:price_ceiling"
    assert box.call("look", {"where": "A1"}).verdict == "n/a"  # READs run for real
    assert tools.prices == {} and twin.prices == {"A1": 200}
    assert clock.spent == 15  # the twin's answer costs the tool's time, as the real call would
    box.store.flush()
    assert [r["verdict"] for r in box.store.rows("audit_log")] == ["shadow", "refused:price_ceiling", "n/a"]


def test_shadow_mode_needs_a_twin_for_every_write_but_the_exempt(tmp_path) -> None:
    store = Store(url=f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(TypeError, match="price"):
        Toolbox(tools=Tools(), guardrails=Guards(), clock=FixedClock(), store=store, shop="main", run_id="r",
                shadow=True)
    tools = Tools()
    box = Toolbox(tools=tools, guardrails=Guards(), clock=FixedClock(), store=store, shop="main", run_id="r",
                  shadow=True, shadow_exempt=["price"])
    assert box.call("price", {"slot": "B1", "cents": 100}).verdict == "allowed" and tools.prices == {"B1": 100}


class MoreTools:
    @tool(Kind.READ, minutes=1)
    def ping(self) -> str:
        """Say pong."""
        return "pong"


def test_several_tool_groups_share_one_toolbox(tmp_path) -> None:
    first = Tools()
    box = Toolbox(tools=[first, MoreTools()], guardrails=Guards(), clock=FixedClock(),
                  store=Store(url=f"sqlite:///{tmp_path}/g.db"), shop="main", run_id="r")
    assert box.call("ping").value == "pong"
    assert box.call("price", {"slot": "B2", "cents": 120}).ok and first.prices == {"B2": 120}
    with pytest.raises(TypeError, match="look"):
        Toolbox(tools=[Tools(), Tools()], guardrails=Guards(), clock=FixedClock(),
                store=Store(url=f"sqlite:///{tmp_path}/h.db"), shop="main", run_id="r")


class Line(TypedDict, total=False):
    slot: Required[str]
    count: Required[int]
    price_cents: int


class Shapes:
    @tool(Kind.READ, minutes=1)
    def fill(self, lines: list[Line], counts: dict[str, int] | None = None, share: float = 1.0) -> int:
        """Fill slots."""
        return len(lines)


def test_arguments_are_refused_with_the_first_problem_named(tmp_path) -> None:
    box = Toolbox(tools=[Tools(), Shapes()], guardrails=Guards(), clock=FixedClock(),
                  store=Store(url=f"sqlite:///{tmp_path}/v.db"), shop="main", run_id="r")

    def error(name: str, args: dict) -> str:
        result = box.call(name, args)
        assert not result.ok
        return result.error

    assert error("look", {"extra": 1}) == "missing argument(s): where"  # missing before unknown
    assert error("look", {"where": "A1", "extra": 1, "more": 2}) == "unknown argument(s): extra, more"
    assert error("price", {"cents": "1", "slot": 2}) == "argument 'slot' has the wrong type or value"
    assert error("price", {"slot": "A1", "cents": True}) == "argument 'cents' has the wrong type or value"
    assert error("price", {"slot": "A1", "cents": 1.0}) == "argument 'cents' has the wrong type or value"
    assert error("price", {"slot": "A1", "cents": 1, "tags": ["a", 1]}) == "argument 'tags' has the wrong type or value"
    assert error("look", {"where": "A1", "detail": "longer"}) == "argument 'detail' has the wrong type or value"
    wrong_lines = [[{"slot": "A1"}], [{"slot": "A1", "count": 1, "colour": "red"}], [{"slot": "A1", "count": "1"}],
                   [{"slot": "A1", "count": 1, "price_cents": None}], ({"slot": "A1", "count": 1},), ["A1"]]
    for lines in wrong_lines:
        assert error("fill", {"lines": lines}) == "argument 'lines' has the wrong type or value"
    assert error("fill", {"lines": [], "counts": {1: 2}}) == "argument 'counts' has the wrong type or value"
    assert error("fill", {"lines": [], "share": False}) == "argument 'share' has the wrong type or value"
    good = {"lines": [{"slot": "A1", "count": 1}, {"count": 2, "slot": "B1", "price_cents": 150}],
            "counts": {"cola": 3}, "share": 2}
    assert box.call("fill", good).value == 2
    assert box.call("fill", {"lines": [], "counts": None, "share": 0.5}).ok


def test_audit_json_writes_keys_that_are_not_strings(box: Toolbox) -> None:
    from bridge.tools.executor import _json

    day = datetime(2026, 1, 5, tzinfo=UTC).date()
    assert _json({"slot": "A1", "at": datetime(2026, 1, 5, 8, tzinfo=UTC)}) == '{"slot":"A1","at":"2026-01-05T08:00:00+00:00"}'
    assert _json({day: {"units": 2}, 3: None}) == '{"2026-01-05":{"units":2},"3":null}'
