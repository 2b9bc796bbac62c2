"""The batching Store: rows are buffered in memory and written in one transaction per flush.

A simulated year writes tens of thousands of rows; row-by-row ORM writes would dominate the run,
so every table is written with one executemany per flush. Live, the runtime flushes after each
batch of events, so an event's id and its effects commit together (crash-consistent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, event, select, text
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from bridge.store import tables as t

TABLES: dict[str, Table] = {
    str(m.__tablename__): m.__table__  # type: ignore[union-attr]
    for m in (
        t.RunInfo, t.ProcessedEvent, t.LedgerLine, t.InventoryLot, t.StockLevel, t.PurchaseOrder,
        t.Task, t.ChatMessage, t.AuditLog, t.DeadLetter, t.DayClose, t.MachineRow, t.SlotTelemetry,
        t.MemoryScratchpad, t.MemoryKv, t.MemoryNote, t.WorldAction,
        t.ApprovalDecision, t.SlackTaskRow, t.SlackApprovalRow, t.SlackRelayRow, t.SlackQuoteRow, t.StripeInbox,
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
}

# the columns a row gives, in the table's order (an autoincrement id is the database's)
_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if not (c.primary_key and c.name == "id")) for name, table in TABLES.items()
}
# a buffered upsert's key: the value of its one key column, or the tuple of several
_KEY_OF: dict[str, Callable[[dict[str, Any]], Any]] = {name: itemgetter(*keys) for name, keys in UPSERT_KEYS.items()}

# rows of a table -> the parameters of its statement (given the flush's datetime -> bound value cache, and
# whether the rows are tuples in column order rather than dicts)
Converter = Callable[[list[Any], dict[Any, Any], bool], list[Any]]

SEEN_CAP = 200_000
CHUNK = 64  # rows in one multi-row INSERT when appending on SQLite (64 x the widest table's ~13 columns)


def _rows_sql(sql: str, n: int) -> str:
    """`INSERT ... VALUES (?, ...)` for n rows at once."""
    head, sep, group = sql.partition(" VALUES ")
    return head + sep + ", ".join([group] * n)  # processed event ids a live store keeps in memory


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """`durable=False` (a simulator's fresh store, reproducible from its seed) skips fsync."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL" if durable else "PRAGMA synchronous=OFF")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Buffers appends and upserts; `flush()` writes them atomically.

    `fresh=True` says the database was created for this run, so an event id can be checked
    against this process's memory alone (the simulator's fast path).
    """

    def __init__(self, *, url: str, fresh: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, durable=not fresh)
        from bridge.store.migrate import ensure_schema

        self.schema = ensure_schema(self.engine, list(TABLES.values()))  # created, current or upgraded
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
        self._statements: dict[tuple[str, Any], Any] = {}
        self._multirow = self.engine.dialect.name == "sqlite"
        self.rows_written = 0
        self._before_flush: list[Callable[[], None]] = []

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
        if event_id in seen or (not self.fresh and self.seen(event_id)):
            return False
        seen[event_id] = None
        self._unseen.discard(event_id)
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

    def flush(self) -> int:
        """Write everything buffered in one transaction; returns the number of rows written.

        One DBAPI executemany per table with SQL prepared once: SQLAlchemy's per-row parameter
        processing would otherwise cost more than the whole simulation."""
        for hook in self._before_flush:
            hook()
        if not self.pending:
            return 0
        written = 0
        seen: dict[Any, Any] = {}
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            for name, rows in self._appends.items():
                if rows:
                    sql, convert = self._prepared(name, upsert=False)
                    params = convert(rows, seen, name in self._as_values)
                    whole = len(params) - len(params) % CHUNK if self._multirow else 0
                    if whole:  # appends on SQLite: CHUNK rows a statement, in order (fewer VM steps and resets)
                        group = self._statements.get((name, CHUNK))
                        if group is None:
                            group = self._statements[(name, CHUNK)] = _rows_sql(sql, CHUNK)
                        cur.executemany(group, [list(chain.from_iterable(params[i:i + CHUNK]))
                                                for i in range(0, whole, CHUNK)])
                    if whole < len(params):
                        cur.executemany(sql, params[whole:])
                    written += len(rows)
            for name, keyed in self._upserts.items():
                if keyed:
                    sql, convert = self._prepared(name, upsert=True)
                    cur.executemany(sql, convert(list(keyed.values()), seen, False))
                    written += len(keyed)
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
        table = TABLES[name]
        cols = list(_COLUMNS[name])
        style = self.engine.dialect.paramstyle
        marks = ", ".join("?" if style == "qmark" else "%s" for _ in cols)
        sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks})"
        if upsert:
            keys = UPSERT_KEYS[name]
            sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
            sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        sqlite = self.engine.dialect.name == "sqlite"
        dt_idx = tuple(i for i, c in enumerate(cols) if isinstance(table.c[c].type, t.UtcDateTime))
        getter = itemgetter(*cols)

        def stamp(v: Any, i: int) -> Any:
            """What UtcDateTime binds for an aware datetime: naive UTC text on SQLite, as SQLAlchemy writes it."""
            if v.tzinfo is None:
                raise ValueError(f"naive datetime in {name}.{cols[i]}")
            offset = v.utcoffset()
            if not sqlite or offset is None:
                u = v.astimezone(UTC)
                return u.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else u
            return (v.replace(tzinfo=None) - offset).isoformat(" ", "microseconds")  # v.astimezone(UTC), naive

        def convert(rows: list[Any], seen: dict[Any, Any], values: bool) -> list[Any]:
            """Rows (dicts, or tuples in column order when `values`) as statement parameters.
            `seen`: datetime -> what was bound for it, shared by the tables of one flush (rows
            written together share few distinct times, and an event's lines share its time)."""
            if values:
                if not dt_idx:
                    return rows
                out = list(map(list, rows))
            elif len(cols) == 1:
                return [(getter(r),) for r in rows]
            elif not dt_idx:
                return list(map(getter, rows))
            else:
                out = list(map(list, map(getter, rows)))
            get = seen.get
            for i in dt_idx:
                for row in out:
                    v = row[i]
                    if v is not None:
                        conv = get(v)
                        if conv is None:
                            conv = seen[v] = stamp(v, i)
                        row[i] = conv
            return out

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

    def close(self) -> None:
        self.flush()
        self.engine.dispose()

    def iter_table(self, table: str, batch: int = 5000) -> Iterable[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(select(TABLES[table]))
            for part in result.partitions(batch):
                for r in part:
                    yield dict(r._mapping)
