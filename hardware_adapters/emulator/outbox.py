"""The device's on-disk outbox: every QoS 1 message stays in a SQLite file until the broker PUBACKs it.

Crash safety: each append is committed (WAL, synchronous=FULL) before the message is handed to the MQTT
client, and a row is deleted only after its PUBACK, so a power cut at any point loses nothing; at worst
a message whose PUBACK was in flight is sent twice, which the bridge's idempotency table absorbs.
Message ids are `{machine}-{epoch}-{seq}`: `epoch` is random hex chosen when the file is created (so a
wiped outbox never reuses an id the bridge has already recorded), `seq` a counter kept in the file.
The same file remembers the result of every applied command, so a redelivered command is acked again
without being applied twice.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, msg_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    msg_id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, reason_code INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (cmd_id TEXT PRIMARY KEY, ok INTEGER NOT NULL, error TEXT);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    msg_id: str
    topic: str
    payload: str


class Outbox:
    """Thread-safe; one instance per device process."""

    def __init__(self, path: Path, *, machine_id: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (uuid.uuid4().hex[:8],))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', '1')")
            self._db.execute("COMMIT")
            self._epoch = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()[0]
        self._machine_id = machine_id

    def next_id(self) -> str:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = int(self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])
            self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (str(seq + 1),))
            self._db.execute("COMMIT")
        return f"{self._machine_id}-{self._epoch}-{seq}"

    def append(self, msg: OutboxMessage) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO outbox (msg_id, topic, payload) VALUES (?, ?, ?)",
                (msg.msg_id, msg.topic, msg.payload),
            )

    def pending(self) -> list[OutboxMessage]:
        with self._lock:
            rows = self._db.execute("SELECT msg_id, topic, payload FROM outbox ORDER BY seq").fetchall()
        return [OutboxMessage(msg_id=r[0], topic=r[1], payload=r[2]) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def acknowledge(self, msg_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE msg_id=?", (msg_id,))

    def reject(self, msg_id: str, reason_code: int) -> None:
        """The broker refused it (e.g. 135 not authorised): keep it aside, never resend."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected SELECT msg_id, topic, payload, ? FROM outbox WHERE msg_id=?",
                (reason_code, msg_id),
            )
            self._db.execute("DELETE FROM outbox WHERE msg_id=?", (msg_id,))
            self._db.execute("COMMIT")

    def rejected(self) -> list[tuple[OutboxMessage, int]]:
        with self._lock:
            rows = self._db.execute("SELECT msg_id, topic, payload, reason_code FROM rejected").fetchall()
        return [(OutboxMessage(msg_id=r[0], topic=r[1], payload=r[2]), int(r[3])) for r in rows]

    def command_result(self, cmd_id: str) -> tuple[bool, str | None] | None:
        with self._lock:
            row = self._db.execute("SELECT ok, error FROM commands WHERE cmd_id=?", (cmd_id,)).fetchone()
        return None if row is None else (bool(row[0]), row[1])

    def record_command(self, cmd_id: str, ok: bool, error: str | None) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO commands VALUES (?, ?, ?)", (cmd_id, int(ok), error))

    def close(self) -> None:
        with self._lock:
            self._db.close()
