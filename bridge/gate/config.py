"""The rollout gate's config file (`ops/gate.toml`), validated at the edge with one-line errors.

Paths in the file (scenario files, guardrail files, scripts named as `scripted:FILE`) are taken
relative to the file itself, so a gate runs the same from any working directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.errors import ConfigError, invalid


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioEntry(_Strict):
    name: str = Field(min_length=1)  # built-in scenario or a TOML file
    days: int | None = Field(None, ge=1, le=3650)
    min_mean_score_cents: int | None = None  # overrides the rule for this scenario


class Rules(_Strict):
    min_mean_score_cents: int = 0  # the mean score over seeds of each scenario must reach this
    no_bankruptcy: bool = True
    max_guardrail_breaches: int = Field(0, ge=0)  # WRITEs that got through but should have been refused
    max_refusals: int | None = Field(None, ge=0)  # refused WRITEs per run; not checked when absent
    max_coherence_errors: int = Field(0, ge=0)  # per run, as the LLM shopkeeper's summary counts them
    max_cost_per_day_cents: float = Field(0.0, ge=0.0)  # LLM spend per simulated day, per run


class GateFile(_Strict):
    policy: str = Field("baseline", min_length=1)
    model: str = ""  # policy llm: the model (empty: the default); part of the verdict's fingerprint
    guardrails: str = ""  # the rules the audit checks (and the runs enforce); empty: built-in defaults
    enforced_guardrails: str = ""  # what the runs enforce, if not the same file (testing the gate itself)
    seeds: int = Field(2, ge=1, le=10_000)
    first_seed: int = Field(0, ge=0)
    days: int | None = Field(None, ge=1, le=3650)
    workers: int = Field(0, ge=0)  # 0: every core
    scenarios: list[ScenarioEntry] = Field(min_length=1)
    rules: Rules = Field(default_factory=Rules)

    @model_validator(mode="after")
    def _distinct(self) -> GateFile:
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ValueError("each scenario may appear once")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class GateScenario:
    name: str  # as written in the file, for reports
    source: str  # what build_sim is given: a built-in name or an absolute path
    days: int | None
    min_mean_score_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GateConfig:
    path: Path
    policy: str
    model: str
    guardrails: Path | None
    enforced_guardrails: Path | None
    seeds: tuple[int, ...]
    workers: int
    scenarios: tuple[GateScenario, ...]
    rules: Rules


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (base / p)


def load_gate(path: str | Path) -> GateConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"gate config not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"gate config {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"gate config {path}: {err}") from None
    try:
        f = GateFile.model_validate(raw)
    except ValidationError as err:
        raise invalid(f"gate config {path}", err, top="gate") from None
    base = path.parent
    guard = _resolve(base, f.guardrails) if f.guardrails else None
    enforced = _resolve(base, f.enforced_guardrails) if f.enforced_guardrails else guard
    for label, p in (("guardrails", guard), ("enforced_guardrails", enforced)):
        if p is not None and not p.is_file():
            raise ConfigError(f"gate config {path}: {label}: no such file {p}")
    policy = f.policy
    if policy.startswith("scripted:"):
        script = _resolve(base, policy.removeprefix("scripted:"))
        if not script.is_file():
            raise ConfigError(f"gate config {path}: policy: no such script {script}")
        policy = f"scripted:{script}"
    scenarios = []
    for s in f.scenarios:
        source = s.name
        if s.name.endswith(".toml"):
            file = _resolve(base, s.name)
            if not file.is_file():
                raise ConfigError(f"gate config {path}: scenarios: no such scenario file {file}")
            source = str(file)
        scenarios.append(GateScenario(
            name=s.name, source=source, days=s.days or f.days,
            min_mean_score_cents=f.rules.min_mean_score_cents if s.min_mean_score_cents is None
            else s.min_mean_score_cents))
    return GateConfig(path=path, policy=policy, model=f.model, guardrails=guard, enforced_guardrails=enforced,
                      seeds=tuple(range(f.first_seed, f.first_seed + f.seeds)), workers=f.workers,
                      scenarios=tuple(scenarios), rules=f.rules)
