"""Histories made by `vend sim`'s composition in a world whose parameters a test chose."""

from __future__ import annotations

from pathlib import Path

from bridge.compose.sim import build_sim
from bridge.settings import SimSettings
from sim_backend.calibrate.truth import write_truth

FIT_DAYS = 90
HELD_OUT_WEEKS = 4


def make_history(folder: Path, *, seed: int, days: int, scenario: str | None = None,
                 db_url: str = "") -> tuple[str, dict[str, float]]:
    """The baseline run for `days` days in the truth world (or `scenario`); returns the store's URL and
    the truth."""
    truth = write_truth(folder, days=days)
    sim = build_sim(SimSettings(scenario=scenario or str(folder / "truth.toml"), days=days, seed=seed,
                                out_dir=folder, run_name=f"history-s{seed}-{days}", db_url=db_url, charts=False,
                                events_log=False))
    try:
        sim.run()
    finally:
        sim.store.close()
    return db_url or f"sqlite:///{sim.run_dir / 'vend.db'}", truth
