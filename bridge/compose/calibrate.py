"""`vend calibrate`'s entry point: a digital twin of a shop, fitted from its store's history
(sim_backend/calibrate), written as a scenario; with --check, the twin's forecasts of held-out weeks
against the base scenario's, as a table and a chart in a run folder."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path


def run_calibrate_command(args: argparse.Namespace) -> int:
    from bridge.errors import ConfigError
    from sim_backend.calibrate import load_history, open_history_db, summary_lines, write_twin
    from sim_backend.calibrate.check import check_twin, table_lines, write_chart
    from sim_backend.calibrate.twin import calibrate_history
    from sim_backend.catalogue import load_catalogue
    from sim_backend.scenario import load_scenario

    if not args.check and args.out is None:
        raise ConfigError("give --out FILE.toml (or --check)")
    if args.out is not None and args.out.suffix != ".toml":
        raise ConfigError(f"--out must name a .toml file, not {args.out}")
    base = load_scenario(args.base)
    catalogue = load_catalogue(base.catalogue or None)
    engine = open_history_db(args.db)
    try:
        history = load_history(engine, base=base, shop=args.shop, tz=args.tz)
    finally:
        engine.dispose()
    if args.check:
        report = check_twin(history, weeks=args.holdout_weeks, base=base, base_name=args.base, catalogue=catalogue)
        run_dir = args.runs / f"calibrate-check-{datetime.now().astimezone():%Y%m%d-%H%M%S}"
        run_dir.mkdir(parents=True, exist_ok=True)
        chart = write_chart(report, run_dir / "holdout.png")
        (run_dir / "holdout.json").write_text(json.dumps(report.as_dict(), indent=1))
        lines = table_lines(report)
        (run_dir / "holdout.txt").write_text("\n".join(lines) + "\n")
        if args.json:
            print(json.dumps({**report.as_dict(), "run_dir": str(run_dir), "chart": str(chart)}))
        else:
            print("\n".join(lines))
            print(f"chart: {chart}")
        return 0
    cal = calibrate_history(history, base=base, base_name=args.base, catalogue=catalogue)
    scenario, products, report_path = write_twin(cal, Path(args.out))
    if args.json:
        print(json.dumps({"scenario": str(scenario), "products": str(products), "report": str(report_path),
                          **json.loads(report_path.read_text())}))
    else:
        print("\n".join(summary_lines(cal)))
        print(f"wrote {scenario} (catalogue {products.name}, every estimate in {report_path.name})")
    for note in cal.notes:
        if note.startswith("little data"):
            print(f"vend calibrate: {note}", file=sys.stderr)
    return 0
