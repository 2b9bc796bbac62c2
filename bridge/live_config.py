"""`vend live --config FILE`: the live settings, one TOML file validated by pydantic.

Each adapter owns one section; a section the file leaves out is an adapter not wired. `slack`,
`stripe` and `llm` are placeholders that their own issues replace with real models (add a section:
a model here, a field on `LiveConfig`, its wiring in bridge/compose_live.py). Secrets never sit in the
file: a section names the environment variable that holds them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError

MachineId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BridgeSection(_Section):
    shop: str = "main"
    db: str = "sqlite:///vend-live.db"
    tz: str = "UTC"
    max_batch: Annotated[int, Field(gt=0, le=100_000)] = 2000
    max_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 50

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class MqttSection(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1883
    username: str = "bridge"
    password_env: str = "VEND_MQTT_PASSWORD"
    client_id: str = "vendbridge"
    session_expiry_s: Annotated[int, Field(gt=0)] = 7 * 86_400
    receive_maximum: Annotated[int, Field(gt=0, le=65_535)] = 1000
    command_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    reconnect_max_s: Annotated[int, Field(gt=0, le=600)] = 5
    max_payload_bytes: Annotated[int, Field(gt=0, le=262_144)] = 64 * 1024

    def password(self) -> str:
        value = os.environ.get(self.password_env, "")
        if not value:
            raise ConfigError(f"mqtt: set the broker password in the environment variable {self.password_env}")
        return value


class MachineSection(_Section):
    id: MachineId
    planogram: dict[str, str] = Field(default_factory=dict)  # slot -> sku
    slot_capacity: Annotated[int, Field(gt=0, le=1000)] = 10


class LiveConfig(_Section):
    bridge: BridgeSection = Field(default_factory=BridgeSection)
    mqtt: MqttSection | None = None
    machines: list[MachineSection] = Field(default_factory=list)
    slack: dict[str, Any] | None = None  # its own issue gives it a model
    stripe: dict[str, Any] | None = None
    llm: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _machines_need_a_broker(self) -> LiveConfig:
        ids = [m.id for m in self.machines]
        if len(set(ids)) != len(ids):
            raise ValueError("machine ids must be unique")
        if "bridge" in ids:
            raise ValueError("'bridge' is the bridge's own broker user, not a machine id")
        if self.machines and self.mqtt is None:
            raise ValueError("machines need an [mqtt] section")
        return self

    @classmethod
    def load(cls, path: str | Path) -> LiveConfig:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
            raise ConfigError(f"{path}: {where}: {first['msg']}{more}") from None
