"""Schema versions of the store (alembic; scripts in bridge/store/migrations).

`ensure_schema` is what the Store calls on opening a database, and it is cheap: a fresh database
gets every table from the models plus the head revision stamp in one transaction (no alembic
import: the simulator opens thousands of them); a database at the head revision is left alone;
one at an older revision is upgraded by alembic; one from a newer release is refused. A test
checks that the migrations build exactly the models' schema, so both roads lead to one schema.
`vend db upgrade --db URL` runs `upgrade` by hand (deploys do it before a restart).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, inspect, select
from sqlalchemy.engine import Connection, Engine

from bridge.errors import ConfigError

HEAD = "0008"  # the newest revision in migrations/versions (a test keeps the two in step)
MIGRATIONS = Path(__file__).parent / "migrations"
_VERSION = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))


def alembic_config(url: str, connection: Connection | None = None) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(select(_VERSION.c.version_num)).scalar()


def ensure_schema(engine: Engine, tables: list[Table]) -> str:
    """Bring the database to the head revision; returns what was done: created, current, upgraded."""
    with engine.begin() as conn:
        rev = current_revision(conn)
        if rev == HEAD:
            return "current"
        if rev is None:
            for table in tables:
                table.create(conn, checkfirst=True)
            _VERSION.create(conn, checkfirst=True)
            conn.execute(_VERSION.insert(), [{"version_num": HEAD}])
            return "created"
    if rev not in known_revisions():
        raise ConfigError(f"the database is at schema revision {rev}, which this release does not know "
                          f"(newest known: {HEAD}); upgrade vendbridge")
    upgrade(engine.url.render_as_string(hide_password=False))
    return "upgraded"


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return {r.revision for r in script.walk_revisions()}


def upgrade(url: str, revision: str = "head") -> str:
    """Run the migrations up to `revision`; returns the revision the database is at afterwards."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(url, conn), revision)  # type: ignore[arg-type]
        with engine.connect() as conn:
            return current_revision(conn) or ""
    finally:
        engine.dispose()
