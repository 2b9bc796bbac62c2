"""One frozen settings object, built at the composition root. Secrets come only from the
environment and are never logged (their repr is masked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    scenario: str = "vb1"
    days: int | None = None
    seed: int = 7
    policy: str = "baseline"
    db_url: str = ""  # empty: a SQLite file in the run folder
    out_dir: Path = Path("runs")
    run_name: str = ""
    guardrails_path: Path | None = None
    charts: bool = True
    events_log: bool = True
    model: str = ""
    llm: Any = None  # bridge.llm.settings.LlmSettings for --policy llm (typed Any: no LLM import on other paths)
    llm_client: Any = None  # an LLM port to use instead of the Anthropic adapter (tests)
    extra: dict[str, str] = field(default_factory=dict)
