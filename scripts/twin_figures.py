"""The digital twin's figures (issue 20): for seeds of a test-chosen world (sim_backend/calibrate/truth.py)
with DAYS of history made by `vend sim`'s composition and the baseline, each parameter's true value,
estimate and 90% interval, the share of intervals that hold the truth, and the forecast error on the
last 4 weeks held out (twin against the base scenario); and the wall time of a calibration from a
year of one machine's history.

    .venv/bin/python scripts/twin_figures.py [--seeds 1,2,3] [--days 90] [--out runs/twin-figures] [--no-year]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.compose.sim import build_sim  # noqa: E402
from bridge.settings import SimSettings  # noqa: E402
from sim_backend.calibrate import calibrate, load_history, open_history_db  # noqa: E402
from sim_backend.calibrate.check import check_twin  # noqa: E402
from sim_backend.calibrate.truth import write_truth  # noqa: E402
from sim_backend.catalogue import load_catalogue  # noqa: E402
from sim_backend.scenario import load_scenario  # noqa: E402


def make_history(folder: Path, *, seed: int, days: int, scenario: str) -> str:
    """Runs the baseline in `scenario` for `days` days; returns the store's URL."""
    sim = build_sim(SimSettings(scenario=scenario, days=days, seed=seed, out_dir=folder, run_name=f"history-s{seed}",
                                charts=False, events_log=False))
    try:
        sim.run()
    finally:
        sim.store.close()
    return f"sqlite:///{sim.run_dir / 'vend.db'}"


def coverage(cal: object, truth: dict[str, float]) -> tuple[int, int, list[tuple[str, float, float, float, float,
                                                                                str]]]:
    rows = []
    held = total = 0
    for e in cal.estimates:  # type: ignore[attr-defined]
        if e.method == "base" or e.name not in truth:
            continue
        total += 1
        held += e.covers(truth[e.name])
        rows.append((e.name, truth[e.name], e.value, e.low, e.high, e.method))
    return held, total, rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--out", type=Path, default=Path("runs/twin-figures"))
    ap.add_argument("--no-year", action="store_true")
    args = ap.parse_args()
    out = args.out
    truth = write_truth(out, days=args.days + 28)
    base = load_scenario("vb1")
    catalogue = load_catalogue(None)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        url = make_history(out, seed=seed, days=args.days + 28, scenario=str(out / "truth.toml"))
        engine = open_history_db(url)
        history = load_history(engine, base=base)
        engine.dispose()
        fit_history = history.until(history.first_day.fromordinal(history.first_day.toordinal() + args.days - 1))
        cal = calibrate(url, history=fit_history)
        held, total, rows = coverage(cal, truth)
        report = check_twin(history, weeks=4, base=base, base_name="vb1", catalogue=catalogue)
        (tm, tw), (bm, bw) = report.errors("twin"), report.errors("base")
        print(f"\n== seed {seed}: {args.days} days fitted ({fit_history.first_day}..{fit_history.last_day}); "
              f"{held}/{total} = {held / total:.0%} of 90% intervals hold the truth")
        print(f"{'parameter':<48} {'truth':>8} {'estimate':>9} {'90% interval':>18}  how")
        for name, t, v, lo, hi, how in rows:
            mark = "" if lo <= t <= hi else "  MISS"
            print(f"{name:<48} {t:>8.3f} {v:>9.3f} {f'{lo:.3f}..{hi:.3f}':>18}  {how}{mark}")
        print(f"held-out 4 weeks ({report.held_out[0]}..{report.held_out[1]}, fit on {report.fit_days[0]}.."
              f"{report.fit_days[1]}): MAE per product-week twin {tm:.2f} vs base {bm:.2f}; "
              f"WAPE twin {tw:.1%} vs base {bw:.1%}")
        results.append({"seed": seed, "covered": held, "intervals": total, "twin_mae": tm, "base_mae": bm,
                        "twin_wape": tw, "base_wape": bw})
    if not args.no_year:
        url = make_history(out, seed=11, days=365, scenario="vb1")
        t0 = time.perf_counter()
        cal = calibrate(url)
        seconds = time.perf_counter() - t0
        print(f"\n== a year of one machine's history ({cal.history.days} days, "
              f"{sum(cal.history.daily_units.values()):,} units): calibration took {seconds:.2f} s wall")
        results.append({"year_calibration_seconds": seconds})
    (out / "figures.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
