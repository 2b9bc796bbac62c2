"""The batching Store: rows are buffered in memory and written in one transaction per flush.

A simulated year writes tens of thousands of rows; row-by-row ORM writes would dominate the run,
so every table is written with one executemany per flush. Live, the runtime flushes after each
batch of events, so an event's id and its effects commit together (crash-consistent).

A simulator's fresh SQLite store may write in the background (`background=True`, chosen by the
composition roots): a flush then hands its rows to a writer process (bridge.store.writer) and
returns, and `sync()` waits until they are committed. Every read through the Store, and `engine`
itself, syncs first, so a reader sees everything flushed before it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from bridge.store import tables as t
from bridge.store.writer import EPOCH, MICROSECOND, BackgroundWriter, Part, sqlite_pragmas, write_parts

TABLES: dict[str, Table] = {
    str(m.__tablename__): m.__table__  # type: ignore[union-attr]
    for m in (
        t.RunInfo, t.ProcessedEvent, t.LedgerLine, t.InventoryLot, t.StockLevel, t.PurchaseOrder,
        t.Task, t.ChatMessage, t.AuditLog, t.DeadLetter, t.DayClose, t.MachineRow, t.SlotTelemetry, t.SlotProduct,
        t.MemoryScratchpad, t.MemoryKv, t.MemoryNote, t.WorldAction,
        t.ApprovalDecision, t.SlackTaskRow, t.SlackApprovalRow, t.SlackRelayRow, t.SlackQuoteRow, t.StripeInbox,
        t.RuntimeState, t.SlackInbox,
    )
}
# Tables written by upsert (keyed rows whose state changes); the rest are append-only.
UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    "inventory_lot": ("lot_id",),
    "stock_level": ("shop", "location", "sku"),
    "purchase_order": ("order_id",),
    "task": ("task_id",),
    "day_close": ("shop", "day"),
    "run_info": ("run_id",),
    "machine": ("machine_id",),
    "slot_telemetry": ("machine_id", "slot"),
    "approval_decision": ("approval_id",),
    "stripe_inbox": ("stripe_event_id",),
    "runtime_state": ("shop",),
}

# the columns a row gives, in the table's order (an autoincrement id is the database's)
_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if not (c.primary_key and c.name == "id")) for name, table in TABLES.items()
}
# a buffered upsert's key: the value of its one key column, or the tuple of several
_KEY_OF: dict[str, Callable[[dict[str, Any]], Any]] = {name: itemgetter(*keys) for name, keys in UPSERT_KEYS.items()}

# rows of a table -> a part of a batch without its SQL (see bridge.store.writer.Part), given the
# flush's datetimes converted so far (`_Times`) and whether the rows are tuples in column order, not dicts
Converter = Callable[[list[Any], "_Times", bool], tuple[list[tuple[Any, ...]], list[list[Any]]]]

SEEN_CAP = 200_000  # processed event ids a live store keeps in memory


class _Times(dict[Any, Any]):
    """A flush's datetimes as whole microseconds since the epoch (exact; text or a datetime again
    where they are written: bridge.store.writer.bind_time). A flush's rows share few distinct times
    (an event's lines share its time): each is converted once, and the look-ups run in C
    (`map(times.__getitem__, column)`); None stays None, a naive datetime raises TypeError."""

    def __missing__(self, v: datetime | None) -> int | None:
        us = None if v is None else (v - EPOCH) // MICROSECOND
        self[v] = us
        return us


def _tuple_of(keys: tuple[Any, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """`itemgetter(*keys)`, a tuple even for one key."""
    if len(keys) == 1:
        key = keys[0]
        return lambda r: (r[key],)
    return itemgetter(*keys)


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """`durable=False` (a simulator's fresh store, reproducible from its seed) skips fsync."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        pragmas = sqlite_pragmas(durable=durable)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in pragmas:
                cur.execute(pragma)
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Buffers appends and upserts; `flush()` writes them atomically.

    `fresh=True` says the database was created for this run, so an event id can be checked
    against this process's memory alone (the simulator's fast path). `background=True` (a fresh
    SQLite file only) writes flushes in a writer process: see the module's docstring.
    """

    def __init__(self, *, url: str, fresh: bool = False, background: bool = False) -> None:
        self.url = url
        self._engine = make_engine(url, durable=not fresh)
        from bridge.store.migrate import ensure_schema

        self.schema = ensure_schema(self._engine, list(TABLES.values()))  # created, current or upgraded
        self.fresh = fresh
        # what is buffered, per table; the lists and dicts are emptied in place by a flush, so a hot
        # writer may hold on to one (`buffer`)
        self._appends: dict[str, list[Any]] = {}  # dicts, or tuples for tables in `_as_values`
        self._upserts: dict[str, dict[Any, dict[str, Any]]] = {}
        # ids known to be recorded, oldest first; a live store keeps only the newest SEEN_CAP after
        # each flush (older ones are asked of the database), the simulator's fresh store keeps all
        self._seen: dict[str, None] = {}
        self._unseen: set[str] = set()  # ids checked against the database and not found there
        self._as_values: set[str] = set()  # tables whose buffered rows are tuples (see `buffer`)
        self._statements: dict[tuple[str, bool], tuple[str, Converter]] = {}
        self._grouped: dict[str, str] = {}  # multi-row statements (bridge.store.writer.write_parts)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self.rows_written = 0  # rows flushed (with a writer process: handed to it; committed once synced)
        self._before_flush: list[Callable[[], None]] = []
        self._writer: BackgroundWriter | None = None
        if background:
            if not (fresh and self._sqlite):
                raise ValueError("a background writer is for a fresh SQLite store (a simulator's) only")
            path = make_url(url).database
            if not path or path == ":memory:":
                raise ValueError("a background writer needs a SQLite file")
            self._writer = BackgroundWriter(os.path.abspath(path))

    @property
    def engine(self) -> Engine:
        """The database, once everything flushed is committed: whoever reads through it sees it."""
        self.sync()
        return self._engine

    # --- buffering -------------------------------------------------------------------------
    def columns(self, table: str) -> tuple[str, ...]:
        """The columns a row of `table` gives, in the table's order (its autoincrement id aside)."""
        return _COLUMNS[table]

    def buffer(self, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """The list that rows of `table` wait in until a flush writes them, for writers of many rows:
        appending a tuple of `columns` (which must be the table's `columns`, in order) to it is
        `append` without the dict and the call. It stays the same list for good."""
        if columns != self.columns(table):
            raise ValueError(f"{table} has the columns {self.columns(table)}, not {columns}")
        rows = self._appends.get(table)
        if rows is None:
            rows = self._appends[table] = []
        elif table not in self._as_values:
            rows[:] = [self._values_of(table, r) for r in rows]
        self._as_values.add(table)
        return rows

    def _values_of(self, table: str, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c in _COLUMNS[table])

    def append(self, table: str, row: dict[str, Any]) -> None:
        rows = self._appends.get(table)
        if rows is None:
            if table not in TABLES:
                raise KeyError(f"no table {table!r}")
            rows = self._appends[table] = []
        rows.append(self._values_of(table, row) if table in self._as_values else row)

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        keyed = self._upserts.get(table)
        if keyed is None:
            keyed = self._upserts[table] = {}
        keyed[_KEY_OF[table](row)] = row

    def savepoint(self) -> dict[str, int]:
        """How many rows each table has buffered now, for `rollback_to` (appends only: upserts are state
        that the next write replaces)."""
        return {name: len(rows) for name, rows in self._appends.items()}

    def rollback_to(self, marks: dict[str, int]) -> None:
        """Drop the rows appended since `savepoint()` returned `marks` (one event's, that failed)."""
        for name, rows in self._appends.items():
            del rows[marks.get(name, 0):]

    def before_flush(self, hook: Callable[[], None]) -> None:
        """Call `hook` at the start of every flush, to buffer rows kept as state until then."""
        self._before_flush.append(hook)

    # --- idempotency ------------------------------------------------------------------------
    def seen(self, event_id: str) -> bool:
        if event_id in self._seen:
            return True
        if self.fresh or event_id in self._unseen:
            return False
        with self.engine.connect() as conn:
            found = conn.execute(
                select(TABLES["processed_event"].c.event_id).where(
                    TABLES["processed_event"].c.event_id == event_id
                )
            ).first()
        if found:
            self._seen[event_id] = None
        return found is not None

    def claim(self, event_id: str) -> bool:
        """`seen` and `mark_seen` in one: True (and marked) for an id not recorded before, else False."""
        seen = self._seen
        if event_id in seen:
            return False
        if not self.fresh:  # a fresh store's ids are all in memory, and none is ever in `_unseen`
            if self.seen(event_id):
                return False
            self._unseen.discard(event_id)
        seen[event_id] = None
        return True

    def mark_seen(self, event_id: str) -> None:
        self._seen[event_id] = None
        self._unseen.discard(event_id)

    def prefetch_seen(self, event_ids: Iterable[str]) -> None:
        """Check a batch of ids against the database in one query, so `seen` answers from memory."""
        todo = [i for i in set(event_ids) if i not in self._seen and i not in self._unseen]
        if self.fresh or not todo:
            return
        col = TABLES["processed_event"].c.event_id
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(todo), 500):
                part = todo[start:start + 500]
                found.update(r[0] for r in conn.execute(select(col).where(col.in_(part))))
        self._seen.update(dict.fromkeys(found))
        self._unseen.update(i for i in todo if i not in found)

    # --- writing ----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return sum(map(len, self._appends.values())) + sum(map(len, self._upserts.values()))

    def flush(self, *, wait: bool = True) -> int:
        """Write everything buffered in one transaction; returns the number of rows written.

        One DBAPI executemany per table with SQL prepared once: SQLAlchemy's per-row parameter
        processing would otherwise cost more than the whole simulation. With a writer process the
        rows are handed to it; `wait=False` returns without waiting for its commit (a later flush,
        `sync` or read waits, and raises its error if it failed)."""
        writer = self._writer
        if writer is not None:
            writer.check()
        for hook in self._before_flush:
            hook()
        written = self._write() if self.pending else 0
        if writer is not None and wait:
            writer.sync()
        return written

    def sync(self) -> None:
        """Wait until the writer process has committed every flush; raise its error if one failed.
        (Without a writer process a flush has committed when it returns: nothing to wait for.)"""
        if self._writer is not None:
            self._writer.sync()

    def _write(self) -> int:
        parts, written = self._batch()
        if self._writer is not None:
            self._writer.send(parts)
        else:
            raw = self._engine.raw_connection()
            try:
                cur = raw.cursor()
                write_parts(cur, parts, multirow=self._sqlite, statements=self._grouped, text_times=self._sqlite)
                cur.close()
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                raw.close()
        self._empty()
        self.rows_written += written
        self._trim_seen()
        return written

    def _batch(self) -> tuple[list[Part], int]:
        """What is buffered, as statements and their parameters: appends (each table's rows in order,
        CHUNK at a time on SQLite), then upserts."""
        parts: list[Part] = []
        written = 0
        times = _Times()
        for name, rows in self._appends.items():
            if rows:
                sql, convert = self._prepared(name, upsert=False)
                kept, bound = convert(rows, times, name in self._as_values)
                parts.append((sql, kept, bound, True))
                written += len(rows)
        for name, keyed in self._upserts.items():
            if keyed:
                sql, convert = self._prepared(name, upsert=True)
                kept, bound = convert(list(keyed.values()), times, False)
                parts.append((sql, kept, bound, False))
                written += len(keyed)
        return parts, written

    def _trim_seen(self) -> None:
        """After a commit every id in memory is also in the database, so a live store may forget
        the oldest: memory stays bounded however long the bridge runs."""
        if self.fresh:
            return
        self._unseen.clear()
        if len(self._seen) > SEEN_CAP:
            keep = list(self._seen)[-SEEN_CAP // 2:]
            self._seen = dict.fromkeys(keep)

    def _prepared(self, name: str, *, upsert: bool) -> tuple[str, Converter]:
        key = (name, upsert)
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = self._prepare(name, upsert=upsert)
        return found

    def _prepare(self, name: str, *, upsert: bool) -> tuple[str, Converter]:
        """The statement of a table's rows, and their conversion. The datetime columns come last in
        the statement: their values travel apart from the rest of the row (see `_Times`)."""
        table = TABLES[name]
        cols = _COLUMNS[name]
        times = tuple(i for i, c in enumerate(cols) if isinstance(table.c[c].type, t.UtcDateTime))
        rest = tuple(i for i in range(len(cols)) if i not in times)
        order = [cols[i] for i in rest + times]
        mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {name} ({', '.join(order)}) VALUES ({', '.join([mark] * len(order))})"
        if upsert:
            keys = UPSERT_KEYS[name]
            sets = ", ".join(f"{c} = excluded.{c}" for c in order if c not in keys)
            sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        rest_of_tuple = _tuple_of(rest)
        rest_of_dict = _tuple_of(tuple(cols[i] for i in rest))
        time_columns = [(cols[i], itemgetter(i), itemgetter(cols[i])) for i in times]

        def convert(rows: list[Any], seen: _Times, values: bool) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
            """Rows (dicts, or tuples in column order when `values`) as the values of the statement's
            columns before the datetimes, and the datetime columns as microseconds (see `_Times`)."""
            if not times:
                return (rows if values else list(map(rest_of_dict, rows))), []
            kept = list(map(rest_of_tuple if values else rest_of_dict, rows))
            bound = []
            for col, of_tuple, of_dict in time_columns:
                of = of_tuple if values else of_dict
                try:
                    bound.append(list(map(seen.__getitem__, map(of, rows))))
                except TypeError:
                    bad = next(v for v in map(of, rows) if v is not None and (
                        not isinstance(v, datetime) or v.utcoffset() is None))
                    raise ValueError(f"naive datetime in {name}.{col}" if isinstance(bad, datetime)
                                     else f"not a datetime in {name}.{col}: {bad!r}") from None
            return kept, bound

        return sql, convert

    def _empty(self) -> None:
        for rows in self._appends.values():
            rows.clear()
        for keyed in self._upserts.values():
            keyed.clear()

    def discard(self) -> None:
        """Drop what is buffered (after a failed flush the caller decides what to redo)."""
        self._empty()

    # --- reading ----------------------------------------------------------------------------
    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        tbl = TABLES[table]
        stmt = select(tbl)
        for col, value in where.items():
            stmt = stmt.where(tbl.c[col] == value)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def dead_letter(self, *, received_at: Any, source: str, topic: str, reason: str, raw: bytes) -> None:
        """Kept immediately, outside any batch: bad input must never be lost."""
        with self.engine.begin() as conn:
            conn.execute(
                TABLES["dead_letter"].insert(),
                [{"received_at": received_at, "source": source, "topic": topic, "reason": reason, "raw": raw}],
            )

    def close(self, *, flush: bool = True) -> None:
        """Flush (and wait for the writer process), then end the writer process and the engine.
        `flush=False` drops what is buffered instead (after a crash it may be half of something)."""
        try:
            if flush:
                self.flush()
            else:
                self.discard()
        finally:
            if self._writer is not None:
                self._writer.close()
            self._engine.dispose()

    def iter_table(self, table: str, batch: int = 5000) -> Iterable[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(select(TABLES[table]))
            for part in result.partitions(batch):
                for r in part:
                    yield dict(r._mapping)
