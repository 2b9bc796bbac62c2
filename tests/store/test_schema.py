"""One schema two ways: alembic's migrations and the Store's own create build the same tables, on
SQLite and on a real PostgreSQL; `vend db upgrade` migrates; a whole simulated month runs on Postgres."""

from __future__ import annotations

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text

from bridge.cli import main
from bridge.errors import ConfigError
from bridge.store import Store
from bridge.store.migrate import HEAD, MIGRATIONS, upgrade
from bridge.store.store import TABLES


def models() -> MetaData:
    md = MetaData()
    for table in TABLES.values():
        table.to_metadata(md)
    return md


def schema_diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), models())
    finally:
        engine.dispose()


def test_head_constant_is_the_newest_migration() -> None:
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    assert upgrade(db_url) == HEAD
    assert schema_diff(db_url) == []
    # and the Store opens a migrated database as it is
    store = Store(url=db_url)
    assert store.schema == "current"
    store.close()


def test_the_store_creates_the_same_schema_and_stamps_it(db_url: str, capsys) -> None:
    store = Store(url=db_url)
    assert store.schema == "created"
    store.close()
    assert schema_diff(db_url) == []
    assert main(["db", "current", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == HEAD
    assert main(["db", "upgrade", "--db", db_url]) == 0  # already at head: nothing to do, no error
    assert f"revision {HEAD}" in capsys.readouterr().out


def test_migrations_go_down_and_up_again(db_url: str) -> None:
    upgrade(db_url)
    from alembic import command

    from bridge.store.migrate import alembic_config

    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(db_url, conn), "base")  # type: ignore[arg-type]
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert upgrade(db_url) == HEAD and schema_diff(db_url) == []


def test_a_database_from_a_newer_release_is_refused(db_url: str) -> None:
    Store(url=db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="revision 9999"):
        Store(url=db_url)


def test_db_commands_need_a_url_and_report_a_bad_one_in_one_line(capsys, monkeypatch) -> None:
    monkeypatch.delenv("VEND_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 2
    assert "VEND_DB_URL" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "secret" not in err


def test_a_simulated_month_on_postgres_keeps_books_that_balance(postgres_server, tmp_path, capsys) -> None:
    url = postgres_server.create_database("sim")
    assert main(["sim", "--days", "30", "--seed", "3", "--db", url, "--out", str(tmp_path), "--name", "pg",
                 "--no-charts", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    store = Store(url=url)
    closes = store.rows("day_close")
    assert len(closes) == 30 and all(r["ts"].tzinfo is not None for r in closes)
    assert max(closes, key=lambda r: r["day"])["net_worth_cents"] == summary["net_worth_cents"]
    assert store.scalar("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_line WHERE debit = 'bank'") - store.scalar(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_line WHERE credit = 'bank'") == summary["bank_cents"]
    assert store.scalar("SELECT COUNT(*) FROM audit_log") == summary["tool_calls"]
    store.close()
