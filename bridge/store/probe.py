"""Checks of a store a user names (`--db URL`) before any work: a URL that parses, a database that
answers, and, for a new run, a store that holds no run yet. Each failure is a one-line ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import ConfigError

CONNECT_TIMEOUT_S = 5


def parse_url(db_url: str) -> URL:
    try:
        url = make_url(db_url)
        url.get_dialect()  # an unknown driver is a bad URL too
    except Exception:
        raise ConfigError(f"not a database URL: {db_url!r} (e.g. sqlite:///runs/vend.db or "
                          "postgresql+psycopg://user@host/db)") from None
    return url


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def first_line(err: BaseException) -> str:
    """A database error's own first line, without SQLAlchemy's wrapping."""
    inner = getattr(err, "orig", None) or err
    lines = [ln.strip() for ln in str(inner).splitlines() if ln.strip()]
    return lines[0] if lines else type(inner).__name__


def check_new_run_store(db_url: str) -> None:
    """The store a new run will write: reachable, and holding no run (a second run in the same store
    would start from the first one's books and report nonsense)."""
    url = parse_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"--db {masked(url)}: no folder {folder}")
    args: dict[str, Any] = {} if url.get_backend_name() == "sqlite" else {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = create_engine(url, connect_args=args)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            names = set(inspect(conn).get_table_names())
            for table in ("run_info", "ledger_line"):
                if table in names and conn.execute(select(text("1")).select_from(text(table)).limit(1)).first():
                    raise ConfigError(f"--db {masked(url)} already holds a run (its {table} table has rows); give "
                                      "an empty database, or leave --db out for a store in the run folder")
    except SQLAlchemyError as err:
        raise ConfigError(f"--db {masked(url)}: {first_line(err)}") from None
    finally:
        engine.dispose()
