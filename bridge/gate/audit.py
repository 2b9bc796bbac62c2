"""`vend gate --store URL`: the gate's audit of the books (bridge/gate/checks.py) on an existing
store, live or simulated, against the gate's guardrails file.

The store is only read: one that is missing, not a vendbridge store, or at another schema
revision is a one-line error (migrating is `vend db upgrade`'s job, not an audit's). Days are the
shop's local days: `--tz`, else the newest live or shadow run's [bridge] tz, else UTC (a
simulated store does not record its scenario's zone: give `--tz`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.errors import ConfigError
from bridge.gate.checks import Breach, find_breaches
from bridge.guardrails import GuardrailPolicy


@dataclass(slots=True, kw_only=True)
class StoreAudit:
    store: str  # the URL, password masked
    tz: str
    start: str  # the first local day (day 1 of the breaches' `day`)
    guardrails: str
    count: int
    breaches: list[Breach] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"store": self.store, "tz": self.tz, "start": self.start, "guardrails": self.guardrails,
                "passed": self.count == 0, "breaches": self.count, "breach_list": [b.to_json() for b in self.breaches]}


def masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def open_existing(url: str) -> Any:
    """A Store on an existing vendbridge database at the current schema, without changing it."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.store import Store
    from bridge.store.migrate import HEAD, current_revision

    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and (not parsed.database or not Path(parsed.database).is_file()):
        raise ConfigError(f"no store at {parsed.database or url}")
    try:
        engine = create_engine(url)  # plain: no pragmas, nothing written
    except Exception as err:  # an unknown dialect or driver
        raise ConfigError(f"store {masked(url)}: {err}".splitlines()[0]) from None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("ledger_line"):
                raise ConfigError(f"{masked(url)} is not a vendbridge store (no ledger_line table)")
            rev = current_revision(conn)
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise ConfigError(f"store {masked(url)}: {detail}") from None
    finally:
        engine.dispose()
    if rev != HEAD:
        raise ConfigError(f"store {masked(url)} is at schema revision {rev or 'none'}, this release reads {HEAD}: "
                          "run `vend db upgrade` first (or audit with the release that wrote it)")
    return Store(url=url)  # at the head revision: opening it changes nothing


def _store_tz(store: Any) -> str:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT settings_json FROM run_info WHERE mode IN ('live', 'shadow') "
                                "ORDER BY started_at DESC LIMIT 1")).first()
    try:
        settings = json.loads(row[0]) if row else {}
    except ValueError:
        settings = {}
    tz = settings.get("bridge", {}).get("tz", "") if isinstance(settings, dict) else ""
    return tz if isinstance(tz, str) and tz else "UTC"


def _first_day(store: Any, tz: tzinfo) -> date:
    from sqlalchemy import func, select

    from bridge.store.store import TABLES

    firsts = []
    with store.engine.connect() as conn:
        for table, col in (("ledger_line", "ts"), ("run_info", "started_at"), ("audit_log", "ts")):
            v = conn.execute(select(func.min(TABLES[table].c[col]))).scalar()
            if v is not None:
                firsts.append(v if v.tzinfo else v.replace(tzinfo=UTC))
    return min(firsts).astimezone(tz).date() if firsts else datetime.now(tz).date()


def audit_store(url: str, *, guardrails: Path | None, tz: str = "") -> StoreAudit:
    rules = GuardrailPolicy.load(guardrails) if guardrails is not None else GuardrailPolicy()
    store = open_existing(url)
    try:
        zone_name = tz or _store_tz(store)
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {zone_name!r}") from None
        start = _first_day(store, zone)
        count, listed = find_breaches(store, rules, tz=zone, start=start)
    finally:
        store.engine.dispose()
    return StoreAudit(store=masked(url), tz=zone_name, start=start.isoformat(),
                      guardrails=str(guardrails) if guardrails else "built-in", count=count, breaches=listed)
