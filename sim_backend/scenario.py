"""Scenarios as TOML files, validated at the edge (pydantic) into one frozen object."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bridge.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MachineSpec(_Strict):
    id: str = "m1"
    rows: int = Field(4, ge=1, le=10)
    columns: int = Field(3, ge=1, le=10)
    small_rows: int = Field(2, ge=0, le=10)
    small_capacity: int = Field(15, ge=1, le=100)
    large_capacity: int = Field(10, ge=1, le=100)
    card_share: float = Field(0.75, ge=0.0, le=1.0)


class SupplierSpec(_Strict):
    id: str
    name: str
    archetype: Literal["honest"] = "honest"
    categories: list[str]
    price_factor: float = Field(1.0, gt=0.1, le=10.0)
    lead_time_days: int = Field(2, ge=0, le=60)
    min_order_cents: int = Field(0, ge=0)
    volume_discount_units: int = Field(48, ge=1)
    volume_discount: float = Field(0.05, ge=0.0, lt=1.0)
    negotiable_pct: float = Field(0.03, ge=0.0, lt=0.5)


class WorldSpec(_Strict):
    sales_hour: int = Field(21, ge=1, le=23)
    delivery_hour: int = Field(10, ge=0, le=23)
    restock_delay_minutes: int = Field(90, ge=1)
    collect_delay_minutes: int = Field(60, ge=1)
    mean_celsius: float = 14.0
    swing_celsius: float = 9.0


class Scenario(_Strict):
    name: str
    description: str = ""
    days: int = Field(365, ge=1, le=3650)
    start: date = date(2026, 1, 5)
    timezone: str = "America/Los_Angeles"
    starting_cash_cents: int = Field(50_000, ge=0)
    daily_fee_cents: int = Field(200, ge=0)
    bankruptcy_days: int = Field(10, ge=1)
    max_messages: int = Field(2_000, ge=1)
    score: Literal["net_worth", "bank"] = "net_worth"
    catalogue: str = ""  # path to a products CSV; empty: the shipped one
    machine: MachineSpec = Field(default_factory=MachineSpec)
    world: WorldSpec = Field(default_factory=WorldSpec)
    suppliers: list[SupplierSpec]

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


BUILTIN = ("vb1",)


def load_scenario(name_or_path: str, **overrides: Any) -> Scenario:
    """A built-in name (`vb1`) or a path to a TOML file. Errors are one clear line."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text()
        except OSError as err:
            raise ConfigError(f"scenario file {name_or_path}: {err.strerror}") from None
        source = str(path)
    else:
        res = resources.files("sim_backend").joinpath(f"scenarios/{name_or_path}.toml")
        if not res.is_file():
            known = sorted(p.name[:-5] for p in resources.files("sim_backend").joinpath("scenarios").iterdir()
                           if p.name.endswith(".toml"))
            raise ConfigError(f"unknown scenario {name_or_path!r} (built in: {', '.join(known)})")
        text = res.read_text()
        source = f"{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: {err}") from None
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "scenario"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None
