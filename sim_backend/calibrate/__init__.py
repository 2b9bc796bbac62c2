"""A digital twin: the simulator calibrated from a shop's own history (issue 20).

`calibrate` reads a store (sim or live: the same schema) and fits the demand model and the world
around the shop, each estimate with a 90% interval and the base scenario as its prior; `write_twin`
writes the scenario; `check_twin` (sim_backend.calibrate.check) measures the twin's forecasts on
held-out weeks against the base scenario's.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import ConfigError
from sim_backend.calibrate.history import History, read_history
from sim_backend.calibrate.twin import Calibration, calibrate_history, summary_lines, write_twin
from sim_backend.catalogue import load_catalogue
from sim_backend.scenario import Scenario, load_scenario

__all__ = ["Calibration", "calibrate", "load_history", "open_history_db", "summary_lines", "write_twin"]


def open_history_db(url: str) -> Engine:
    """The store's database, to read (nothing is created: a missing SQLite file is an error)."""
    try:
        parsed = make_url(url)
    except SQLAlchemyError:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ConfigError(f"no store at {url}: no such file")
    try:
        return create_engine(url)
    except (SQLAlchemyError, ImportError) as err:
        raise ConfigError(f"cannot open {url}: {str(err).splitlines()[0]}") from None


def load_history(engine: Engine, *, base: Scenario, shop: str = "main", tz: str = "") -> History:
    try:
        zone = ZoneInfo(tz or base.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r}") from None
    refs = {sku: e.product.reference_price_cents for sku, e in load_catalogue(base.catalogue or None).items()}
    try:
        return read_history(engine, shop=shop, tz=zone, sales_hour=base.world.sales_hour, refs=refs)
    except SQLAlchemyError as err:
        raise ConfigError(f"not a readable store: {str(getattr(err, 'orig', err)).strip().splitlines()[0]}") \
            from None


def calibrate(url: str, *, base_name: str = "vb1", shop: str = "main", tz: str = "",
              history: History | None = None) -> Calibration:
    base = load_scenario(base_name)
    if history is None:
        engine = open_history_db(url)
        try:
            history = load_history(engine, base=base, shop=shop, tz=tz)
        finally:
            engine.dispose()
    catalogue = load_catalogue(base.catalogue or None)
    return calibrate_history(history, base=base, base_name=base_name, catalogue=catalogue)

