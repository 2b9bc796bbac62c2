"""The simulator's store written by a writer process (bridge.store.writer): what is flushed is read
back, an error in the writer reaches the simulation with its message and loses nothing committed,
the process never outlives its Store, and a simulated run writes exactly what a synchronous store
writes."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bridge.store import Store
from bridge.store.writer import WriterError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
DEADLINE = 30.0


def events(start: int, n: int, shop: str = "main") -> list[dict]:
    return [{"event_id": f"e{i}", "shop": shop, "kind": "sale", "ts": T0 + timedelta(seconds=i)}
            for i in range(start, start + n)]


def background(path: Path) -> Store:
    return Store(url=f"sqlite:///{path}", fresh=True, background=True)


def gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie whose parent is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {DEADLINE} s")
        time.sleep(0.01)


def table(path: Path, name: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()


def test_reads_see_what_was_flushed_before_them(tmp_path: Path) -> None:
    store = background(tmp_path / "s.db")
    rows = store.buffer("processed_event", ("event_id", "shop", "kind", "ts"))
    for r in events(0, 500):
        rows.append(tuple(r.values()))
    store.upsert("stock_level", {"shop": "main", "location": "storage", "sku": "cola", "count": 4})
    assert store.flush(wait=False) == 501
    back = store.rows("processed_event")  # syncs first
    assert [r["event_id"] for r in back] == [f"e{i}" for i in range(500)]
    assert back[7]["ts"] == T0 + timedelta(seconds=7) and back[7]["ts"].tzinfo is not None
    store.append("ledger_line", {"event_id": "e1", "shop": "main", "ts": T0, "debit": "bank", "credit": "capital",
                                 "amount_cents": 100, "sku": None, "units": 0, "memo": ""})
    store.flush(wait=False)
    assert store.scalar("SELECT COUNT(*) FROM ledger_line") == 1
    store.append("processed_event", events(500, 1)[0])
    store.flush(wait=False)
    with store.engine.connect() as conn:  # whoever takes the engine sees everything flushed too
        assert conn.execute(text("SELECT COUNT(*) FROM processed_event")).scalar() == 501
    assert [r["count"] for r in store.iter_table("stock_level")] == [4]
    store.close()
    assert table(tmp_path / "s.db", "processed_event")[0] == ("e0", "main", "sale", "2026-03-02 17:00:00.000000")


def test_a_writer_error_surfaces_with_its_message_and_loses_nothing_committed(tmp_path: Path) -> None:
    store = background(tmp_path / "s.db")
    store.buffer("processed_event", ("event_id", "shop", "kind", "ts"))
    for r in events(0, 100):
        store.append("processed_event", r)
    store.flush(wait=False)
    for r in events(100, 50) + events(0, 1):  # e0 again: the primary key refuses the whole batch
        store.append("processed_event", r)
    store.flush(wait=False)  # returns at once; the error comes back later
    with pytest.raises(WriterError, match=r"UNIQUE constraint failed: processed_event\.event_id"):
        store.sync()
    store.append("processed_event", events(200, 1)[0])
    with pytest.raises(WriterError, match="UNIQUE constraint failed"):  # it stays failed
        store.flush()
    assert store.pending == 1  # that flush sent nothing: its rows are still here
    with pytest.raises(WriterError):
        store.rows("processed_event")
    pid = store._writer.pid  # type: ignore[union-attr]
    with pytest.raises(WriterError):
        store.close()
    assert gone(pid)
    assert [r[0] for r in table(tmp_path / "s.db", "processed_event")] == [f"e{i}" for i in range(100)]


def test_the_writer_never_outlives_its_store(tmp_path: Path) -> None:
    closed = background(tmp_path / "a.db")
    pid = closed._writer.pid  # type: ignore[union-attr]
    closed.append("processed_event", events(0, 1)[0])
    closed.close()
    assert gone(pid)
    assert len(table(tmp_path / "a.db", "processed_event")) == 1

    dropped = background(tmp_path / "b.db")
    pid = dropped._writer.pid  # type: ignore[union-attr]
    dropped.append("processed_event", events(0, 1)[0])
    dropped.flush(wait=False)
    del dropped
    gc.collect()
    assert gone(pid)  # collected: the pipe closed, the child wrote what it had and was reaped
    assert len(table(tmp_path / "b.db", "processed_event")) == 1


def test_the_writer_ends_when_its_parent_dies_and_commits_what_it_was_handed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    script = (
        "import os, signal, sys\n"
        "from datetime import UTC, datetime\n"
        "from bridge.store import Store\n"
        f"store = Store(url='sqlite:///{db}', fresh=True, background=True)\n"
        "for i in range(3000):\n"
        "    store.append('processed_event', {'event_id': f'e{i}', 'shop': 'main', 'kind': 'sale',"
        " 'ts': datetime(2026, 1, 1, tzinfo=UTC)})\n"
        "store.flush(wait=False)\n"
        "print(store._writer.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=DEADLINE,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pid = int(proc.stdout.split()[0])
    wait_for(lambda: gone(pid), "gone")
    assert len(table(db, "processed_event")) == 3000


def test_a_fork_lets_go_of_the_writer(tmp_path: Path) -> None:
    """A process forked while a Store lives (a worker pool) neither keeps its writer alive nor uses it."""
    store = background(tmp_path / "s.db")
    pid = store._writer.pid  # type: ignore[union-attr]
    hold, release = os.pipe()
    child = os.fork()
    if child == 0:  # the fork: the store's writer is not its own
        code = 1
        try:
            store.sync()
        except WriterError:
            code = 0
        os.read(hold, 1)  # alive until the parent has closed its store
        os._exit(code)
    store.append("processed_event", events(0, 1)[0])
    store.close()
    assert gone(pid)  # the fork still lives, and the writer saw EOF all the same
    os.write(release, b"x")
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(table(tmp_path / "s.db", "processed_event")) == 1


def test_memory_written_beside_the_writer_does_not_deadlock(tmp_path: Path) -> None:
    """The LLM's memory tools write through the engine while the writer process writes a batch."""
    from bridge.llm.memory import MemoryStore

    store = background(tmp_path / "s.db")
    memory = MemoryStore(engine=store.engine, shop="main")
    for round_ in range(5):
        for r in events(round_ * 2000, 2000):
            store.append("processed_event", r)
        store.flush(wait=False)
        memory.put(f"k{round_}", "v", T0)
        memory.add_note(f"restock cola {round_}", "", T0)
    assert memory.keys() == [f"k{i}" for i in range(5)]
    assert len(memory.search("cola", 10)) == 5
    assert store.scalar("SELECT COUNT(*) FROM processed_event") == 10_000
    store.close()


