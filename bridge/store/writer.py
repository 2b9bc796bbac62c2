"""The store's writer process: a simulator's flushes are written to SQLite on the other core.

A simulated year spends a sixth of its time in SQLite. The simulator's fresh store therefore hands
each flush's rows to a child process that writes them (one transaction a flush, in order) while
the simulation carries on; `BackgroundWriter.sync` waits until everything sent is committed. A
thread would not do: the GIL starves it while the simulation runs, and sqlite3's binding holds the
GIL anyway.

The child is a fresh interpreter (`python -I -S` running this file), not a fork: it inherits no
threads, locks or copy-on-write pages from the simulation, and its start-up (~30 ms of CPU) runs on
the other core while the parent goes on wiring the run. It needs only the standard library, so
this module imports nothing else.

Wire format, both ways: frames of a 4-byte little-endian length and a marshal payload. Parent to
child: `(seq, parts)`, a batch (see `write_parts`). Child to parent: `(seq, error)`, the batch's
acknowledgement once committed (`error` None) or failed ("Type: message"; the batch was rolled
back, and every later batch is refused with the same error, since its rows may rely on the
failed ones). A reader thread in the child drains the pipe at once, so the parent never blocks on
a batch while the child is busy writing the one before.

The child lives as long as its parent holds the pipe: at EOF (close, garbage collection, exit or
death of the parent) it writes what it has received and exits. It ignores SIGINT: a Ctrl-C stops
the parent, and the child then ends at EOF.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

CHUNK = 64  # rows in one multi-row INSERT when appending on SQLite (64 x the widest table's ~13 columns)
PIPE_BYTES = 1 << 20  # the batch pipe's capacity asked of the kernel (64 KB by default)
_HEAD = 4
_MAX_ERROR = 2000  # characters of an error message sent back

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)

# one table's rows of a batch: the INSERT statement; the rows' values without their datetime columns;
# the datetime columns as whole microseconds since the epoch or None (one list per column, a value per
# row: they end each row, in the statement's order); whether the rows may go CHUNK at a time in one
# statement
Part = tuple[str, Sequence[tuple[Any, ...]], Sequence[Sequence[int | None]], bool]


def sqlite_pragmas(*, durable: bool) -> list[str]:
    """What every connection to a store's SQLite file sets. `durable=False` (a simulator's fresh
    store, reproducible from its seed) skips fsync."""
    return ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL" if durable else "PRAGMA synchronous=OFF",
            "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000"]


def bind_time(us: int | None, *, text: bool) -> Any:
    """What the store's UtcDateTime binds for the time `us` microseconds after the epoch: naive UTC
    text on SQLite (as SQLAlchemy writes it), an aware UTC datetime elsewhere."""
    if us is None:
        return None
    if text:
        return (_NAIVE_EPOCH + timedelta(microseconds=us)).isoformat(" ", "microseconds")
    return EPOCH + timedelta(microseconds=us)


def write_parts(cur: Any, parts: Sequence[Part], *, multirow: bool, statements: dict[str, str],
                text_times: bool) -> None:
    """Execute a batch on a DBAPI cursor, inside the caller's transaction. `multirow` (SQLite):
    parts that allow it go CHUNK rows a statement, in order (fewer VM steps and resets);
    `statements` caches those statements. `text_times`: see `bind_time`."""
    for sql, rows, times, chunked in parts:
        params: Sequence[Any] = rows
        if times:
            bound = {us: bind_time(us, text=text_times) for us in set(chain.from_iterable(times))}
            columns = [list(map(bound.__getitem__, column)) for column in times]
            params = [r + t for r, t in zip(rows, zip(*columns, strict=True), strict=True)]
        whole = len(params) - len(params) % CHUNK if multirow and chunked else 0
        if whole:
            group = statements.get(sql)
            if group is None:
                head, sep, values = sql.partition(" VALUES ")
                group = statements[sql] = head + sep + ", ".join([values] * CHUNK)
            cur.executemany(group, [list(chain.from_iterable(params[i:i + CHUNK])) for i in range(0, whole, CHUNK)])
        if whole < len(params):
            cur.executemany(sql, params[whole:])


class WriterError(RuntimeError):
    """The writer process could not write a batch (or died): nothing from that batch on was committed."""


class BackgroundWriter:
    """The parent's end: `send` a batch (returns at once), `sync` (wait until committed), `close`."""

    def __init__(self, path: str) -> None:
        import subprocess
        import weakref

        self._proc = subprocess.Popen([sys.executable, "-I", "-S", __file__, path], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, bufsize=0)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._batches = self._proc.stdin.fileno()
        self._acks = self._proc.stdout.fileno()
        _widen(self._batches)
        os.set_blocking(self._acks, False)
        self._sent = 0
        self._acked = 0
        self._error = ""
        self._pending = bytearray()  # ack bytes read and not yet parsed
        self._stop = weakref.finalize(self, _stop, self._proc)  # garbage collection and exit close it too
        _track(self)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, parts: list[Part]) -> None:
        """Hand a batch over; raises the error of an earlier batch, if the child has reported one."""
        self.check()
        if not self._stop.alive:
            raise WriterError("the store's writer is closed")
        self._sent += 1
        data = _dumps((self._sent, parts))
        try:
            _write_all(self._batches, len(data).to_bytes(_HEAD, "little") + data)
        except BrokenPipeError:
            self._read(block=False)
            self._fail(self._error or self._died())

    def check(self) -> None:
        """Raise the writer's error if one has arrived (does not wait)."""
        if not self._error and self._acked < self._sent:
            self._read(block=False)
        if self._error:
            self._fail(self._error)

    def sync(self) -> None:
        """Wait until every batch sent is committed; raise the writer's error if one failed."""
        while not self._error and self._acked < self._sent:
            if not self._read(block=True):
                self._fail(self._died())
        if self._error:
            self._fail(self._error)

    def close(self) -> None:
        """End the child (it writes what it has received first) and reap it; raises nothing."""
        self._stop()

    def _forget(self) -> None:
        """In a forked copy of the parent: let go of the pipes (the child must see EOF when the parent
        closes them), and refuse to be used (frames from two processes would interleave)."""
        self._stop.detach()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()
        self._error = f"this store's writer belongs to process {os.getppid()}, not to a fork of it"

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _read(self, *, block: bool) -> bool:
        """Take the acknowledgements that have arrived (waiting for one if `block`); False at EOF."""
        import select

        if block:
            select.select([self._acks], [], [])
        try:
            data = os.read(self._acks, 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        buf = self._pending
        buf += data
        while len(buf) >= _HEAD:
            n = int.from_bytes(buf[:_HEAD], "little")
            if len(buf) < _HEAD + n:
                break
            seq, error = marshal.loads(bytes(buf[_HEAD:_HEAD + n]))
            del buf[:_HEAD + n]
            self._acked = seq
            if error and not self._error:
                self._error = error
        return True

    def _died(self) -> str:
        code = self._proc.wait()
        return f"the writer process exited (code {code}) before committing every batch"

    def _fail(self, message: str) -> None:
        self._error = message
        raise WriterError(f"the store's writer failed: {message}")


_writers: Any = None  # the writers of this process (a WeakSet), for `_forget_in_fork`


def _track(writer: BackgroundWriter) -> None:
    global _writers
    if _writers is None:
        import weakref

        _writers = weakref.WeakSet()
        os.register_at_fork(after_in_child=_forget_in_fork)
    _writers.add(writer)


def _forget_in_fork() -> None:
    for writer in list(_writers):
        writer._forget()


def _stop(proc: Any) -> None:
    """EOF to the child, then reap it (it commits what it holds first; a stuck one is killed)."""
    import subprocess

    for pipe in (proc.stdin, proc.stdout):
        pipe.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _widen(fd: int) -> None:
    """Ask for a larger pipe, so that a batch rarely waits for the child's reader (Linux only)."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def _dumps(batch: tuple[int, list[Part]]) -> bytes:
    """marshal: several times cheaper than pickle with its memo. It takes only exact builtin types; a
    subclass (an enum of str or int) is sent as the value that sqlite3 would bind for it."""
    try:
        return marshal.dumps(batch)
    except ValueError:
        seq, parts = batch
        return marshal.dumps((seq, [(sql, [tuple(map(_exact, r)) for r in rows], times,
                                     chunked) for sql, rows, times, chunked in parts]))


def _exact(v: Any) -> Any:
    if v is None or type(v) in (bool, int, float, str, bytes):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, bytes):
        return bytes(v)
    raise TypeError(f"the store cannot write a {type(v).__name__} ({v!r})")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --- the child ---------------------------------------------------------------------------------


def main(path: str) -> None:
    import signal
    import sqlite3
    import threading
    from functools import partial
    from queue import SimpleQueue

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in sqlite_pragmas(durable=False):
        conn.execute(pragma)
    batches: SimpleQueue[bytes | None] = SimpleQueue()
    threading.Thread(target=_receive, args=(partial(os.read, 0), batches.put), daemon=True).start()
    cur = conn.cursor()
    statements: dict[str, str] = {}
    error = None
    while (data := batches.get()) is not None:
        seq, parts = marshal.loads(data)
        if error is None:
            try:
                cur.execute("BEGIN IMMEDIATE")
                write_parts(cur, parts, multirow=True, statements=statements, text_times=True)
                cur.execute("COMMIT")
            except Exception as err:
                if conn.in_transaction:
                    cur.execute("ROLLBACK")
                error = f"{type(err).__name__}: {err}"[:_MAX_ERROR]
        ack = marshal.dumps((seq, error))
        try:
            _write_all(1, len(ack).to_bytes(_HEAD, "little") + ack)
        except BrokenPipeError:
            break  # the parent is gone: nobody waits for the rest
    conn.close()


def _receive(read: Callable[[int], bytes], put: Callable[[bytes | None], None]) -> None:
    """The reader thread: whole frames from the pipe to the queue, None at EOF."""
    while True:
        head = _read_exactly(read, _HEAD)
        data = _read_exactly(read, int.from_bytes(head, "little")) if head is not None else None
        put(data)
        if data is None:
            return


def _read_exactly(read: Callable[[int], bytes], n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = read(min(n, PIPE_BYTES))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


if __name__ == "__main__":
    main(sys.argv[1])
