"""The arena takes `llm` players: each with its own model and transcript, next to a baseline, through
the real SDK and the loopback Messages fake; rivals' machines show their stock counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.arena import ArenaSettings, build_arena
from bridge.errors import ConfigError
from bridge.llm.settings import LlmSettings
from tests.fakes.anthropic_api import FakeAnthropic, Reply, reply, tool_use

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as running:
        yield running


@pytest.fixture
def fake(fake_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    fake_server.reset()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return fake_server


class Looker:
    """Each session: look at the rivals' machines, then wait for the next day (a morning) or stop."""

    def __init__(self) -> None:
        self.models: list[str] = []
        self.looks: list[list[dict[str, Any]]] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.models.append(body["model"])
        last = body["messages"][-1]
        results = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"] \
            if isinstance(last["content"], list) else []
        if not results:
            return reply(tool_use("look_at_machines", {}))
        content = results[-1]["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        first = body["messages"][-3] if len(body["messages"]) >= 3 else body["messages"][0]
        try:
            seen = json.loads(text)
        except ValueError:
            seen = None
        machines = seen.get("items") if isinstance(seen, dict) else None  # look_at_machines pages by machine
        if isinstance(machines, list) and machines and all(isinstance(x, dict) and "slots" in x for x in machines):
            self.looks.append(machines)
        intro = json.dumps(first["content"]) if first["role"] == "user" else ""
        if "A new day" in intro:
            return reply("Seen.", tool_use("wait_for_next_day", {}))
        return reply("Nothing to do.", stop_reason="end_turn")


def test_an_llm_player_and_a_baseline_run_an_arena_each_llm_with_its_transcript(fake: FakeAnthropic,
                                                                              tmp_path: Path) -> None:
    looker = Looker()
    fake.reset(responder=looker)
    run = build_arena(ArenaSettings(policies=("llm", "baseline", "llm"), scenario="vb2", days=4, seed=1,
                                    out_dir=tmp_path, run_name="a", models=("claude-sonnet-4-6", "claude-haiku-4-5"),
                                    llm=LlmSettings(base_url=fake.url)))
    days = run.run()
    summary = run.summary()
    assert len(days) == 4 and fake.violations == []
    assert [p["policy"] for p in summary["participants"]] == ["llm", "baseline", "llm"]
    assert all(p["crashes"] == [] for p in summary["participants"])
    assert set(looker.models) == {"claude-sonnet-4-6", "claude-haiku-4-5"}  # each player its own model
    for shop in ("p1", "p3"):  # a transcript per llm player, in its own folder
        lines = (tmp_path / "a" / shop / "transcript.jsonl").read_text().splitlines()
        assert any(json.loads(x)["type"] == "turn" for x in lines)
    assert not (tmp_path / "a" / "p2").exists()
    assert looker.looks and all({"p2"} <= {stall["shop"] for stall in look} for look in looker.looks)
    for p in run.participants:
        p.store.close()


def test_a_look_at_the_rivals_counts_the_units_in_each_slot(tmp_path: Path) -> None:
    run = build_arena(ArenaSettings(policies=("baseline", "oracle"), scenario="vb2", days=6, seed=1,
                                    out_dir=tmp_path, run_name="look"))
    run.run()
    p1, p2 = run.participants
    seen = p1.toolbox.call("look_at_machines", {"shop": "p2"})
    assert seen.ok, seen.error
    assert seen.value["total"] == 1 and seen.value["next_page"] is None
    slots = {s["slot"]: s for s in seen.value["items"][0]["slots"]}
    truth = {s.slot: s.count for s in p2.world.slots.values() if s.sku}
    assert truth and {k: v["count"] for k, v in slots.items()} == truth
    assert all(v["in_stock"] == (v["count"] > 0) for v in slots.values())
    for p in run.participants:
        p.store.close()


def test_models_must_match_the_llm_players(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="2 models for 1 llm players"):
        build_arena(ArenaSettings(policies=("llm", "baseline"), models=("a", "b"), out_dir=tmp_path))
    with pytest.raises(ConfigError, match="no participant is llm"):
        build_arena(ArenaSettings(policies=("baseline", "baseline"), models=("a",), out_dir=tmp_path))


def test_vend_arena_with_an_llm_player_keeps_its_transcript(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.reset(responder=Looker())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANTHROPIC_API_KEY": "sk-test-not-a-real-key"}
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "arena", "--policies", "llm,baseline", "--seeds", "1",
                          "--days", "3", "--workers", "1", "--no-charts", "--json", "--out", str(tmp_path),
                          "--model", "claude-sonnet-4-6", "--llm-base-url", fake.url],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["table"]["scenario"] == "vb2"  # Arena's world is the default
    folder = Path(result["out"])
    transcript = folder / "runs" / "seed-0" / "p1" / "transcript.jsonl"
    assert transcript.stat().st_size > 0 and fake.message_requests
    assert all(r.json["model"] == "claude-sonnet-4-6" for r in fake.message_requests)


def test_with_discovery_a_shop_knows_only_the_suppliers_it_found(tmp_path: Path) -> None:
    run = build_arena(ArenaSettings(policies=("baseline", "baseline"), scenario="vb2", days=12, seed=1,
                                    out_dir=tmp_path, run_name="disc", discovery=True))
    p1, p2 = run.participants
    fresh = build_arena(ArenaSettings(policies=("baseline", "baseline"), scenario="vb2", days=2, seed=1,
                                      out_dir=tmp_path, run_name="fresh", discovery=True)).participants[0]
    assert fresh.toolbox.call("list_suppliers", {}).value["items"] == []  # nobody handed over
    found = fresh.toolbox.call("search_suppliers", {"query": "chips"}).value
    listed = {s["supplier"] for s in fresh.toolbox.call("list_suppliers", {}).value["items"]}
    assert listed == {m["supplier"] for m in found["matches"] if m["sells_to_vending"]} and listed
    told = fresh.toolbox.call("request_quote", {"supplier": "pacific-bev", "items": {"coke-12oz": 10}})
    assert told.ok and "pacific-bev" in {s["supplier"] for s in fresh.toolbox.call("list_suppliers", {}).value["items"]}
    run.run()  # the baseline searches when it is handed no directory, and trades
    assert all(p.ledger.units_sold_total > 0 for p in (p1, p2))
    for p in [*run.participants, fresh]:
        p.store.close()