def test_values_of_enum_types_are_written_as_their_values(tmp_path: Path) -> None:
    class Status(StrEnum):
        OPEN = "open"

    store = background(tmp_path / "s.db")
    store.upsert("task", {"task_id": "t1", "shop": "main", "kind": "restock", "status": Status.OPEN,
                          "created_at": T0, "done_at": None, "payload_json": "{}"})
    store.flush()
    assert table(tmp_path / "s.db", "task") == [("t1", "main", "restock", "open", "2026-03-02 17:00:00.000000",
                                                 None, "{}")]
    store.close()


def test_a_naive_datetime_is_refused_at_the_flush(tmp_path: Path) -> None:
    store = background(tmp_path / "s.db")
    store.append("processed_event", {"event_id": "e", "shop": "main", "kind": "k",
                                     "ts": datetime(2026, 1, 1)})  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match=r"naive datetime in processed_event\.ts"):
        store.flush()
    store.discard()
    store.close()


def test_only_a_fresh_sqlite_file_takes_a_writer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fresh SQLite"):
        Store(url=f"sqlite:///{tmp_path / 's.db'}", background=True)
    with pytest.raises(ValueError, match="SQLite file"):
        Store(url="sqlite://", fresh=True, background=True)


def test_several_stores_in_one_process_each_have_their_writer(tmp_path: Path) -> None:
    stores = [background(tmp_path / f"p{i}.db") for i in range(3)]
    for i, store in enumerate(stores):
        for r in events(0, 100 * (i + 1), shop=f"p{i}"):
            store.append("processed_event", r)
        store.flush(wait=False)
    assert [s.scalar("SELECT COUNT(*) FROM processed_event") for s in stores] == [100, 200, 300]
    for store in stores:
        store.close()


def test_a_simulated_run_writes_what_a_synchronous_store_writes(tmp_path: Path, monkeypatch) -> None:
    """The same seeded run twice: with the writer process (as the composition root wires it), and with
    the same fresh store written in-process. Every table, row for row, ids included."""
    import bridge.compose.sim
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    def run(name: str) -> dict[str, list[tuple]]:
        sim = build_sim(SimSettings(scenario="vb2", seed=4, days=75, out_dir=tmp_path / name, run_name="r",
                                    charts=False, events_log=False))
        sim.run()
        with sqlite3.connect(tmp_path / name / "r" / "vend.db") as conn:  # committed when run() returns
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            dump = {n: conn.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}
        sim.store.close()
        return dump

    writer = run("writer")
    # the composition root chooses the writer; the same wiring without it is the reference
    monkeypatch.setattr(bridge.compose.sim, "Store", lambda **kw: Store(**{**kw, "background": False}))
    synchronous = run("synchronous")
    assert len(writer["ledger_line"]) > 1000 and len(writer["audit_log"]) > 100
    assert writer == synchronous
