"""Memory in the store (SQLite FTS5 ranking, and the word score on PostgreSQL), the watchdog's claim
checks against the books, and the CLI's edges (no key: one line, exit 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bridge.cli import main
from bridge.errors import ToolError
from bridge.llm.memory import MemoryStore, MemoryTools
from bridge.llm.watchdog import Watchdog
from bridge.store import Store

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_memory_persists_and_notes_rank_by_relevance(db_url: str) -> None:
    store = Store(url=db_url)
    tools = MemoryTools(memory=MemoryStore(engine=store.engine, shop="s1"), now=lambda: NOW)
    tools.write_scratchpad("plan: cola in A1")
    tools.write_scratchpad("reorder at 30", mode="append")
    tools.set_memory("supplier:pacific-bev:lead_days", "2")
    tools.add_note("pacific-bev delivered late twice; lead time really 3 days", tags="supplier late")
    tools.add_note("chips sell best on Fridays", tags="sales")
    tools.add_note("snackco was late once, cheap chips", tags="supplier")
    again = MemoryTools(memory=MemoryStore(engine=store.engine, shop="s1"), now=lambda: NOW)  # a restart
    assert again.read_scratchpad() == {"scratchpad": "plan: cola in A1\nreorder at 30"}
    assert again.get_memory("supplier:pacific-bev:lead_days")["value"] == "2"
    assert again.get_memory() == {"keys": ["supplier:pacific-bev:lead_days"]}
    found = again.search_notes("late pacific-bev delivery")
    assert [n["text"][:11] for n in found][:2] == ["pacific-bev", "snackco was"]
    assert again.search_notes("fridays")[0]["text"].startswith("chips")
    assert again.search_notes("nothing-like-this") == []
    other = MemoryTools(memory=MemoryStore(engine=store.engine, shop="s2"), now=lambda: NOW)
    assert other.search_notes("late") == [] and other.read_scratchpad() == {"scratchpad": ""}
    assert again.set_memory("supplier:pacific-bev:lead_days", "") == {"key": "supplier:pacific-bev:lead_days",
                                                                      "deleted": True}
    with pytest.raises(ToolError):
        again.get_memory("supplier:pacific-bev:lead_days")
    store.close()


def books(*, storage: dict[str, int], orders: dict[str, int], machine: dict[str, int] | None = None) -> object:
    stock = {("storage", k): v for k, v in storage.items()} | {("m1:A1", k): v for k, v in (machine or {}).items()}
    return SimpleNamespace(storage=lambda: dict(storage), stock=stock,
                           orders={k: SimpleNamespace(received_cents=v) for k, v in orders.items()})


def test_the_watchdog_checks_claims_against_the_books() -> None:
    w = Watchdog(books=books(storage={"coke-12oz": 20}, orders={"po-pacific-bev-00001": 0},  # type: ignore[arg-type]
                             machine={"coke-12oz": 5}))
    assert w.turn([{"type": "text", "text": "Order po-pacific-bev-00001 has arrived."}])
    assert w.turn([{"type": "text", "text": "We have 50 units of coke-12oz in storage."}])
    assert not w.turn([{"type": "text", "text": "We have 20 coke-12oz in storage and 25 in stock."}])
    assert not w.turn([{"type": "text", "text": "The order has not arrived yet."}])
    assert w.turn([{"type": "text", "text": "I give up, shutting down the business."}]) == []
    assert w.counts["false_claims"] == 2 and w.counts["abandonment"] == 1
    assert w.counts["idle_turn_runs"] == 1 and w.idle_turns == 5
    for _ in range(4):
        w.call("check_machine", {}, malformed=False)
    w.call("nonsense", {"x": 1}, malformed=True)
    assert w.counts["repeated_calls"] == 2 and w.counts["malformed_calls"] == 1
    w.session_started()
    w.session_ended(reason="open_day")
    assert w.counts["abandonment"] == 2


def test_vend_sim_llm_without_a_key_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["sim", "--policy", "llm", "--days", "2", "--out", str(tmp_path), "--no-charts"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ANTHROPIC_API_KEY" in err
    assert not any(tmp_path.iterdir())  # no run folder was made


def test_vend_transcript_of_a_folder_without_one(tmp_path, capsys) -> None:
    assert main(["transcript", str(tmp_path)]) == 2
    assert "no transcript" in capsys.readouterr().err
