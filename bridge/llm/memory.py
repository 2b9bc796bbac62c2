"""The shopkeeper's memory, persisted in the store, as in Vending-Bench: a scratchpad, a key-value
store, and notes searched by relevance (SQLite FTS5 with bm25 ranking; on a database without FTS5,
such as PostgreSQL, a score of matching words). No LLM is needed to search.

Memory is written at once (not in the Store's batches): the agent reads back what it just wrote.
`MemoryTools` is the tool group; memory writes pass the guard "allow" (nothing outside is touched).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, or_, select, text
from sqlalchemy.engine import Engine

from bridge.errors import ToolError
from bridge.store.store import TABLES
from bridge.tools.spec import Kind, tool

MAX_SCRATCHPAD = 8_000
MAX_VALUE = 2_000
MAX_NOTE = 4_000
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


class MemoryStore:
    def __init__(self, *, engine: Engine, shop: str) -> None:
        self.engine = engine
        self.shop = shop
        self.fts = False
        if engine.dialect.name == "sqlite":
            try:
                with engine.begin() as conn:
                    conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS memory_note_fts "
                                      "USING fts5(text, tags, shop UNINDEXED)"))
                self.fts = True
            except Exception:  # a SQLite built without FTS5: the word score serves
                self.fts = False

    # --- scratchpad -------------------------------------------------------------------------
    def scratchpad(self) -> str:
        t = TABLES["memory_scratchpad"]
        with self.engine.connect() as conn:
            found = conn.execute(select(t.c.text).where(t.c.shop == self.shop)).scalar()
        return str(found or "")

    def set_scratchpad(self, value: str, now: datetime) -> None:
        t = TABLES["memory_scratchpad"]
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.shop == self.shop))
            conn.execute(insert(t), [{"shop": self.shop, "text": value, "updated_at": now}])

    # --- key-value --------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        t = TABLES["memory_kv"]
        with self.engine.connect() as conn:
            found = conn.execute(select(t.c.value).where(t.c.shop == self.shop, t.c.key == key)).scalar()
        return None if found is None else str(found)

    def put(self, key: str, value: str, now: datetime) -> None:
        t = TABLES["memory_kv"]
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.shop == self.shop, t.c.key == key))
            conn.execute(insert(t), [{"shop": self.shop, "key": key, "value": value, "updated_at": now}])

    def remove(self, key: str) -> bool:
        t = TABLES["memory_kv"]
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(t).where(t.c.shop == self.shop, t.c.key == key)).rowcount)

    def keys(self) -> list[str]:
        t = TABLES["memory_kv"]
        with self.engine.connect() as conn:
            return [str(k) for k in conn.execute(select(t.c.key).where(t.c.shop == self.shop).order_by(t.c.key))
                    .scalars()]

    # --- notes ------------------------------------------------------------------------------
    def add_note(self, body: str, tags: str, now: datetime) -> int:
        t = TABLES["memory_note"]
        with self.engine.begin() as conn:
            note_id = int(conn.execute(insert(t).values(shop=self.shop, ts=now, text=body, tags=tags)
                                       .returning(t.c.id)).scalar_one())
            if self.fts:
                conn.execute(text("INSERT INTO memory_note_fts (rowid, text, tags, shop) VALUES (:i, :t, :g, :s)"),
                             {"i": note_id, "t": body, "g": tags, "s": self.shop})
        return note_id

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        words = [w.lower() for w in _WORD.findall(query)][:12]
        if not words:
            return []
        t = TABLES["memory_note"]
        with self.engine.connect() as conn:
            if self.fts:
                match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
                rows = conn.execute(text(
                    "SELECT n.id, n.ts, n.text, n.tags, bm25(memory_note_fts) AS rank FROM memory_note_fts "
                    "JOIN memory_note n ON n.id = memory_note_fts.rowid "
                    "WHERE memory_note_fts MATCH :q AND memory_note_fts.shop = :s "
                    "ORDER BY rank, n.id DESC LIMIT :n"), {"q": match, "s": self.shop, "n": limit}).all()
                return [{"note_id": r.id, "text": r.text, "tags": r.tags, "score": round(-float(r.rank), 4)}
                        for r in rows]
            hay = func.lower(t.c.text + " " + t.c.tags)
            score = sum((case((hay.contains(w, autoescape=True), 1), else_=0) for w in words), start=literal(0))
            stmt = (select(t.c.id, t.c.text, t.c.tags, score.label("score")).where(t.c.shop == self.shop)
                    .where(or_(*(hay.contains(w, autoescape=True) for w in words)))
                    .order_by(score.desc(), t.c.id.desc()).limit(limit))
            return [{"note_id": r.id, "text": r.text, "tags": r.tags, "score": float(r.score)}
                    for r in conn.execute(stmt)]

    def recent_notes(self, limit: int) -> list[dict[str, Any]]:
        t = TABLES["memory_note"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.text, t.c.tags).where(t.c.shop == self.shop)
                                .order_by(t.c.id.desc()).limit(limit)).all()
        return [{"note_id": r.id, "text": r.text, "tags": r.tags} for r in rows]


class MemoryTools:
    """The memory tool group. `now` is the shop's clock (simulated or real)."""

    def __init__(self, *, memory: MemoryStore, now: Callable[[], datetime]) -> None:
        self.memory = memory
        self.now = now

    @tool(Kind.READ, minutes=1)
    def read_scratchpad(self) -> dict[str, str]:
        """Read your scratchpad: free text you keep for yourself across days (plans, lessons)."""
        return {"scratchpad": self.memory.scratchpad()}

    @tool(Kind.WRITE, minutes=1, guard="allow")
    def write_scratchpad(self, text: str, mode: str = "replace") -> dict[str, Any]:
        """Write your scratchpad. Older conversation is forgotten as days pass; this is not.

        Args:
            text: what to write.
            mode: "replace" the scratchpad, or "append" to it.
        """
        if mode not in ("replace", "append"):
            raise ToolError('mode must be "replace" or "append"')
        value = (self.memory.scratchpad() + "\n" + text).strip() if mode == "append" else text
        if len(value) > MAX_SCRATCHPAD:
            raise ToolError(f"the scratchpad holds at most {MAX_SCRATCHPAD} characters; tidy it up")
        self.memory.set_scratchpad(value, self.now())
        return {"chars": len(value)}

    @tool(Kind.READ, minutes=1)
    def get_memory(self, key: str = "") -> dict[str, Any]:
        """Read a value from your key-value memory; with no key, list the keys.

        Args:
            key: the key; empty to list every key.
        """
        if not key:
            return {"keys": self.memory.keys()}
        value = self.memory.get(key)
        if value is None:
            raise ToolError(f"no memory under {key!r}")
        return {"key": key, "value": value}

    @tool(Kind.WRITE, minutes=1, guard="allow")
    def set_memory(self, key: str, value: str) -> dict[str, Any]:
        """Store a value under a key in your key-value memory (an empty value deletes the key).

        Args:
            key: a short name such as "supplier:quickmart:lead_time".
            value: the value, as text.
        """
        if not key.strip() or len(key) > 200:
            raise ToolError("a key is 1 to 200 characters")
        if not value:
            return {"key": key, "deleted": self.memory.remove(key)}
        if len(value) > MAX_VALUE:
            raise ToolError(f"a value holds at most {MAX_VALUE} characters")
        self.memory.put(key, value, self.now())
        return {"key": key, "stored": True}

    @tool(Kind.WRITE, minutes=1, guard="allow")
    def add_note(self, text: str, tags: str = "") -> dict[str, Any]:
        """Keep a note you can find later with search_notes (what happened, what worked).

        Args:
            text: the note.
            tags: optional words to find it by, space separated.
        """
        if not text.strip():
            raise ToolError("an empty note")
        if len(text) > MAX_NOTE:
            raise ToolError(f"a note holds at most {MAX_NOTE} characters")
        return {"note_id": self.memory.add_note(text, tags, self.now())}

    @tool(Kind.READ, minutes=1)
    def search_notes(self, query: str, limit: int = 5) -> list[dict[str, Any]]:
        """Find your notes by words, most relevant first.

        Args:
            query: words to look for.
            limit: how many notes at most, 1 to 20.
        """
        if not 1 <= limit <= 20:
            raise ToolError("limit must be between 1 and 20")
        return self.memory.search(query, limit)
